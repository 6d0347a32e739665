"""Label Studio: push, pull, two-annotator consensus and agreement (issue #6; nothing here yet)."""
