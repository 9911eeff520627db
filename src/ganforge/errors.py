"""Errors a user can cause; the CLI prints them as one line, never a traceback."""


class GanforgeError(Exception):
    """Base class: anything raised as this is the user's to fix, and its message says how."""


class ConfigError(GanforgeError):
    """An unknown key, a bad value or a malformed config file."""


class DataError(GanforgeError):
    """Missing, unreadable or malformed data."""


class CheckpointError(GanforgeError):
    """A missing, corrupt or incompatible checkpoint or run directory."""


class ExportError(GanforgeError):
    """A generator that cannot be exported, or an exported model that cannot be used."""
