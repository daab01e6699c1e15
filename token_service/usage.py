"""The error every command raises for bad arguments (exit 2), kept apart from `cli` so
command modules can import it without importing the whole command line."""


class UsageError(Exception):
    """Bad arguments: exit 2 with the message."""
