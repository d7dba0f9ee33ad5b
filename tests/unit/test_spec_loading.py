"""Loading the spec: the default path, CDC_PIPELINE_SPEC, and the flavor, format and address overrides from the
environment.
"""

from __future__ import annotations

import os

import pytest

from pipeline_defs.spec import SpecError, load_spec
from tests.unit.spec_support import DEFAULT, THREE, source_connector_configs

pytestmark = pytest.mark.unit


def test_default_path_and_env_override(tmp_path, monkeypatch, spec):
    monkeypatch.delenv("CDC_PIPELINE_SPEC", raising=False)
    monkeypatch.delenv("CDC_SOURCE_FLAVOR", raising=False)
    monkeypatch.delenv("CDC_FORMAT", raising=False)
    monkeypatch.delenv("CDC_PROFILE", raising=False)
    for var in [v for v in os.environ if v.startswith("CDC_CONNECT_")]:  # a session stack exports its addresses
        monkeypatch.delenv(var)
    assert load_spec() == spec
    other = tmp_path / "other.yaml"
    other.write_text(THREE.read_text())
    monkeypatch.setenv("CDC_PIPELINE_SPEC", str(other))
    assert len(load_spec().source.tables) == 3
    monkeypatch.setenv("CDC_PIPELINE_SPEC", str(tmp_path / "missing.yaml"))
    with pytest.raises(SpecError, match=r"missing\.yaml: cannot read the spec file"):
        load_spec()


def test_flavor_and_format_env_overrides(spec):
    assert spec.source.flavor == "confluent" and spec.source.format == "avro"
    s = load_spec(DEFAULT, env={"CDC_SOURCE_FLAVOR": "debezium", "CDC_FORMAT": "json"})
    assert (s.source.flavor, s.source.format) == ("debezium", "json")
    with pytest.raises(SpecError) as e:
        load_spec(DEFAULT, env={"CDC_SOURCE_FLAVOR": "kafka"})
    msg = str(e.value)
    assert "pipeline.yaml" in msg and "source.flavor (from env CDC_SOURCE_FLAVOR)" in msg and "'kafka'" in msg
    s = load_spec(DEFAULT, env={"CDC_CONNECT_BOOTSTRAP_SERVERS": "127.0.0.1:19092", "CDC_CONNECT_ORACLE_PORT": "11521"})
    cfg = source_connector_configs(s)["userdata_avro"]
    assert cfg["confluent.topic.bootstrap.servers"] == "127.0.0.1:19092" and cfg["oracle.port"] == "11521"
