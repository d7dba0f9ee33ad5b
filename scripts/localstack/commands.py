"""up / down / status / start / stop / env / logs over all components.

`up` is idempotent: a component that is up and ready is left alone, one that died (kill -9 included) is
started again after its leftovers are cleared, one running but unusable (stale) is restarted. Independent
components start concurrently; Connect waits for Kafka.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import signal
import sys
import threading
import time

from . import connect, flink, install, jvm, kafka, postgres, redis_server
from .config import HOME, HOST, PORT_ENV, PORTS, RUN, SECRET_KEYS, StackError, endpoints, log
from .credentials import ensure_credentials
from .procs import (
    Service,
    alive,
    clear_leftovers,
    port_open,
    safe,
    signal_leader,
    stop,
    stray_pids,
    tail,
    wait_gone,
    wait_ready,
)

KAFKA, CONNECT, REDIS, POSTGRES = kafka.SERVICE, connect.SERVICE, redis_server.SERVICE, postgres.SERVICE
JOBMANAGER, TASKMANAGER, GATEWAY = flink.JOBMANAGER, flink.TASKMANAGER, flink.GATEWAY
COMPONENTS: list[Service] = [REDIS, POSTGRES, KAFKA, CONNECT, JOBMANAGER, TASKMANAGER, GATEWAY]
BY_NAME = {c.name: c for c in COMPONENTS}
ALIASES = {"flink": [JOBMANAGER, TASKMANAGER, GATEWAY]}
NEEDS = {CONNECT: KAFKA}  # started only once the other is ready


def _where(svc: Service) -> str:
    if svc is TASKMANAGER:
        free, total = flink.tm_slots()
        return f"the JobManager with {free} of {total} slots free"
    port = {"connect": "connect", "flink-jobmanager": "flink-rest", "flink-gateway": "flink-gateway"}.get(svc.name)
    port = port or svc.ports[0]
    scheme = "http://" if svc.name in ("connect", "flink-jobmanager", "flink-gateway") else ""
    return f"{scheme}{HOST}:{PORTS[port]}"


def locked(fn):
    """Serialize up/down/start/stop of one stack home: two concurrent `up`s would each start a
    worker and leave a pid file naming the one that lost the port."""
    import fcntl

    @functools.wraps(fn)
    def run(*args):
        HOME.mkdir(parents=True, exist_ok=True)
        with open(HOME / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return fn(*args)

    return run


def _install() -> None:
    RUN.mkdir(parents=True, exist_ok=True)
    install.ensure_jars()
    install.ensure_redis_sink()
    install.ensure_flink_dist()
    install.rejson_path()
    ensure_credentials()
    jvm.log4j()


def _begin(svc: Service) -> str:
    """Start svc unless it runs: 'running' or 'started' (not ready yet, see _finish)."""
    pid = svc.pid()
    if pid:
        reason = svc.stale(pid) if svc.stale else None
        if not reason:
            return "running"
        log(f"{svc.name} restarts: {reason}")
        stop(svc)
    clear_leftovers(svc)
    for key in svc.ports:
        if port_open(PORTS[key]):
            var = PORT_ENV[key][0]
            raise StackError(
                f"{svc.name}: port {PORTS[key]} ({var}) is taken by a process that is not this "
                f"stack's {svc.name}; stop it or choose another {var}"
            )
    svc.t0 = time.monotonic()
    svc.launch()
    return "started"


def _finish(svc: Service, state: str) -> bool:
    if state == "running":
        if safe(svc.probe):
            log(f"{svc.name} already up on {_where(svc)}")
        else:  # alive but not answering: perhaps still starting; else restart it
            try:
                wait_ready(svc)
                log(f"{svc.name} up on {_where(svc)}")
            except StackError as e:
                log(f"{svc.name} is running but not ready ({str(e).splitlines()[0]}); restarting it")
                stop(svc)
                return _finish(svc, _begin(svc))
    else:
        wait_ready(svc)
        log(f"{svc.name} ready on {_where(svc)} ({time.monotonic() - svc.t0:.1f}s)")
    if svc.after_ready:
        svc.after_ready()
    return True


def _write_endpoints(env: dict[str, str]) -> None:
    path = RUN / "endpoints.json"
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the generated passwords
    with os.fdopen(fd, "w") as f:
        json.dump(env, f, indent=2)
    os.replace(tmp, path)


def _exports(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())


@locked
def up() -> dict[str, str]:
    t0 = time.monotonic()
    log(f"home {HOME}; ports " + " ".join(f"{k}={v}" for k, v in PORTS.items()))
    _install()
    # Each component comes up in a thread of its own (Connect once Kafka is up), so waits overlap and each
    # progress line tells that component's own time. One failing component does not keep the others
    # down; the errors are raised at the end.
    done = {svc: threading.Event() for svc in COMPONENTS}
    ok: set[Service] = set()
    errors: list[str] = []

    def bring_up(svc: Service) -> None:
        try:
            dep = NEEDS.get(svc)
            if dep:
                done[dep].wait()
                if dep not in ok:
                    raise StackError(f"{svc.name} not started: {dep.name} is not up")
            _finish(svc, _begin(svc))
            ok.add(svc)
        except StackError as e:
            errors.append(str(e))
        except Exception as e:
            errors.append(f"{svc.name}: {e!r}")
        finally:
            done[svc].set()

    threads = [threading.Thread(target=bring_up, args=(svc,), name=svc.name) for svc in COMPONENTS]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise StackError("\n".join(errors))
    env = endpoints()
    _write_endpoints(env)
    log(f"up in {time.monotonic() - t0:.1f}s")
    # Secrets are not echoed into logs: they are in run/endpoints.json (mode 600) and `env` prints them.
    print(_exports({k: v for k, v in env.items() if k not in SECRET_KEYS}))
    print(f'# {", ".join(SECRET_KEYS)}: eval "$(scripts/stack env)" or read {RUN / "endpoints.json"}')
    return env


@locked
def down() -> None:
    # Connect first so it does not log a storm of broker disconnects; then all others at once.
    stop(CONNECT)
    pids = {}
    for svc in COMPONENTS:
        pid = svc.pid()
        if pid:
            signal_leader(pid, svc.stop_signal)
            pids[pid] = svc.name
        else:
            clear_leftovers(svc)
    wait_gone(pids)
    for svc in COMPONENTS:
        svc.pidfile.unlink(missing_ok=True)
    strays = {pid: f"stray pid {pid}" for pid in stray_pids()}
    for pid in strays:
        signal_leader(pid, signal.SIGTERM)
    wait_gone(strays)
    log("down")


def status() -> bool:
    ok = True
    for svc in COMPONENTS:
        pid = svc.pid()
        ready = bool(pid) and safe(svc.probe)
        ok &= ready
        state = "ready" if ready else ("starting/unhealthy" if pid else "down")
        print(f"{svc.name:18} {state:20} pid={pid or '-'} log={svc.logfile}")
    return ok


def _components(name: str) -> list[Service]:
    if name in ALIASES:
        return ALIASES[name]
    if name not in BY_NAME:
        raise StackError(f"unknown component {name!r}; one of {', '.join([*BY_NAME, *ALIASES])}")
    return [BY_NAME[name]]


@locked
def stop_component(name: str) -> None:
    for svc in reversed(_components(name)):
        stop(svc)
        log(f"{svc.name} stopped")


@locked
def start_component(name: str) -> None:
    _install()
    for svc in _components(name):
        _finish(svc, _begin(svc))


def main(argv: list[str], doc: str = "") -> int:
    cmd = argv[0] if argv else "status"
    try:
        if cmd == "up":
            up()
        elif cmd == "down":
            down()
        elif cmd == "status":
            return 0 if status() else 1
        elif cmd == "env":
            print(_exports(endpoints()))
        elif cmd == "logs":
            for svc in [s for n in (argv[1:] or list(BY_NAME)) for s in _components(n)]:
                print(tail(svc.logfile, 80))
        elif cmd in ("stop", "start") and len(argv) == 2:
            (stop_component if cmd == "stop" else start_component)(argv[1])
        else:
            print(doc)
            return 2
    except StackError as e:
        print(f"stack: ERROR: {e}", file=sys.stderr)
        return 1
    return 0


__all__ = ["COMPONENTS", "CONNECT", "KAFKA", "POSTGRES", "REDIS", "alive", "down", "main", "status", "up"]
