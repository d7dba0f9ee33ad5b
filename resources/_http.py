"""What the HTTP clients share: credentials kept out of URLs, tolerant JSON reading, and the one
client lifetime style (see `ClientOwner`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import dagster as dg
from pydantic import PrivateAttr


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

    def teardown_after_execution(self, context: Any) -> None:
        self.close_clients()
