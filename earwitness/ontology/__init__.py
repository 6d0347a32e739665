"""The AudioSet graph, the class policy, and per-segment label filtering."""

from earwitness.ontology.graph import Ontology, load_ontology
from earwitness.ontology.policy import ClassPolicy, ClassSet, apply_policy, load_policy

__all__ = ["ClassPolicy", "ClassSet", "Ontology", "apply_policy", "load_ontology", "load_policy"]
