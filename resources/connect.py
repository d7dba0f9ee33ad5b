"""Kafka Connect REST: a plain client (httpx) and the Dagster resource that owns it.

Facts this relies on (shared/reference/connect.md §1): every PUT of a config restarts the connector,
so `apply` diffs before writing; 409 (rebalance, stale config), 500 "Request timed out" and 503 are
transient and retried; errors carry {"error_code", "message"}; restart answers 204 without a body
for the plain form and 202 with a status body when tasks or only-failed are requested.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from resources._lazy import lazy_import

httpx = lazy_import("httpx")
from pydantic import Field

from resources import retry
from resources._http import HttpClient, HttpClientOwner
from resources.connect_errors import ConnectError, ConnectorConfigInvalid, ConnectorNotFound, ConnectUnreachable
from resources.connect_state import ApplyResult, ValidationResult, config_diff, connector_health, normalize_config
from resources.endpoints import KAFKA_CONNECT_URL
from resources.read_cache import ReadCache
from resources.redaction import REDACTED, is_sensitive_key, redact_mapping, secret_values
from resources.retry import send_with_retry

log = logging.getLogger(__name__)


class KafkaConnectClient(HttpClient):
    """One Connect cluster. Thread-compatible: one httpx.Client, reused."""

    system = "Kafka Connect"
    HEADERS = {"Accept": "application/json", "User-Agent": "cdc-control-plane"}

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        sensitive_keys: Iterable[str] = (),
        **kwargs: Any,
    ):
        username, password = auth if auth else (None, None)
        super().__init__(url, username=username, password=password or None, **kwargs)
        self.url = self.base_url
        self.sensitive_keys = frozenset(sensitive_keys)
        self._reads = ReadCache()
        self.requests_made: list[tuple[str, str]] = []  # (method, path): lets tests and benchmarks count writes

    # ------------------------------------------------------------ transport

    def _remember_secrets(self, config: Mapping[str, Any] | None) -> None:
        if config:
            self._secrets |= secret_values(config, self.sensitive_keys)

    def _request(self, method: str, path: str, *, json: Any = None, params: Any = None, allow_404: bool = False) -> httpx.Response | None:
        if method != "GET":
            self._reads.clear()  # a write: what was listed may no longer hold

        def once() -> httpx.Response:
            self.requests_made.append((method, path))
            return self._http.request(method, path, json=json, params=params)

        resp = send_with_retry(
            once,
            rule=retry.CONNECT,
            max_retries=self.max_retries,
            backoff=self._backoff,
            what=f"{method} {path}",
            unreachable=lambda e, n: self._unreachable(e, f"{method} {path}", n),
            sleep=self._sleep,
            log=log,
            clean=self._clean,
        )
        if resp.status_code == 404 and allow_404:
            return None
        if resp.is_success:
            return resp
        code, message = self._error_fields(resp)
        raise self._error(resp.status_code, code, message, method, path)

    def _unreachable(self, exc: BaseException, what: str, attempts: int = 1) -> ConnectUnreachable:
        return ConnectUnreachable(
            f"Kafka Connect at {self.url} unreachable for {what} after {attempts} attempt(s): {type(exc).__name__}: {self._clean(str(exc))}"
        )

    def _error_fields(self, resp: httpx.Response) -> tuple[int | None, str]:
        try:
            body = resp.json()
            return body.get("error_code"), self._clean(str(body.get("message", "")))
        except ValueError:
            return None, self._clean(resp.text[:500])

    def _error(self, status: int, code: int | None, message: str, method: str, path: str) -> ConnectError:
        text = f"Kafka Connect {method} {path} -> {status}" + (f" (error_code {code})" if code else "") + f": {message}"
        if status == 404:
            return ConnectorNotFound(text, status=status, error_code=code)
        if status == 400:
            return ConnectorConfigInvalid(text, status=status, error_code=code)
        return ConnectError(text, status=status, error_code=code)

    @staticmethod
    def _p(name: str) -> str:
        return quote(name, safe="")

    # ------------------------------------------------------------ worker

    def server_info(self) -> dict:
        return self._request("GET", "/").json()

    def health(self) -> dict:
        """GET /health (Kafka >= 3.9); older workers answer 404 there, so fall back to GET /."""
        try:
            resp = self._http.get("/health")
        except httpx.TransportError as e:
            raise self._unreachable(e, "GET /health") from None
        if resp.status_code == 404:
            info = self.server_info()
            return {"status": "healthy", "message": f"worker {info.get('version')} answers GET / (no /health endpoint)"}
        try:
            body = resp.json()
        except ValueError:
            body = {"status": "unhealthy", "message": resp.text[:200]}
        body.setdefault("status", "healthy" if resp.is_success else "unhealthy")
        return body

    def plugins(self, connectors_only: bool = True) -> list[dict]:
        return self._request("GET", "/connector-plugins", params={"connectorsOnly": str(connectors_only).lower()}).json()

    # ------------------------------------------------------------ connectors

    def list_connectors(self) -> list[str]:
        return self._request("GET", "/connectors").json()

    def connectors_expanded(self) -> dict[str, dict]:
        """Every connector with status and info in one request: {name: {"status": ..., "info": ...}}."""
        return self._request("GET", "/connectors", params=[("expand", "status"), ("expand", "info")]).json()

    def get_config(self, name: str) -> dict | None:
        if self._reads.active:  # one listing answers every connector's config (see cached_reads)
            entry = self._reads.get("expanded", self.connectors_expanded).get(name)
            return dict((entry.get("info") or {}).get("config") or {}) if entry else None
        resp = self._request("GET", f"/connectors/{self._p(name)}/config", allow_404=True)
        return resp.json() if resp else None

    def cached_reads(self) -> contextlib.AbstractContextManager[None]:
        """Within the block get_config answers from one ``connectors_expanded()`` listing (resources.read_cache)."""
        return self._reads.scope()

    def status(self, name: str) -> dict:
        return self._request("GET", f"/connectors/{self._p(name)}/status").json()

    def create(self, name: str, config: Mapping[str, Any], initial_state: str | None = None) -> dict:
        self._remember_secrets(config)
        body: dict[str, Any] = {"name": name, "config": normalize_config({**config, "name": name})}
        if initial_state:
            body["initial_state"] = initial_state
        return self._request("POST", "/connectors", json=body).json()

    def put_config(self, name: str, config: Mapping[str, Any]) -> dict:
        self._remember_secrets(config)
        return self._request("PUT", f"/connectors/{self._p(name)}/config", json=normalize_config({**config, "name": name})).json()

    def apply(self, name: str, config: Mapping[str, Any]) -> ApplyResult:
        """Create or update `name` so its config equals `config`; no write when nothing differs."""
        self._remember_secrets(config)
        desired = {**config, "name": name}
        actual = self.get_config(name)
        if actual is None:
            self.put_config(name, desired)
            log.info("created connector %s", name)
            return ApplyResult(name, "created", tuple(sorted(normalize_config(desired))))
        changed = config_diff(desired, actual)
        if not changed:
            return ApplyResult(name, "unchanged")
        self.put_config(name, desired)
        log.info("updated connector %s: %s", name, ", ".join(changed))
        return ApplyResult(name, "updated", tuple(changed))

    def validate(self, config: Mapping[str, Any]) -> ValidationResult:
        self._remember_secrets(config)
        cls = str(config["connector.class"])
        plugin = cls.rsplit(".", 1)[-1]
        body = self._request("PUT", f"/connector-plugins/{self._p(plugin)}/config/validate", json=normalize_config(config)).json()
        errors: dict[str, list[str]] = {}
        for item in body.get("configs", []):
            value = item.get("value", {})
            if value.get("errors"):
                errors[value["name"]] = [self._clean(e) for e in value["errors"]]
        return ValidationResult(body.get("name", cls), int(body.get("error_count", 0)), errors)

    def restart(self, name: str, *, include_tasks: bool = False, only_failed: bool = False) -> dict | None:
        """None for the plain restart (204); the status body with RESTARTING instances otherwise (202)."""
        resp = self._request(
            "POST",
            f"/connectors/{self._p(name)}/restart",
            params={"includeTasks": str(include_tasks).lower(), "onlyFailed": str(only_failed).lower()},
        )
        return resp.json() if resp.status_code == 202 and resp.content else None

    def pause(self, name: str) -> None:
        self._request("PUT", f"/connectors/{self._p(name)}/pause")

    def resume(self, name: str) -> None:
        self._request("PUT", f"/connectors/{self._p(name)}/resume")

    def stop(self, name: str) -> None:
        self._request("PUT", f"/connectors/{self._p(name)}/stop")

    def delete(self, name: str) -> bool:
        """True when deleted, False when it did not exist."""
        return self._request("DELETE", f"/connectors/{self._p(name)}", allow_404=True) is not None

    def offsets(self, name: str) -> list[dict]:
        return self._request("GET", f"/connectors/{self._p(name)}/offsets").json().get("offsets", [])

    def alter_offsets(self, name: str, offsets: list[dict]) -> str:
        """PATCH /connectors/{name}/offsets (KIP-875; the connector must be STOPPED): each entry is
        {"partition": {...}, "offset": {...}}, an offset of None erases that partition's offset.
        Returns the worker's message."""
        resp = self._request("PATCH", f"/connectors/{self._p(name)}/offsets", json={"offsets": offsets})
        return (resp.json() or {}).get("message", "") if resp.content else ""

    def reset_offsets(self, name: str) -> str:
        """DELETE /connectors/{name}/offsets (KIP-875; the connector must be STOPPED): a sink's
        consumer group offsets, or a source's offsets in the offsets topic, are erased."""
        resp = self._request("DELETE", f"/connectors/{self._p(name)}/offsets")
        return (resp.json() or {}).get("message", "") if resp.content else ""

    def redacted(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return redact_mapping(config, self.sensitive_keys)


class KafkaConnectResource(HttpClientOwner):
    """The Kafka Connect cluster the pipeline's connectors run on."""

    url: str = Field(default=KAFKA_CONNECT_URL.default, description="Connect REST URL (env KAFKA_CONNECT_URL)")
    username: str | None = Field(default=None, description="Basic-auth user, when the REST API is secured")
    password: str | None = Field(default=None, description="Basic-auth password; pass dagster.EnvVar")
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout")
    max_retries: int = Field(default=5, description="Retries of transient failures (409, 503, 500 timed out, network)")
    backoff_seconds: float = Field(default=0.5, description="First retry delay; doubles, with full jitter")
    backoff_max_seconds: float = Field(default=8.0, description="Cap of one retry delay")
    sensitive_keys: list[str] = Field(default_factory=list, description="Extra config keys to redact")

    def get_client(self) -> KafkaConnectClient:
        """The client this resource owns for the execution (closed at teardown, or by `with`)."""
        return self._owned_client()

    def get_probe_client(self, timeout_seconds: float = 10.0) -> KafkaConnectClient:
        """A client for sensor ticks: short timeout and one retry, so a down worker costs one tick
        a few seconds instead of the full backoff (the tick has a deadline of its own)."""
        return self._owned_client(f"probe:{timeout_seconds}")

    def _new_client(self, kind: str) -> KafkaConnectClient:
        auth = (self.username, self.password or "") if self.username else None
        if kind.startswith("probe:"):
            return KafkaConnectClient(
                self.url,
                timeout=min(self.timeout_seconds, float(kind.split(":", 1)[1])),
                max_retries=1,
                backoff=self.backoff_seconds,
                backoff_max=1.0,
                auth=auth,
                sensitive_keys=self.sensitive_keys,
            )
        return KafkaConnectClient(
            self.url,
            **self._http_settings(),
            auth=auth,
            sensitive_keys=self.sensitive_keys,
        )

    def __repr__(self) -> str:  # pydantic's repr would print the password field
        return f"KafkaConnectResource(url={self.url!r}, username={self.username!r}, password={REDACTED if self.password else None})"

    __str__ = __repr__


__all__ = [
    "ApplyResult",
    "ConnectError",
    "ConnectUnreachable",
    "ConnectorConfigInvalid",
    "ConnectorNotFound",
    "KafkaConnectClient",
    "KafkaConnectResource",
    "ValidationResult",
    "config_diff",
    "connector_health",
    "is_sensitive_key",
    "normalize_config",
]
