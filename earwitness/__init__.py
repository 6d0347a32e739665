"""earwitness: counterfactual audio-visual datasets from AudioSet, built on Apache Beam."""

__version__ = "0.1.0"
