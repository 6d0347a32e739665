"""The stages (prune, acquire, verify, annotate, build, publish, fetch, score) and the command line."""

import logging

# Beam warns at import that apitools is missing (nothing here needs it), and RunInference warns on every
# model load that it cannot read the process's memory use (a metric only): neither is the user's concern.
_BEAM_NOISE = ("apitools not found", "Resource module is not available")
logging.getLogger().addFilter(lambda record: not record.getMessage().startswith(_BEAM_NOISE))
