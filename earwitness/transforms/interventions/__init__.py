"""The interventions, found through the `earwitness.interventions` entry point group.

Another package adds one by declaring, in its pyproject.toml:

    [project.entry-points."earwitness.interventions"]
    reverse = "mypackage.reverse:Reverse"
"""

from __future__ import annotations

from importlib.metadata import entry_points

from earwitness.errors import EarwitnessError
from earwitness.transforms.interventions.base import Clip, Intervention, Pools, Variant, seeded

GROUP = "earwitness.interventions"

__all__ = ["GROUP", "Clip", "Intervention", "Pools", "Variant", "available", "load", "seeded"]


def available() -> dict[str, type[Intervention]]:
    """Every registered intervention by name, built-in or from another package."""
    found = {}
    for entry in entry_points(group=GROUP):
        cls = entry.load()
        if not (isinstance(cls, type) and issubclass(cls, Intervention)):
            raise EarwitnessError(f"entry point {entry.name} = {entry.value} is not an Intervention subclass")
        found[entry.name] = cls
    return found


def load(names: list[str], **options: dict) -> list[Intervention]:
    registry = available()
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise EarwitnessError(f"unknown interventions {unknown}; registered: {sorted(registry)}")
    return [registry[n](**options.get(n, {})) for n in names]
