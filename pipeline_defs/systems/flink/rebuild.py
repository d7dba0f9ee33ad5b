"""Rebuild an aggregate's output from the CDC topics: cancel the object's job and submit it again
from the earliest offsets WITHOUT its state (no checkpoint, no savepoint). The job re-counts every
row version of the source topic and writes every window again; used when the output topic lost
the records the Redis sink would need for a replay (deleted, or cut by retention)."""

from __future__ import annotations

import time

from pipeline_defs.core.registry import CannotRebuild
from pipeline_defs.systems.flink.decisions import ACTIVE_STATES, TERMINAL_STATES, jobs_of
from pipeline_defs.systems.flink.jobs import GatewayClient, JobsClient, submit_job, wait_running
from pipeline_defs.systems.flink.sql import FlinkJob


def rebuild_job(job: FlinkJob, gateway: GatewayClient, jobs: JobsClient, *, wait_seconds: float = 60.0) -> str:
    active = [j for j in jobs_of(jobs.overview(), job.object_name) if j.state in ACTIVE_STATES]
    for j in active:
        jobs.cancel(j.jid)
    deadline = time.monotonic() + wait_seconds
    for j in active:
        while str(jobs.job(j.jid).state) not in TERMINAL_STATES:
            if time.monotonic() > deadline:
                raise CannotRebuild(f"Flink job {j.jid} ({j.name}) did not stop within {wait_seconds:.0f}s of its cancel")
            time.sleep(0.3)
    job_id = submit_job(job, gateway, restore_path=None)
    state = wait_running(jobs, job_id, wait_seconds)
    if state != "RUNNING":
        raise CannotRebuild(f"the resubmitted Flink job {job_id} ({job.name}) is {state}, not RUNNING")
    cancelled = ", ".join(j.jid for j in active) or "none running"
    return f"Flink job {job.name}: cancelled {cancelled}; resubmitted as {job_id} from the earliest offsets without state"
