"""The four-question verifier: an omni model asked yes/no about each clip, scored from its logits."""
