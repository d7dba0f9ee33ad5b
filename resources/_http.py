"""What the HTTP clients share: credentials kept out of URLs, tolerant JSON reading, one httpx
client per instance with secrets scrubbed from what it raises (`HttpClient`), and the one client
lifetime style of the resources (`ClientOwner`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Self
from urllib.parse import unquote, urlsplit, urlunsplit

import dagster as dg
from pydantic import PrivateAttr

from resources import retry
from resources._lazy import lazy_import
from resources.redaction import scrub

httpx = lazy_import("httpx")


def split_userinfo(url: str, username: str | None, password: str | None) -> tuple[str, str | None, str | None]:
    """(url without user:password@, username, password). Credentials embedded in the URL would
    otherwise ride along into every log line and exception that names the URL."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, username, password
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    url_user = unquote(parts.username or "")
    url_password = unquote(parts.password) if parts.password else None
    return clean, username or url_user, password or url_password


def json_or_none(resp: Any) -> Any:
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


class HttpClient:
    """One httpx.Client per instance and its lifetime (`close()` or `with`); every text a subclass
    raises or logs goes through `_clean`, which removes the password it was given.

    Subclasses keep what differs on purpose: their retry rule (resources/retry.py), error mapping
    and headers."""

    system = "HTTP"
    # per-system defaults: how many retries, the backoff ceiling and its jitter, the Accept header
    MAX_RETRIES = 5
    BACKOFF_MAX = 8.0
    JITTER: Literal["full", "equal"] = "full"
    MAX_RETRY_AFTER: float | None = None  # > 0: a server's Retry-After wins over the computed delay, capped
    HEADERS: Mapping[str, str] = {}

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        max_retries: int | None = None,
        backoff: float = 0.5,
        backoff_max: float | None = None,
        max_retry_after: float | None = None,
        transport: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        url, username, password = split_userinfo(url, username, password)
        if password and not username:
            raise ValueError(f"{self.system} basic auth needs a username when a password is set")
        self.base_url = url.rstrip("/")
        self.max_retries = self.MAX_RETRIES if max_retries is None else max_retries
        self._backoff = retry.Backoff(
            base=backoff,
            cap=self.BACKOFF_MAX if backoff_max is None else backoff_max,
            jitter=self.JITTER,
            max_retry_after=self.MAX_RETRY_AFTER if max_retry_after is None else max_retry_after,
        )
        self._sleep = sleep
        self._secrets: set[str] = {password} if password else set()
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(username, password or "") if username else None,
            timeout=timeout,
            transport=transport,
            headers=dict(self.HEADERS),
        )

    def close(self) -> None:
        self._http.close()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _clean(self, text: str) -> str:
        return scrub(text, self._secrets)


class ClientOwner(dg.ConfigurableResource):
    """Base of the resources that hold clients: the one client lifetime style of the resources.

    - `get_client()` returns the client this resource owns for the current execution, created on
      first use and reused by every later call in the same run/step/sensor tick (so callers may
      write `resource.get_client().method()` freely).
    - Dagster calls `teardown_after_execution` when the run, step or sensor tick ends: every
      owned client is closed there.
    - Outside Dagster (scripts, tests) use the client as a context manager,
      `with resource.get_client() as client: ...`; it is closed on exit and the next get_client()
      opens a new one.

    Subclasses implement `_new_client(kind)`; `kind` names a variant (e.g. the short-timeout probe client).
    """

    _owned: dict[str, Any] = PrivateAttr(default_factory=dict)

    def _new_client(self, kind: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _owned_client(self, kind: str = "default") -> Any:
        client = self._owned.get(kind)
        if client is None or getattr(client, "closed", False):
            client = self._new_client(kind)
            self._owned[kind] = client
        return client

    def close_clients(self) -> None:
        owned, self._owned = dict(self._owned), {}
        for client in owned.values():
            client.close()

    def setup_for_execution(self, context: Any) -> None:
        # Dagster runs each execution on a copy of the resource, and a pydantic copy shares private
        # dicts: start every execution with its own, so one teardown never closes another's clients
        self._owned = {}

    def teardown_after_execution(self, context: Any) -> None:
        self.close_clients()


class HttpClientOwner(ClientOwner):
    """A ClientOwner of an HttpClient: the timeout and retry settings every such client takes come from the
    resource's fields of the same meaning (``timeout_seconds``, ``max_retries``, ``backoff_seconds``,
    ``backoff_max_seconds``), declared by each resource with its own defaults."""

    def _http_settings(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout_seconds,
            "max_retries": self.max_retries,
            "backoff": self.backoff_seconds,
            "backoff_max": self.backoff_max_seconds,
        }
