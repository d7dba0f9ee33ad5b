"""Flink JobManager REST client: list, inspect, cancel and stop jobs; checkpoints; a few metrics.

Wire contract (Flink docs "REST API", docs/static/generated/rest_v1_dispatcher.yml):
- GET /jobs/overview -> {"jobs": [{"jid", "name", "state", "start-time", "end-time", "duration", ...}]}
- GET /jobs/{id} -> {"jid", "name", "state", "start-time", "vertices": [{"id", "name", "parallelism", "status"}], ...}
- PATCH /jobs/{id}?mode=cancel -> 202
- POST /jobs/{id}/stop {"targetDirectory", "drain"} -> {"request-id"}; GET /jobs/{id}/savepoints/{trigger} ->
  {"status": {"id": "IN_PROGRESS"|"COMPLETED"}, "operation": {"location"} or {"failure-cause": {...}}}
- GET /jobs/{id}/checkpoints -> {"latest": {"completed": {"id", "external_path", ...}|null, ...}, ...}
- GET /jobs/{id}/vertices/{v}/subtasks/metrics?get=a,b&agg=sum -> [{"id": "a", "sum": 1.0}, ...]
Job ids are checked (32 hex digits) before they reach a URL.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from resources.flink_rest import (
    FlinkError,
    FlinkJobNotFound,
    FlinkRestClient,
    FlinkSavepointError,
    check_job_id,
    root_cause,
)

TERMINAL_JOB_STATES = frozenset({"FINISHED", "CANCELED", "FAILED", "SUSPENDED"})
RECORD_METRICS = ("numRecordsIn", "numRecordsOut")


@dataclass(frozen=True)
class JobOverview:
    jid: str
    name: str
    state: str
    start_time: int | None = None
    end_time: int | None = None
    duration: int | None = None


@dataclass(frozen=True)
class Vertex:
    id: str
    name: str
    parallelism: int | None
    status: str | None


@dataclass(frozen=True)
class JobDetails:
    jid: str
    name: str
    state: str
    start_time: int | None
    vertices: tuple[Vertex, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


class FlinkJobsClient(FlinkRestClient):
    system = "Flink JobManager"

    def __init__(self, url: str, *, poll_interval: float = 0.5, **kwargs: Any):
        super().__init__(url, **kwargs)
        self.poll_interval = poll_interval

    def overview(self) -> list[JobOverview]:
        body = self._reads.get("overview", lambda: self._json("GET", "/jobs/overview")) or {}
        return [
            JobOverview(j.get("jid", ""), j.get("name", ""), j.get("state", ""), j.get("start-time"), j.get("end-time"), j.get("duration"))
            for j in body.get("jobs") or ()
        ]

    def running(self, name: str | None = None) -> list[JobOverview]:
        return [j for j in self.overview() if j.state == "RUNNING" and (name is None or j.name == name)]

    def job(self, job_id: str) -> JobDetails:
        body = self._json("GET", f"/jobs/{check_job_id(job_id)}", not_found=FlinkJobNotFound)
        return JobDetails(
            jid=body.get("jid", job_id),
            name=body.get("name", ""),
            state=body.get("state", ""),
            start_time=body.get("start-time"),
            vertices=tuple(
                Vertex(v.get("id", ""), v.get("name", ""), v.get("parallelism"), v.get("status")) for v in body.get("vertices") or ()
            ),
            raw=body,
        )

    def wait_for_state(self, job_id: str, states: Iterable[str], timeout: float = 60.0) -> JobDetails:
        wanted = set(states)
        deadline = time.monotonic() + timeout
        while True:
            details = self.job(job_id)
            if details.state in wanted:
                return details
            if details.state in TERMINAL_JOB_STATES or time.monotonic() >= deadline:
                raise FlinkError(f"{self.system}: job {job_id} ({details.name}) is {details.state}, waited for {'/'.join(sorted(wanted))}")
            self._sleep(self.poll_interval)

    def cancel(self, job_id: str) -> None:
        """PATCH /jobs/{id}?mode=cancel (202). Cancelling is idempotent on Flink's side."""
        self._json("PATCH", f"/jobs/{check_job_id(job_id)}", params={"mode": "cancel"}, not_found=FlinkJobNotFound)

    def stop_with_savepoint(self, job_id: str, target_directory: str | None = None, *, drain: bool = False, timeout: float = 120.0) -> str:
        """Stop the job after a savepoint; returns the savepoint path once the trigger is COMPLETED.
        target_directory None uses the cluster's execution.checkpointing.savepoint-dir."""
        check_job_id(job_id)
        body: dict[str, Any] = {"drain": drain}
        if target_directory:
            body["targetDirectory"] = target_directory
        trigger = self._json("POST", f"/jobs/{job_id}/stop", json=body, idempotent=False, not_found=FlinkJobNotFound)["request-id"]
        deadline = time.monotonic() + timeout
        while True:
            answer = self._json("GET", f"/jobs/{job_id}/savepoints/{trigger}", not_found=FlinkJobNotFound) or {}
            if (answer.get("status") or {}).get("id") == "COMPLETED":
                operation = answer.get("operation") or {}
                if operation.get("location"):
                    return str(operation["location"])
                failure = operation.get("failure-cause") or {}
                cause = root_cause(str(failure.get("stack-trace") or "")) or str(failure.get("class") or "unknown")
                raise FlinkSavepointError(f"{self.system}: stop-with-savepoint of job {job_id} failed: {self._clean(cause)}")
            if time.monotonic() >= deadline:
                raise FlinkSavepointError(
                    f"{self.system}: stop-with-savepoint of job {job_id} not complete after {timeout:.0f}s (trigger {trigger})"
                )
            self._sleep(self.poll_interval)

    def latest_checkpoint_path(self, job_id: str) -> str | None:
        """external_path of the newest completed checkpoint or savepoint whose files still exist; None when none.

        Flink reports them apart (latest.completed / latest.savepoint). A job stopped with a savepoint ends
        FINISHED and discards its checkpoints (retention keeps them only on cancellation, "discarded": true):
        only the savepoint can be resumed from then."""
        body = self._json("GET", f"/jobs/{check_job_id(job_id)}/checkpoints", not_found=FlinkJobNotFound) or {}
        latest = body.get("latest") or {}
        kept = [
            c
            for c in (latest.get("completed"), latest.get("savepoint"))
            if isinstance(c, dict) and c.get("external_path") and not c.get("discarded")
        ]
        return max(kept, key=lambda c: c.get("id") or 0)["external_path"] if kept else None

    def vertex_metrics(self, job_id: str, vertex_id: str, names: Iterable[str] = RECORD_METRICS) -> dict[str, float]:
        """Metrics summed over the vertex's subtasks; names the vertex does not report are left out."""
        path = f"/jobs/{check_job_id(job_id)}/vertices/{check_job_id(vertex_id, 'vertex')}/subtasks/metrics"
        answer = self._json("GET", path, params={"get": ",".join(names), "agg": "sum"}, not_found=FlinkJobNotFound) or []
        return {m["id"]: float(m["sum"]) for m in answer if "sum" in m}

    def record_counts(self, job_id: str) -> dict[str, dict[str, float]]:
        """{vertex name: {"numRecordsIn": n, "numRecordsOut": m}} for every vertex of the job."""
        return {v.name: self.vertex_metrics(job_id, v.id) for v in self.job(job_id).vertices}
