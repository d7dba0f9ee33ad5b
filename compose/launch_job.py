#!/usr/bin/env python3
"""Launch a Dagster job through the instance, wait for the run to end, exit with the run's outcome.

    cdc-launch-job -w /opt/dagster/dagster_home/workspace.yaml -j provision_pipeline [--timeout 7200]

Why not `dagster job execute`: it runs the job inside the calling process, which no run launcher knows about. With
run monitoring on, the daemon asks the DockerRunLauncher for the run's container, finds none ("No container ID tag
for run.") and marks a healthy run FAILED mid-run. `dagster job launch` instead queues the run; the daemon starts it
in its own container (with its job's secrets only), and monitoring follows that container.

Exit status: 0 SUCCESS, 1 FAILURE or CANCELED, 2 the run could not be launched, 3 timed out waiting (the run goes on).
Copied into the image as /usr/local/bin/cdc-launch-job (compose/Dockerfile); scripts/run-main --compose runs it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid

PROG = "cdc-launch-job"


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _failure_message(instance, run_id: str) -> str:
    from dagster import DagsterEventType

    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records
    if not records:
        return ""
    message = records[-1].event_log_entry.dagster_event.message or ""
    return message.strip().splitlines()[0][:300] if message.strip() else ""


def wait_for_run(run_id: str, job: str, timeout: float, poll: float) -> int:
    from dagster import DagsterInstance
    from dagster._core.storage.dagster_run import DagsterRunStatus

    deadline = time.monotonic() + timeout
    last = None
    with DagsterInstance.get() as instance:
        while True:
            run = instance.get_run_by_id(run_id)
            if run is None:
                _say(f"run {run_id} of {job} is not in the instance's run storage")
                return 2
            if run.status != last:
                _say(f"{job} run {run_id}: {run.status.value}")
                last = run.status
            if run.is_finished:
                if run.status == DagsterRunStatus.SUCCESS:
                    return 0
                reason = _failure_message(instance, run_id)
                _say(f"{job} run {run_id} ended {run.status.value}" + (f": {reason}" if reason else ""))
                return 1
            if time.monotonic() > deadline:
                _say(f"{job} run {run_id} is still {run.status.value} after {timeout:.0f}s; it goes on (see the UI)")
                return 3
            time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("-w", "--workspace", required=True, help="workspace.yaml of the code location")
    parser.add_argument("-j", "--job", required=True)
    parser.add_argument("--location", help="code location name (needed only with several locations)")
    parser.add_argument("--timeout", type=float, default=7200.0, help="seconds to wait for the run (default 7200)")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between status reads (default 5)")
    args = parser.parse_args(argv)

    run_id = str(uuid.uuid4())
    cmd = [sys.executable, "-m", "dagster", "job", "launch", "-w", args.workspace, "-j", args.job, "--run-id", run_id]
    if args.location:
        cmd += ["--location", args.location]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        _say(f"could not launch {args.job}: {lines[-1] if lines else f'dagster job launch exited {proc.returncode}'}")
        return 2
    _say(f"launched {args.job} as run {run_id}; waiting for it to end")
    try:
        return wait_for_run(run_id, args.job, args.timeout, args.poll)
    except KeyboardInterrupt:
        _say(f"stopped waiting; run {run_id} goes on (see the UI)")
        return 130


if __name__ == "__main__":
    sys.exit(main())
