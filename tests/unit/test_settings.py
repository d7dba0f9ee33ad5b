"""The control plane's settings come from the environment through one model."""

from __future__ import annotations

import pytest

from pipeline_defs.settings import settings
from pipeline_defs.spec import default_spec_path
from pipeline_defs.systems.connect.healing import HealthPolicy

pytestmark = pytest.mark.unit


def test_defaults_and_overrides(monkeypatch):
    for name in ("CDC_HEALTH_MAX_RESTARTS", "CDC_PROFILE", "CDC_PIPELINE_SPEC", "CDC_DQ_MIN_INTERVAL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    assert settings().health_max_restarts == 12 and settings().dq_min_interval_seconds == 300
    assert default_spec_path().name == "pipeline.yaml"
    monkeypatch.setenv("CDC_HEALTH_MAX_RESTARTS", "3")
    monkeypatch.setenv("CDC_PROFILE", "local")
    assert HealthPolicy.from_env().max_restarts == 3
    assert default_spec_path().name == "pipeline.local.yaml"
    monkeypatch.setenv("CDC_PIPELINE_SPEC", "/tmp/other.yaml")
    assert str(default_spec_path()) == "/tmp/other.yaml"


def test_a_bad_value_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CDC_HEALTH_MAX_RESTARTS", "many")
    with pytest.raises(ValueError, match="health_max_restarts"):
        settings()


def test_the_healing_sensors_tick_at_the_configured_intervals(monkeypatch):
    # flink_health and redis_rebuild tick like connector_health (CDC_HEALTH_INTERVAL_SECONDS);
    # data_quality_trigger at CDC_DQ_INTERVAL_SECONDS
    from pipeline_defs.lineage import build_lineage
    from pipeline_defs.spec import load_spec
    from pipeline_defs.systems.flink.plugin import flink_health_sensor
    from pipeline_defs.systems.redis.plugin import data_quality_sensor
    from pipeline_defs.systems.redis.rebuild_sensor import build_rebuild_sensor

    monkeypatch.setenv("CDC_PROFILE", "local")
    monkeypatch.delenv("CDC_PIPELINE_SPEC", raising=False)
    for name in ("CDC_HEALTH_INTERVAL_SECONDS", "CDC_DQ_INTERVAL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    spec = load_spec()
    lineage = build_lineage(spec)

    def intervals():
        return (
            flink_health_sensor(lineage).minimum_interval_seconds,
            build_rebuild_sensor(spec, lineage).minimum_interval_seconds,
            data_quality_sensor(lineage).minimum_interval_seconds,
        )

    assert intervals() == (30, 30, 60)
    monkeypatch.setenv("CDC_HEALTH_INTERVAL_SECONDS", "5")
    monkeypatch.setenv("CDC_DQ_INTERVAL_SECONDS", "10")
    assert intervals() == (5, 5, 10)


def test_data_quality_trigger_waits_for_the_run_in_flight(monkeypatch):
    import dagster as dg
    from dagster._core.storage.dagster_run import DagsterRun

    from pipeline_defs.lineage import build_lineage
    from pipeline_defs.spec import load_spec
    from pipeline_defs.systems.redis.plugin import data_quality_sensor
    from resources.kafka import KafkaResource

    lineage = build_lineage(load_spec("pipeline.local.yaml"))
    sensor = data_quality_sensor(lineage, min_run_interval_seconds=0)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_run(DagsterRun(job_name="data_quality", run_id="a" * 36, status=dg.DagsterRunStatus.STARTED))
        # the Kafka resource is never reached: the run in flight decides first
        with dg.build_sensor_context(instance=instance, resources={"kafka": KafkaResource(bootstrap_servers="127.0.0.1:1")}) as ctx:
            data = sensor.evaluate_tick(ctx)
    assert data.run_requests == [] and data.skip_message == "a data_quality run is queued or running"
