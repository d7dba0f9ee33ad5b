"""Confluent Schema Registry, read side: subjects, latest schema, compatibility level.

Why httpx and not confluent_kafka.schema_registry.SchemaRegistryClient: this keeps the same HTTP
stack, retry/backoff policy, typed errors and secret redaction as the other resources; importing
confluent_kafka.schema_registry needs the `[schemaregistry]` extra (authlib, cachetools, attrs; it
fails to import in this venv without them) and Avro serdes need fastavro, none of which the control
plane otherwise uses; and its client caches latest versions, while a control plane checking for
schema drift wants the registry's current answer every time.

Wire contract (confluentinc/schema-registry: rest/exceptions/Errors.java, client/rest/entities):
errors are {"error_code": N, "message": "..."}; 40401 subject not found, 40402 version not found,
40403 schema not found, 40408 subject has no subject-level compatibility (SR >= 7.0; older ones
answer 40401 there); 5000x backend/timeout/forwarding/leader errors. `schemaType` is omitted for
AVRO (the entity's converter maps AVRO to null).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pydantic import Field

from resources import retry
from resources._http import HttpClient, HttpClientOwner
from resources._lazy import lazy_import
from resources.endpoints import SCHEMA_REGISTRY_URL
from resources.errors import ResourceError, Unreachable
from resources.redaction import scrub

httpx = lazy_import("httpx")

log = logging.getLogger(__name__)

SR_V1_JSON = "application/vnd.schemaregistry.v1+json"


class SchemaRegistryError(ResourceError):
    system = "Schema Registry"

    def __init__(self, message: str, *, status: int | None = None, error_code: int | str | None = None, server_message: str | None = None):
        super().__init__(message, status=status, error_code=error_code)
        # the registry's own {"message"} text, without our prefix
        self.server_message = message if server_message is None else server_message


class SchemaRegistryUnreachable(SchemaRegistryError, Unreachable):
    pass


class SubjectNotFound(SchemaRegistryError):
    """40401."""


class VersionNotFound(SchemaRegistryError):
    """40402."""


class SchemaNotFound(SchemaRegistryError):
    """40403."""


class CompatibilityNotConfigured(SchemaRegistryError):
    """40408: the subject has no subject-level compatibility (the global level applies)."""


class SchemaRegistryAuthError(SchemaRegistryError):
    """401/403."""


class SchemaRegistryServerError(SchemaRegistryError):
    """5xx still failing after the retries (50001 store, 50002 timeout, 50003 forwarding, 50004 no leader)."""


_BY_CODE: dict[int, type[SchemaRegistryError]] = {
    40401: SubjectNotFound,
    40402: VersionNotFound,
    40403: SchemaNotFound,
    40408: CompatibilityNotConfigured,
}


@dataclass(frozen=True)
class RegisteredSchema:
    subject: str
    id: int
    version: int
    schema: str
    schema_type: str = "AVRO"
    references: tuple[dict[str, Any], ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """The registry's own field names: {id, version, schema, schemaType, subject}."""
        return {"subject": self.subject, "id": self.id, "version": self.version, "schema": self.schema, "schemaType": self.schema_type}


@dataclass(frozen=True)
class Compatibility:
    level: str  # BACKWARD, FULL_TRANSITIVE, NONE, ...
    source: str  # "subject" or "global"


class SchemaRegistryClient(HttpClient):
    """Read-only Schema Registry client; every call is a GET, so every failure is safe to retry."""

    system = "Schema Registry"

    HEADERS = {"Accept": f"{SR_V1_JSON}, application/json"}

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        resp = retry.send_with_retry(
            lambda: self._http.get(path, params=params),
            rule=retry.SCHEMA_REGISTRY,
            max_retries=self.max_retries,
            backoff=self._backoff,
            what=f"GET {path}",
            unreachable=lambda exc, attempts: SchemaRegistryUnreachable(
                scrub(
                    f"Schema Registry at {self.base_url} did not answer GET {path} after {attempts} "
                    f"attempt(s): {type(exc).__name__}: {exc}",
                    self._secrets,
                )
            ),
            sleep=self._sleep,
            log=log,
            clean=lambda text: scrub(text, self._secrets),
        )
        if resp.is_success:
            return resp.json()
        raise self._error(resp, path)

    def _error(self, resp: httpx.Response, path: str) -> SchemaRegistryError:
        try:
            body = resp.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and "error_code" in body:
            code, message = body.get("error_code"), str(body.get("message", ""))
        else:
            code, message = None, resp.text.strip()[:300]
        cls = _BY_CODE.get(code) if isinstance(code, int) else None
        if cls is None:
            cls = (
                SchemaRegistryAuthError
                if resp.status_code in (401, 403)
                else SchemaRegistryServerError
                if resp.status_code >= 500
                else SchemaRegistryError
            )
        text = f"Schema Registry GET {path} -> {resp.status_code}" + (f" (error_code {code})" if code else "")
        message = scrub(message, self._secrets)
        return cls(f"{text}: {message}", status=resp.status_code, error_code=code, server_message=message)

    @staticmethod
    def _p(subject: str) -> str:
        return quote(subject, safe="")

    def subjects(self, *, deleted: bool = False) -> list[str]:
        return list(self._get("/subjects", {"deleted": "true"} if deleted else None))

    def versions(self, subject: str) -> list[int]:
        return list(self._get(f"/subjects/{self._p(subject)}/versions"))

    def latest_schema(self, subject: str) -> RegisteredSchema:
        return self.schema_version(subject, "latest")

    def schema_version(self, subject: str, version: int | str = "latest") -> RegisteredSchema:
        body = self._get(f"/subjects/{self._p(subject)}/versions/{version}")
        return RegisteredSchema(
            subject=body.get("subject", subject),
            id=int(body["id"]),
            version=int(body["version"]),
            schema=body["schema"],
            schema_type=body.get("schemaType") or "AVRO",
            references=tuple(body.get("references") or ()),
        )

    def compatibility(self, subject: str | None = None) -> Compatibility:
        """The subject's own level when it has one, else the global level."""
        if subject is not None:
            try:
                body = self._get(f"/config/{self._p(subject)}")
                return Compatibility(_level(body), "subject")
            except (CompatibilityNotConfigured, SubjectNotFound):
                pass  # 40408 on SR >= 7.0, 40401 on older registries: no subject-level config
        return Compatibility(_level(self._get("/config")), "global")


def _level(body: Any) -> str:
    # GET /config answers compatibilityLevel; PUT answers compatibility: accept both spellings.
    return str(body.get("compatibilityLevel") or body.get("compatibility") or "")


class SchemaRegistryResource(HttpClientOwner):
    """The Schema Registry holding the pipeline's Avro schemas (read-only use). get_client() returns
    the client this resource owns for the execution (resources/_http.py ClientOwner)."""

    url: str = Field(default=SCHEMA_REGISTRY_URL.default, description="Schema Registry URL (env SCHEMA_REGISTRY_URL)")
    username: str | None = Field(default=None, description="Basic-auth user (basic.auth.user.info), when secured")
    password: str | None = Field(default=None, repr=False, description="Basic-auth password; pass dagster.EnvVar. Never logged.")
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout")
    max_retries: int = Field(default=5, description="Retries of 5xx answers and connection failures")
    backoff_seconds: float = Field(default=0.5, description="First retry delay; doubles, with full jitter")
    backoff_max_seconds: float = Field(default=8.0, description="Cap of one retry delay")

    def get_client(self) -> SchemaRegistryClient:
        return self._owned_client()

    def _new_client(self, kind: str) -> SchemaRegistryClient:
        return SchemaRegistryClient(
            self.url,
            username=self.username,
            password=self.password,
            **self._http_settings(),
        )

    # Conveniences for ops that need a single answer (on the owned client).
    def subjects(self) -> list[str]:
        return self.get_client().subjects()

    def latest_schema(self, subject: str) -> RegisteredSchema:
        return self.get_client().latest_schema(subject)

    def compatibility(self, subject: str | None = None) -> Compatibility:
        return self.get_client().compatibility(subject)


__all__ = [
    "Compatibility",
    "CompatibilityNotConfigured",
    "RegisteredSchema",
    "SchemaNotFound",
    "SchemaRegistryAuthError",
    "SchemaRegistryClient",
    "SchemaRegistryError",
    "SchemaRegistryResource",
    "SchemaRegistryServerError",
    "SchemaRegistryUnreachable",
    "SubjectNotFound",
    "VersionNotFound",
]
