"""ksqlDB's typed errors (shared/reference/ksqldb_oracle.md section 1: error bodies and codes)."""

from __future__ import annotations

from typing import Any

from resources.errors import ResourceError, Unreachable


class KsqlDbError(ResourceError):
    system = "ksqlDB"

    def __init__(self, message: str, *, status: int | None = None, error_code: int | str | None = None, server_message: str | None = None):
        super().__init__(message, status=status, error_code=error_code)
        # ksqlDB's own "message" field, without our prefix: what is_already_exists() and callers match on
        self.server_message = message if server_message is None else server_message


class KsqlDbUnreachable(KsqlDbError, Unreachable):
    """No HTTP answer from ksqlDB after the retries were spent."""


class KsqlGenericError(KsqlDbError):
    """A `generic_error` body, or an error that is not ksqlDB JSON at all (proxy 404, ...)."""


class KsqlAuthError(KsqlGenericError):
    """401 (error_code 40100) or 403 (40300/40301): retrying will not help."""


class KsqlServerNotReady(KsqlGenericError):
    """503 still answered after the retries: 50301 command-queue catch-up timeout, 50302 not ready,
    50303/50304 shutting down / shut down."""


class KsqlStatementError(KsqlDbError):
    """A `statement_error`: ksqlDB parsed the request but rejected one statement."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        error_code: int | None,
        statement_text: str = "",
        entities: list[Any] | None = None,
    ):
        super().__init__(message, status=status, error_code=error_code)
        self.statement_text = statement_text
        self.entities = entities or []

    def __str__(self) -> str:
        head = f"ksqlDB rejected statement (HTTP {self.status}, error_code {self.error_code}): {self.message}"
        if self.statement_text:
            stmt = " ".join(self.statement_text.split())
            head += f" [statement: {stmt[:300]}{'...' if len(stmt) > 300 else ''}]"
        return head
