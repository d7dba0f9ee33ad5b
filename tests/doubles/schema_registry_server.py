"""A Confluent Schema Registry double: real HTTP on 127.0.0.1, read endpoints plus test hooks.

Contract: confluentinc/schema-registry (rest/exceptions/Errors.java for codes and messages,
client/rest/entities/Schema.java: `schemaType` omitted for AVRO). Shapes are pinned by
tests/contract_samples/schema_registry/*.json.

Routes: GET /subjects, /subjects/{s}/versions, /subjects/{s}/versions/{v|latest},
/schemas/ids/{id}, /config, /config/{s}. A subject without subject-level compatibility answers
40408 (SR >= 7.0) or, with legacy_config_errors=True, 40401 as older registries did.
Hooks: register(), set_compatibility(), fail_next(), require_basic_auth(), requests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tests.doubles._http import DoubleServer, Reply, Request

SR_V1_JSON = "application/vnd.schemaregistry.v1+json"


@dataclass
class _Version:
    id: int
    version: int
    schema: str
    schema_type: str


def _err(status: int, code: int, message: str) -> Reply:
    return Reply.json(status, {"error_code": code, "message": message}, SR_V1_JSON)


class SchemaRegistryDouble(DoubleServer):
    def __init__(self, *, global_compatibility: str = "BACKWARD", legacy_config_errors: bool = False):
        super().__init__()
        self.global_compatibility = global_compatibility
        self.legacy_config_errors = legacy_config_errors
        self._subjects: dict[str, list[_Version]] = {}
        self._ids: dict[tuple[str, str], int] = {}  # (schemaType, canonical schema) -> global id
        self._subject_compat: dict[str, str] = {}
        self._failures: list[tuple[int, int, str]] = []
        self._auth: tuple[str, str] | None = None

    # -- hooks --------------------------------------------------------------------------------

    def register(self, subject: str, schema: str | dict, schema_type: str = "AVRO") -> int:
        """Register a version like POST /subjects/{s}/versions would; returns the global schema id."""
        text = schema if isinstance(schema, str) else json.dumps(schema, separators=(",", ":"))
        with self._lock:
            key = (schema_type, text)
            sid = self._ids.setdefault(key, len(self._ids) + 1)
            versions = self._subjects.setdefault(subject, [])
            if not any(v.id == sid for v in versions):
                versions.append(_Version(sid, len(versions) + 1, text, schema_type))
            return sid

    def set_compatibility(self, level: str, subject: str | None = None) -> None:
        with self._lock:
            if subject is None:
                self.global_compatibility = level
            else:
                self._subject_compat[subject] = level

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        error_code: int = 50001,
        message: str = "Error while reading from the backend data store",
    ) -> None:
        with self._lock:
            self._failures.extend([(status, error_code, message)] * count)

    def require_basic_auth(self, username: str, password: str) -> None:
        self._auth = (username, password)

    # -- HTTP ---------------------------------------------------------------------------------

    def handle(self, req: Request) -> Reply:
        if self._auth is not None and req.basic_auth != self._auth:
            return _err(401, 401, "Unauthorized")
        with self._lock:
            if self._failures:
                return _err(*self._failures.pop(0))
            if req.method != "GET":
                return _err(405, 405, "HTTP 405 Method Not Allowed")
            return self._route(req)

    def _route(self, req: Request) -> Reply:
        p = req.path
        if p == "/subjects":
            return Reply.json(200, sorted(s for s, v in self._subjects.items() if v), SR_V1_JSON)
        if p == "/config":
            return Reply.json(200, {"compatibilityLevel": self.global_compatibility}, SR_V1_JSON)
        if m := re.fullmatch(r"/config/(.+)", p):
            subject = m.group(1)
            if subject in self._subject_compat:
                return Reply.json(200, {"compatibilityLevel": self._subject_compat[subject]}, SR_V1_JSON)
            if self.legacy_config_errors:
                return _err(404, 40401, f"Subject '{subject}' not found.")
            return _err(404, 40408, f"Subject '{subject}' does not have subject-level compatibility configured")
        if m := re.fullmatch(r"/schemas/ids/(\d+)", p):
            for versions in self._subjects.values():
                for v in versions:
                    if v.id == int(m.group(1)):
                        body = {"schema": v.schema}
                        if v.schema_type != "AVRO":
                            body["schemaType"] = v.schema_type
                        return Reply.json(200, body, SR_V1_JSON)
            return _err(404, 40403, f"Schema {m.group(1)} not found")
        if m := re.fullmatch(r"/subjects/(.+)/versions", p):
            versions = self._subjects.get(m.group(1))
            if not versions:
                return _err(404, 40401, f"Subject '{m.group(1)}' not found.")
            return Reply.json(200, [v.version for v in versions], SR_V1_JSON)
        if m := re.fullmatch(r"/subjects/(.+)/versions/([^/]+)", p):
            return self._version(m.group(1), m.group(2))
        return _err(404, 404, "HTTP 404 Not Found")

    def _version(self, subject: str, ref: str) -> Reply:
        versions = self._subjects.get(subject)
        if not versions:
            return _err(404, 40401, f"Subject '{subject}' not found.")
        if ref in ("latest", "-1"):
            v = versions[-1]
        elif re.fullmatch(r"\d+", ref) and 0 < int(ref) < 2**31:
            v = next((x for x in versions if x.version == int(ref)), None)
            if v is None:
                return _err(404, 40402, f"Version {int(ref)} not found.")
        else:
            return _err(
                422,
                42202,
                f"The specified version '{ref}' is not a valid version id. Allowed values are "
                'between [1, 2^31-1] and the string "latest"',
            )
        body = {"subject": subject, "version": v.version, "id": v.id, "schema": v.schema}
        if v.schema_type != "AVRO":  # Schema.SchemaTypeConverter maps AVRO to null, then omitted
            body["schemaType"] = v.schema_type
        return Reply.json(200, body, SR_V1_JSON)


__all__ = ["SR_V1_JSON", "SchemaRegistryDouble"]
