"""The README's main-job command: `./scripts/run-main` with no argument runs the LOCAL profile end to end on
this machine (bootstrap, stack up, provision_pipeline, seed_demo_events, wait until Redis matches PostgreSQL)
and prints the seed recipe's check, `JSON.GET USER_AGGREGATE_EVENTS:<user>` per user.

It runs as a subprocess against the session's stack (its STACK_*_PORT variables), with a fresh DAGSTER_HOME.
The spec is pipeline.local.yaml under names of its own (CDC_PIPELINE_SPEC, tests/integration/local_env.py), so
the run neither meets nor disturbs other tests' connectors, slots, Flink jobs, topics or keys; the demo rows
keep the seed's CURRENT_TIMESTAMP. Everything it created is removed afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import time

import pytest
import yaml

from tests.integration.local_env import REPO, LocalPipeline, renamed_spec

pytestmark = pytest.mark.integration


def test_run_main_without_arguments_runs_the_local_profile(stack, tmp_path):
    tag = "rm" + os.urandom(3).hex()
    doc = renamed_spec(tag, fixed_initial_time=False)
    spec_file = tmp_path / "pipeline.local.yaml"
    spec_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    pipe = LocalPipeline(stack, tmp_path, tag=tag, doc=doc)  # knows every name the run creates, for the clean-up
    env = {k: v for k, v in os.environ.items() if k != "CDC_PROFILE"}
    env.update(DAGSTER_HOME=str(tmp_path / "dagster_home"), CDC_PIPELINE_SPEC=str(spec_file))
    started = time.monotonic()
    try:
        proc = subprocess.run([str(REPO / "scripts" / "run-main")], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        took = time.monotonic() - started
        assert proc.returncode == 0, f"exit {proc.returncode} after {took:.0f}s\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        for secret in (stack["POSTGRES_ADMIN_PASSWORD"], stack["POSTGRES_CDC_PASSWORD"]):
            assert secret not in proc.stdout and secret not in proc.stderr

        agg = pipe.aggregate
        printed = {
            m.group(1): json.loads(m.group(2)) for m in re.finditer(rf"^JSON\.GET {agg}:(\w+)\n(\{{.*\}})$", proc.stdout, re.MULTILINE)
        }
        assert set(printed) == {"jdoe", "rsmith", "amary"}, proc.stdout
        assert re.search(rf"^JSON\.GET {agg}:jwick\n\(nil\)$", proc.stdout, re.MULTILINE), proc.stdout
        # each printed count is what PostgreSQL holds for that user in that window
        with pipe.pg() as conn:
            for user, d in printed.items():
                assert d["NAME"] == user and d["WINDOW_END"] - d["WINDOW_START"] == 60_000
                start = dt.datetime.fromtimestamp(d["WINDOW_START"] / 1000, dt.UTC).replace(tzinfo=None)
                [(n,)] = conn.execute(
                    f'SELECT count(*) FROM "{pipe.schema}"."POC_CLICKSTREAM" WHERE "NAME" = %s '
                    'AND "EVENTTIMESTAMP" >= %s AND "EVENTTIMESTAMP" < %s',
                    [user, start, start + dt.timedelta(minutes=1)],
                ).fetchall()
                assert d["EVENT_COUNT"] == n >= 1, (user, d, n)
        print(f"scripts/run-main: exit 0 in {took:.0f}s")
    finally:
        left = pipe.close()
        assert not left, f"clean-up left: {left}"
