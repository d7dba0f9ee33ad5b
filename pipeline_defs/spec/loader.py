"""Loading the spec: YAML (duplicate keys refused), environment overrides, validation.

Which file: ``CDC_PIPELINE_SPEC`` if set, else the profile's file (``CDC_PROFILE``: ``compose`` ->
``pipeline.yaml``, the seed's systems; ``local`` -> ``pipeline.local.yaml``, every hop a real
engine on this machine). Environment overrides are applied to the document before validation, so a
bad value is reported like a bad file, naming the variable.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from pipeline_defs.core import registry
from pipeline_defs.spec.errors import SpecError, _yaml_problem, pydantic_problems

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
SPEC_PATH_ENV = "CDC_PIPELINE_SPEC"
PROFILE_ENV = "CDC_PROFILE"
PROFILE_FILES = {"compose": "pipeline.yaml", "local": "pipeline.local.yaml"}
DEFAULT_PROFILE = "compose"

# env var -> dotted field path, whatever the source or engine kind
ENV_OVERRIDES: dict[str, str] = {
    "CDC_CONNECT_BOOTSTRAP_SERVERS": "endpoints.kafka_bootstrap_servers",
    "CDC_CONNECT_SCHEMA_REGISTRY_URL": "endpoints.schema_registry_url",
    "CDC_CONNECT_REDIS_URI": "endpoints.redis_uri",
}


# libyaml's parser when PyYAML was built with it: the pure-Python one takes seconds on a 200-table spec
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from None
        if key in out:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _overrides_for(data: dict) -> dict[str, str]:
    """The generic overrides plus those of the source/engine kinds the document names."""
    out = dict(ENV_OVERRIDES)
    for section, plugins in (("source", registry.SOURCES), ("engine", registry.ENGINES)):
        kind = (data.get(section) or {}).get("kind") if isinstance(data.get(section), dict) else None
        plugin = plugins.get(kind) if isinstance(kind, str) else None
        out.update(getattr(plugin, "env_overrides", {}) or {})
    return out


def _apply_env_overrides(data: dict, env: Mapping[str, str], overrides: Mapping[str, str]) -> list[str]:
    applied = []
    for var, path in overrides.items():
        val = env.get(var)
        if val is None or val == "":
            continue
        parts = path.split(".")
        cur = data
        for p in parts[:-1]:
            nxt = cur.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                cur[p] = nxt
            cur = nxt
        cur[parts[-1]] = int(val) if parts[-1].endswith("port") and val.isdigit() else val
        applied.append(path)
    return applied


def parse_spec(text: str, filename: str = "<spec>", env: Mapping[str, str] | None = None):
    """Parse and validate spec text. ``env`` supplies the overrides (default: none, so parsing a
    string is reproducible; :func:`load_spec` passes ``os.environ``)."""
    from pipeline_defs.spec.model import cross_validate, spec_model

    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        raise SpecError(filename, [("", _yaml_problem(e))]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(filename, [("", f"the top level must be a mapping, not {type(data).__name__}")])
    model = spec_model()
    overrides = _overrides_for(data)
    applied = _apply_env_overrides(data, env or {}, overrides)
    try:
        spec = model.model_validate(data)
    except ValidationError as e:
        problems = pydantic_problems(e, model)
        env_of = {path: var for var, path in overrides.items()}
        problems = [(f"{p} (from env {env_of[p]})" if p in applied else p, r) for p, r in problems]
        raise SpecError(filename, problems) from None
    problems = cross_validate(spec)
    if problems:
        raise SpecError(filename, problems)
    return spec


def default_spec_path(env: Mapping[str, str] | None = None) -> Path:
    if env is None:  # the process environment, through the one settings model
        from pipeline_defs.settings import settings

        s = settings()
        override, profile = s.pipeline_spec, s.profile
    else:
        override, profile = env.get(SPEC_PATH_ENV), env.get(PROFILE_ENV) or DEFAULT_PROFILE
    if override:
        return Path(override)
    if profile not in PROFILE_FILES:
        raise SpecError(f"${PROFILE_ENV}", [("", f"{profile!r} is not a profile (one of {', '.join(PROFILE_FILES)})")])
    return REPO_ROOT / PROFILE_FILES[profile]


def load_spec(path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None):
    """Load and validate the spec: ``path`` if given, else ``$CDC_PIPELINE_SPEC``, else the
    profile's file. ``env`` (default ``os.environ``) supplies the overrides."""
    env = os.environ if env is None else env
    p = Path(path) if path is not None else default_spec_path(env)
    shown = str(path) if path is not None else str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(shown, [("", f"cannot read the spec file: {e.strerror or e}")]) from None
    return parse_spec(text, shown, env)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json", by_alias=True)
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [_jsonable(v) for v in obj]
        return sorted(items, key=lambda x: json.dumps(x, sort_keys=True, default=str)) if isinstance(obj, (set, frozenset)) else items
    if hasattr(obj, "_asdict"):
        return _jsonable(obj._asdict())
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return _jsonable(asdict(obj))
    if isinstance(obj, (_dt.date, _dt.datetime)):
        return obj.isoformat()
    return obj


def spec_hash(obj: Any) -> str:
    """A stable 16-hex-digit digest of a spec, a model, a derived config or any JSON-able value
    (dict order does not matter); use it as a Dagster code_version."""
    blob = json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
