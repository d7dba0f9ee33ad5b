"""Jobs of tests/test_compose_daemon.py, served by a real `dagster code-server` (so the module stands alone)."""

import os
import time

import dagster as dg


@dg.op
def wait_a_while() -> int:
    # long enough for several run-monitoring passes of the daemon (the test sets poll_interval_seconds to 2)
    time.sleep(float(os.environ.get("CDC_TEST_JOB_SECONDS", "8")))
    return 1


@dg.job(description="runs for a while, then succeeds")
def slow_job():
    wait_a_while()


@dg.op
def fail_on_purpose() -> None:
    raise dg.Failure("planned failure of the launch test")


@dg.job(description="fails at once")
def failing_job():
    fail_on_purpose()


defs = dg.Definitions(jobs=[slow_job, failing_job])
