"""Errors that codeja reports to the user as one paragraph, without a traceback.

Anything raised as a ``CodejaError`` is caught by the CLI, printed as ``error: <message>`` and turned into
its ``exit_code`` (2 for bad input or configuration, 1 for everything else).
"""

from __future__ import annotations


class CodejaError(Exception):
    """A failure codeja can explain; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 1


class ConfigError(CodejaError):
    """A config file or override is missing, malformed, or has unknown / mistyped keys."""

    exit_code = 2


class InputError(CodejaError):
    """A data file is unreadable or a record in it is malformed. Names the file, line and field."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field, self.reason = path, line, field, message
        where = ":".join(str(p) for p in (path, line) if p is not None)
        parts = [where] if where else []
        if field:
            parts.append(f"field '{field}'")
        super().__init__((", ".join(parts) + ": " if parts else "") + message)


class ModelNotFoundError(CodejaError):
    """A model argument names nothing loadable (offline hub id, missing folder, unknown alias)."""

    exit_code = 2
