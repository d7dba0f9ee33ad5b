"""Keeps secrets out of exceptions, log lines and Dagster metadata.

A config key is sensitive when its name says so (password, secret, token, license, credentials,
sasl.jaas.config, key.password, ...) or when the spec marks it sensitive. Values of sensitive keys
are replaced by REDACTED wherever a mapping is rendered, and every known secret value is scrubbed
from free text (Connect's 400 messages echo submitted values, Strimzi issue #6911).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "********"

_SENSITIVE = re.compile(r"(password|passwd|secret|token|license|credential|jaas\.config|api[._-]?key|private[._-]?key)", re.I)


def is_sensitive_key(key: str, extra: Iterable[str] = ()) -> bool:
    return bool(_SENSITIVE.search(key)) or key in set(extra)


def redact_mapping(config: Mapping[str, Any], extra: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of `config` with sensitive values masked, recursing into nested mappings and lists."""
    extra = set(extra)
    out: dict[str, Any] = {}
    for k, v in config.items():
        if is_sensitive_key(str(k), extra) and v not in (None, ""):
            out[k] = REDACTED
        elif isinstance(v, Mapping):
            out[k] = redact_mapping(v, extra)
        elif isinstance(v, list):
            out[k] = [redact_mapping(i, extra) if isinstance(i, Mapping) else i for i in v]
        else:
            out[k] = v
    return out


def secret_values(config: Mapping[str, Any], extra: Iterable[str] = ()) -> set[str]:
    """Every non-trivial string stored under a sensitive key, for scrubbing free text."""
    extra = set(extra)
    found: set[str] = set()
    for k, v in config.items():
        if isinstance(v, Mapping):
            found |= secret_values(v, extra)
        elif is_sensitive_key(str(k), extra) and isinstance(v, str | int) and len(str(v)) >= 3:
            found.add(str(v))
    return found


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace each secret value in free text; longest first so overlapping secrets are fully masked."""
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, REDACTED)
    return text


def env_secret_values() -> list[str]:
    """The values of the project's secret environment variables (resources/endpoints.py), for
    scrubbing text that came from elsewhere (a connector's stack trace, a failed run's error)."""
    from resources import endpoints

    return endpoints.secret_values()
