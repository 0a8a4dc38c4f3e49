"""Errors a user can cause. Each carries a one-line message and a CLI exit code."""


class DreamcoreError(Exception):
    """Base class for errors reported to the user as one line, without a traceback."""

    exit_code = 2


class ConfigError(DreamcoreError):
    """dreams.toml is missing, unreadable or invalid."""


class PluginError(DreamcoreError):
    """A plugin failed to load, misnamed a hook, or registered something invalid."""


class StoreError(DreamcoreError):
    """The database cannot be opened, read or written."""


class NotFoundError(DreamcoreError):
    """A dream or procedure asked for by id does not exist."""
