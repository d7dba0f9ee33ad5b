"""Typed errors shared by the resources. Messages never contain secrets (see redaction.py)."""

from __future__ import annotations


class ResourceError(Exception):
    """An external system answered with an error, or could not be reached."""

    system: str = "external system"

    def __init__(self, message: str, *, status: int | None = None, error_code: int | str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code


class Unreachable(ResourceError):
    """No answer at all (connection refused, DNS, timeout) after the retries were spent."""
