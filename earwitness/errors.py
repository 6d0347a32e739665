"""The one exception a user sees: a sentence that says what is wrong and where, no traceback."""


class EarwitnessError(Exception):
    """Bad input or configuration, explained for the person who has to fix it."""
