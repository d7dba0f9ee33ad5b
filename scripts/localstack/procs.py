"""Processes of the stack: pid files, spawning into a session of their own, readiness waits, stopping.

Every component runs as the leader of its own session (start_new_session), so its process group id is
its pid: whatever it forked (Postgres backends) can be found and ended by group even after the leader
was killed with -9.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .config import HOST, LOGS, MARKER_PROPERTY, PG_CLUSTER_NAME, PORTS, RUN, StackError, log


@dataclass(eq=False)
class Service:
    name: str
    probe: Callable[[], bool] = field(repr=False)  # ready? (may raise while starting)
    launch: Callable[[], None] = field(repr=False)  # write its config and spawn it; it is not running
    timeout: float = 60
    what: str = ""  # what `probe` checks, for error messages
    stop_signal: int = signal.SIGTERM
    after_ready: Callable[[], None] | None = field(default=None, repr=False)
    # a running process that cannot serve as it is (e.g. a worker started before its plugins changed): why
    stale: Callable[[int], str | None] | None = field(default=None, repr=False)
    ports: tuple[str, ...] = ()  # PORTS keys it listens on
    t0: float = field(default=0.0, repr=False)
    # in the command line of children that leave the leader's process group (Postgres backends call setsid)
    child_token: str | None = None  # when `up` launched it (for the progress line)

    @property
    def pidfile(self) -> Path:
        return RUN / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return LOGS / f"{self.name}.log"

    def recorded_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def pid(self) -> int | None:
        """The live process of this component; a recycled pid that is no longer ours does not count."""
        pid = self.recorded_pid()
        return pid if pid is not None and alive(pid) and owned(pid) else None


def owned(pid: int) -> bool:
    """Whether pid belongs to this stack home: JVMs and Flink's launch scripts carry the marker (as a JVM
    flag or a Flink dynamic property), Postgres processes the cluster name (the postmaster as a setting),
    redis-server its listen address (it rewrites its argv). Narrow on purpose: `down` must not end
    someone's `less` of a log file."""
    cmd = cmdline(pid)
    return (
        f"{MARKER_PROPERTY} " in cmd
        or f"{PG_CLUSTER_NAME}:" in cmd
        or (f" cluster_name={PG_CLUSTER_NAME} " in cmd and cmd.split(" ", 1)[0].endswith("postgres"))
        or re.search(rf"^\S*redis-server {re.escape(HOST)}:{PORTS['redis']}\b", cmd) is not None
        or (cmd.split(" ", 1)[0].endswith("redis-server") and f" {RUN}/redis-data " in cmd)
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours still answers kill(0); look at its state
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        return state != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _stat_fields(pid: int) -> list[str]:
    # fields after "(comm)"; comm may contain spaces and parentheses
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()


def start_time(pid: int) -> float:
    """When pid started, as a Unix time."""
    ticks = int(_stat_fields(pid)[19])
    btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def group_members(pgid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int(_stat_fields(int(proc.name))[2]) == pgid and alive(int(proc.name)):
                    found.append(int(proc.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def http_json(url: str, timeout: float = 3, method: str = "GET"):
    req = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def safe(fn: Callable[[], object]) -> bool:
    try:
        return bool(fn())
    except Exception:
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    return f"--- last {lines} lines of {path} ---\n" + "\n".join(text[-lines:])


def spawn(svc: Service, argv: list[str], *, env: dict[str, str] | None = None, user: str | None = None, cwd: Path | None = None) -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(svc.logfile, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {svc.name}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=cwd or RUN,
            env=env,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
    svc.pidfile.write_text(str(proc.pid))
    return proc.pid


def wait_ready(svc: Service, timeout: float | None = None) -> None:
    timeout = svc.timeout if timeout is None else timeout
    deadline = time.monotonic() + timeout
    last_err = ""
    while time.monotonic() < deadline:
        # our own child: alive is enough (its command line is the parent's until exec)
        pid = svc.recorded_pid()
        if pid is None or not alive(pid):
            raise StackError(f"{svc.name} exited while starting ({_exit_note(pid)}).\n{tail(svc.logfile)}")
        try:
            if svc.probe():
                return
        except Exception as e:
            last_err = str(e)
        time.sleep(0.5)
    raise StackError(f"{svc.name} not ready after {timeout:.0f}s ({svc.what}; last error: {last_err}).\n{tail(svc.logfile)}")


def _exit_note(pid: int | None) -> str:
    if pid is None:
        return "no pid file"
    try:
        status = os.waitpid(pid, os.WNOHANG)[1]  # it is our child when we spawned it
    except ChildProcessError:
        return f"pid {pid}"
    return f"pid {pid}, " + (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit code {os.WEXITSTATUS(status)}")


def signal_leader(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_gone(pids: dict[int, str], grace: float = 25) -> None:
    """Wait for pids (leaders of their groups) to exit; SIGKILL the group of any that outlive `grace`,
    and of every one the leftovers of its group."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.2)
    for pid, name in pids.items():
        if alive(pid):
            log(f"{name} did not stop within {grace:.0f}s; killing it" if grace else f"killing {name}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        kill_group(pid)


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of process group pgid that is ours (a dead leader's orphans included); the
    check keeps a recycled pgid of someone else's safe."""
    members = [p for p in group_members(pgid) if owned(p)]
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in members):
        time.sleep(0.1)
    try:
        os.waitpid(pgid, os.WNOHANG)  # reap it if it was our child
    except ChildProcessError:
        pass


def stop(svc: Service, grace: float = 25) -> None:
    pid = svc.pid()
    if pid:
        signal_leader(pid, svc.stop_signal)
        wait_gone({pid: svc.name}, grace)
    else:
        clear_leftovers(svc)
    svc.pidfile.unlink(missing_ok=True)


def clear_leftovers(svc: Service) -> None:
    """A leader killed with -9 may leave children (Postgres backends hold its shared memory): end them."""
    pid = svc.recorded_pid()
    if pid is not None and not (alive(pid) and owned(pid)):
        kill_group(pid)
    if svc.child_token and svc.pid() is None:
        orphans = [p for p in stray_pids() if svc.child_token in cmdline(p)]
        wait_gone({p: f"{svc.name} leftover {p}" for p in orphans}, grace=0)


def stray_pids() -> list[int]:
    """Processes of this stack home whatever their pid files say (see owned)."""
    me = {os.getpid(), os.getppid()}
    return [
        int(p.name)
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and int(p.name) not in me and alive(int(p.name)) and owned(int(p.name))
    ]
