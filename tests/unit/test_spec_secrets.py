"""Secrets in the derived connector configs: only ${env:...} placeholders, the same configs with or without the
secrets in the environment, and nothing secret in the lineage.
"""

from __future__ import annotations

import json
import re

import pytest

from pipeline_defs.lineage import build_lineage as lineage
from pipeline_defs.spec import load_spec
from resources.redaction import REDACTED, redact_mapping
from tests.unit.spec_support import DEFAULT, NO_ENV, connector_props

pytestmark = pytest.mark.unit

SECRET_ENV = {"ORACLE_PASSWORD": "s3cret-pw", "CONFLUENT_LICENSE": "LICENSE-KEY", "REDIS_PASSWORD": "redis-s3cret"}


def test_connector_configs_hold_env_placeholders_never_secret_values(spec):
    props = connector_props(spec)
    src = props["userdata_avro"]
    assert src.secret_keys == {"oracle.password", "confluent.license"}
    assert src.secret_env == {"ORACLE_PASSWORD", "CONFLUENT_LICENSE"}
    assert src.config["oracle.password"] == "${env:ORACLE_PASSWORD}"
    assert src.config["confluent.license"] == "${env:CONFLUENT_LICENSE}"
    sink = props["redis-sink-json"]
    assert sink.secret_keys == {"redis.password"} and sink.config["redis.password"] == "${env:REDIS_PASSWORD}"
    # every sensitive key of every connector is a placeholder (nothing else could be a value)
    for p in props.values():
        for k, v in p.config.items():
            if "password" in k or "license" in k:
                assert k in p.secret_keys and re.fullmatch(r"\$\{env:[A-Z_][A-Z0-9_]*\}", v), (p.name, k, v)
    # shown redacted anyway; the plain keys stay readable
    shown = redact_mapping(src.config)
    assert shown["oracle.password"] == shown["confluent.license"] == REDACTED
    assert shown["oracle.username"] == "C##MYUSER"


def test_configs_are_the_same_with_or_without_secrets_in_the_environment(monkeypatch, spec):
    for var in SECRET_ENV:
        monkeypatch.delenv(var, raising=False)
    without = {n.key: (dict(n.desired.config), n.metadata, n.code_version) for n in lineage(spec).by_system("connect")}
    for var, value in SECRET_ENV.items():
        monkeypatch.setenv(var, value)
    with_secrets = load_spec(DEFAULT, env={**NO_ENV, **SECRET_ENV})
    g = lineage(with_secrets)
    assert {n.key: (dict(n.desired.config), n.metadata, n.code_version) for n in g.by_system("connect")} == without
    blob = json.dumps([(n.metadata, repr(n.desired)) for n in g.nodes], default=str)
    for value in SECRET_ENV.values():
        assert value not in blob
