"""The local profile's whole pipeline (PostgreSQL -> Debezium -> Kafka -> Flink -> our Redis sink -> Redis)
provisioned by the Dagster jobs on the session stack, for the healing tests. provision_pipeline is
idempotent: a module that finds it already provisioned pays only the reads."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

SINK = "redis-sink-json"
PREFIX = "USER_AGGREGATE_EVENTS:"
MATCHES = "matches_postgres"


def local_pipeline(stack, tmp_path_factory):
    """Generator for a module fixture: (spec, defs, instance) with the demo rows flowing."""
    from pipeline_defs.definitions import build_definitions
    from pipeline_defs.spec import load_spec

    mp = pytest.MonkeyPatch()
    mp.setenv("CDC_PROFILE", "local")
    mp.delenv("CDC_PIPELINE_SPEC", raising=False)
    home = tmp_path_factory.mktemp("dagster_home")
    mp.setenv("DAGSTER_HOME", str(home))
    try:
        # the compose profile's end-to-end tests write the same keyspace (USER_AGGREGATE_EVENTS:<NAME>) in the
        # session's Redis with their own document shape: start from a keyspace only this pipeline writes
        import redis as redis_py

        r = redis_py.Redis.from_url(os.environ["REDIS_URL"])
        _clear(r)
        # another module of the session (the chaos test) may already run this pipeline: its sink is then past
        # every record, and the keyspace cleared above comes back only through the product's own rebuild
        already_running = _sink_exists()
        spec = load_spec()
        defs = build_definitions(spec)
        instance = dg.DagsterInstance.local_temp(str(home))
        for job in ("provision_pipeline", "seed_demo_events"):
            result = defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)
            assert result.success, f"{job} failed: {[e.message for e in result.all_events if e.is_failure][:3]}"
        ctx = type("Local", (), {})()
        ctx.spec, ctx.defs, ctx.instance = spec, defs, instance
        if already_running:
            result = run(ctx, "rebuild_redis", {"ops": {"rebuild": {"config": {"sinks": [SINK]}}}})
            assert result.success, f"rebuild_redis failed: {[e.message for e in result.all_events if e.is_failure][:3]}"
        wait_data_passes(ctx)
        yield ctx
        _clear(r)  # and leave it to the next module in the same state
    finally:
        mp.undo()


def _sink_exists() -> bool:
    from resources.connect import KafkaConnectResource

    with KafkaConnectResource(url=os.environ["KAFKA_CONNECT_URL"]).get_client() as connect:
        return connect.get_config(SINK) is not None


def _clear(r) -> None:
    """The keyspace and its sink's replay guard (another module may have written the topic again from offset 0)."""
    from pipeline_defs.systems.redis.config import offsets_key_of

    stale = list(r.scan_iter(match=PREFIX + "*"))
    if stale:
        r.delete(*stale)
    r.delete(offsets_key_of(PREFIX.rstrip(":")))


def run(ctx, job: str, run_config=None, tags=None):
    return ctx.defs.resolve_job_def(job).execute_in_process(
        instance=ctx.instance, raise_on_error=False, run_config=run_config or {}, tags=tags
    )


def evaluations(result, check: str = MATCHES) -> list:
    return [e for e in result.get_asset_check_evaluations() if e.check_name == check]


def data_check(ctx):
    """Run data_quality; the matches_postgres evaluation."""
    result = run(ctx, "data_quality")
    [ev] = evaluations(result)
    return ev


def wait_data_passes(ctx, timeout: float = 240.0):
    deadline = time.monotonic() + timeout
    ev = None
    while time.monotonic() < deadline:
        ev = data_check(ctx)
        if ev.passed:
            return ev
        time.sleep(5)
    raise AssertionError(f"{MATCHES} never passed: {ev.description if ev else None}")


def endpoints() -> dict[str, str]:
    return {k: os.environ[k] for k in ("KAFKA_CONNECT_URL", "KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL")}
