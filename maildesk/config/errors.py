"""The one error every configuration reader raises: a leaf, so that section readers can
live in their own modules without importing the loader."""


class ConfigError(ValueError):
    """A configuration problem, worded for the admin who has to fix it."""
