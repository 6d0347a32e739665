"""The stages (prune, then acquire, verify, build and publish as they land) and the command line."""
