"""The stages (prune, acquire, build, score) and the command line."""

import logging

# Beam's GCP module warns at import that apitools is missing; nothing here needs it.
logging.getLogger().addFilter(lambda record: not record.getMessage().startswith("apitools not found"))
