"""Media operations and the interventions (each a Beam DoFn in a registry, as they land)."""
