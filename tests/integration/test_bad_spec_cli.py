"""An invalid spec stops `dagster job execute` before any system is touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_bad_spec_fails_with_file_field_reason_and_touches_nothing(stack, connect_client, tmp_path):
    good = (REPO / "pipeline.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.replace("name: USER_AGGREGATE_EVENTS", "name: USER_AGGREGATE_EVENTS;DROP", 1))
    spec_connectors = {"userdata_avro", "clickstream_avro", "redis-sink-json"}
    before = {n: connect_client.get_config(n) for n in spec_connectors}
    env = {**os.environ, "CDC_PIPELINE_SPEC": str(bad), "DAGSTER_HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "job", "execute", "-m", "pipeline_defs", "-j", "provision_pipeline"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "bad.yaml: engine.objects[3].name: 'USER_AGGREGATE_EVENTS;DROP' is not a valid ksqlDB identifier" in out
    # other tests share the worker, so judge only the connectors this spec would have written
    assert {n: connect_client.get_config(n) for n in spec_connectors} == before


def test_dagster_definitions_validate_cli(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-m", "pipeline_defs"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr
