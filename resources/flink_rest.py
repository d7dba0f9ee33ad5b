"""What the two Flink REST clients share: typed errors, the Java-trace-to-one-line rule, and the
request/retry/error plumbing (httpx, resources/retry.py).

Flink answers errors as {"errors": ["<message>", ...]}; an entry may hold a whole Java stack trace
("<Exception on server side: ... Caused by: ... End of exception on server side>"). The cause a
person can act on is the last "Caused by:" line, so that line is what the errors carry
(shared/reference/local_profile.md section 3).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from resources import retry
from resources._http import HttpClient, json_or_none
from resources._lazy import lazy_import
from resources.errors import ResourceError, Unreachable
from resources.read_cache import ReadCache

httpx = lazy_import("httpx")

log = logging.getLogger(__name__)

_CAUSED_BY = re.compile(r"^\s*Caused by:\s*(.+?)\s*$", re.MULTILINE)
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class FlinkError(ResourceError):
    system = "Flink"


class FlinkUnreachable(FlinkError, Unreachable):
    pass


class FlinkStatementError(FlinkError):
    """The SQL Gateway rejected or failed a statement; `cause` is the last "Caused by:" line."""

    def __init__(self, message: str, *, status: int | None = None, cause: str = "", statement: str = ""):
        super().__init__(message, status=status)
        self.cause = cause
        self.statement = statement


class FlinkJobNotFound(FlinkError):
    pass


class FlinkSessionNotFound(FlinkError):
    """The gateway no longer knows the session (closed, or expired after its idle timeout)."""


class FlinkSavepointError(FlinkError):
    """A stop-with-savepoint (or savepoint) trigger failed or did not complete in time."""


def root_cause(text: str) -> str:
    """The last "Caused by:" line of a Java trace; else the first non-empty line, without the
    "<Exception on server side:" wrapper."""
    causes = _CAUSED_BY.findall(text or "")
    if causes:
        return causes[-1]
    for line in (text or "").splitlines():
        line = line.strip()
        if line and not line.startswith(("<Exception on server side", "at ", "End of exception")):
            return line
    return ""


def error_text(resp: Any) -> str:
    """The one line worth showing from a Flink error answer."""
    body = json_or_none(resp)
    if isinstance(body, Mapping) and isinstance(body.get("errors"), list):
        entries = [str(e) for e in body["errors"]]
        traced = [e for e in entries if "Caused by:" in e]
        if traced:
            return root_cause(traced[-1])
        lines = [root_cause(e) for e in entries if root_cause(e)]
        return "; ".join(dict.fromkeys(lines)) or "(no message)"
    return resp.text.strip()[:300] or f"HTTP {resp.status_code}"


def check_job_id(job_id: str, what: str = "job") -> str:
    """Job, vertex and trigger ids are 32 lower-case hex digits; anything else never reaches a URL."""
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise ValueError(f"not a Flink {what} id (32 lower-case hex digits): {job_id!r}")
    return job_id


class FlinkRestClient(HttpClient):
    """Base of the JobManager and SQL Gateway clients: one httpx.Client, retries per resources/retry.py."""

    system = "Flink REST"

    MAX_RETRIES = 3
    HEADERS = {"Accept": "application/json"}

    def __init__(self, url: str, **kwargs: Any):
        super().__init__(url, **kwargs)
        self._reads = ReadCache()

    def cached_reads(self) -> contextlib.AbstractContextManager[None]:
        """Within the block listings are read once (resources.read_cache); a write clears them."""
        return self._reads.scope()

    def _send(self, method: str, path: str, *, json: Any = None, params: Any = None, idempotent: bool = True) -> Any:
        """The answer, whatever its status (after retries of transient ones)."""
        if method != "GET":
            self._reads.clear()
        return retry.send_with_retry(
            lambda: self._http.request(method, path, json=json, params=params),
            rule=retry.FLINK_IDEMPOTENT if idempotent else retry.FLINK_WRITE,
            max_retries=self.max_retries,
            backoff=self._backoff,
            what=f"{method} {path}",
            unreachable=lambda exc, attempts: FlinkUnreachable(
                self._clean(
                    f"{self.system} at {self.base_url} did not answer {method} {path} after {attempts} attempt(s): "
                    f"{type(exc).__name__}: {exc}"
                )
            ),
            sleep=self._sleep,
            log=log,
            clean=self._clean,
        )

    def _json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        idempotent: bool = True,
        not_found: type[FlinkError] = FlinkError,
    ) -> Any:
        resp = self._send(method, path, json=json, params=params, idempotent=idempotent)
        if resp.is_success:
            return json_or_none(resp) if resp.content else None
        text = self._clean(error_text(resp))
        message = f"{self.system} {method} {path} -> {resp.status_code}: {text}"
        cls = not_found if resp.status_code == 404 else FlinkError
        raise cls(message, status=resp.status_code)
