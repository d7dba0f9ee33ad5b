"""scripts/stack on its own ports and home: `up` is idempotent, `status` tells, a component killed with -9
comes back with the next `up` (alone), `down` leaves no process -- Flink's and Postgres's included."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from scripts.localstack.config import shifted_port_env

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = ["redis", "postgres", "kafka", "connect", "flink-jobmanager", "flink-taskmanager", "flink-gateway"]
PORTS = shifted_port_env(20_000)  # a second stack beside the default one


def _pids_with(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                pass
    return [p for p in found if p != os.getpid()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _http_json(url: str):
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture
def home(stack):  # `stack`: the jars, plugins and Flink runtime are resolved in the main home already
    # Postgres runs as the `postgres` OS user when we are root, so the home must be searchable by it:
    # pytest's tmp_path lives under a 0700 directory.
    home = Path(tempfile.mkdtemp(prefix="cdc-stack-test-")) / "stack"
    os.chmod(home.parent, 0o755)
    home.mkdir()
    main_home = Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack"))
    for part in ("lib", "plugins", "flink-jars"):  # this test is about processes, not Maven
        shutil.copytree(main_home / part, home / part, symlinks=True)
    (home / "flink-dist").symlink_to(main_home.resolve() / "flink-dist")  # 340 MB, only read
    for stamp in main_home.glob(".jars-*"):
        shutil.copy2(stamp, home / stamp.name)
    yield home
    shutil.rmtree(home.parent, ignore_errors=True)


def test_up_twice_kill_minus_9_status_down(home):
    env = {**os.environ, "CDC_STACK_HOME": str(home), **PORTS}
    run = lambda *a: subprocess.run(
        [sys.executable, str(REPO / "scripts" / "stack.py"), *a], env=env, check=False, capture_output=True, text=True, timeout=400
    )
    pidfile = lambda c: home / "run" / f"{c}.pid"
    cluster_name = None
    try:
        first = run("up")
        assert first.returncode == 0, first.stdout + first.stderr
        assert (
            "ports kafka=29092 controller=29093 connect=28083 redis=26379 postgres=25433 flink-rest=28081 "
            "flink-gateway=28091 flink-rpc=26123 flink-blob=26124"
        ) in first.stdout
        for line in (
            "export KAFKA_CONNECT_URL=http://127.0.0.1:28083",
            "export POSTGRES_PORT=25433",
            "export POSTGRES_DB=cdc",
            "export POSTGRES_ADMIN_USER=cdc_admin",
            "export FLINK_REST_URL=http://127.0.0.1:28081",
            "export FLINK_GATEWAY_URL=http://127.0.0.1:28091",
        ):
            assert line in first.stdout

        # generated secrets: mode 600, in endpoints.json, never in the progress output
        creds = json.loads((home / "credentials.json").read_text())
        assert stat.S_IMODE((home / "credentials.json").stat().st_mode) == 0o600
        endpoints = json.loads((home / "run" / "endpoints.json").read_text())
        assert stat.S_IMODE((home / "run" / "endpoints.json").stat().st_mode) == 0o600
        for key in ("POSTGRES_ADMIN_PASSWORD", "POSTGRES_CDC_PASSWORD"):
            assert len(creds[key]) >= 24 and endpoints[key] == creds[key]
            assert creds[key] not in first.stdout + first.stderr
        assert f"export POSTGRES_CDC_PASSWORD={creds['POSTGRES_CDC_PASSWORD']}" in run("env").stdout

        # the Connect worker resolves ${env:POSTGRES_CDC_PASSWORD}: it has the variable
        connect_pid = int(pidfile("connect").read_text())
        worker_env = dict(kv.split(b"=", 1) for kv in Path(f"/proc/{connect_pid}/environ").read_bytes().split(b"\0") if b"=" in kv)
        assert worker_env[b"POSTGRES_CDC_PASSWORD"].decode() == creds["POSTGRES_CDC_PASSWORD"]
        props = (home / "run" / "connect-distributed.properties").read_text()
        assert "config.providers=env,file" in props

        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1",
            port=int(PORTS["STACK_POSTGRES_PORT"]),
            dbname="cdc",
            user="cdc_admin",
            password=creds["POSTGRES_ADMIN_PASSWORD"],
        )
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT current_setting('wal_level'), current_setting('max_wal_senders')::int, "
                "current_setting('max_replication_slots')::int, current_setting('cluster_name'), "
                "(SELECT rolsuper FROM pg_roles WHERE rolname = 'cdc_admin'), "
                "(SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'cdc_admin')"
            )
            wal_level, senders, slots, cluster_name, superuser, scram = cur.fetchone()
        conn.close()
        assert (wal_level, superuser, scram) == ("logical", True, True) and senders >= 4 and slots >= 4
        assert (home / "run" / "postgres" / "socket" / f".s.PGSQL.{PORTS['STACK_POSTGRES_PORT']}").exists()

        overview = _http_json("http://127.0.0.1:28081/overview")
        assert overview["taskmanagers"] == 1 and overview["slots-total"] == 4
        assert _http_json("http://127.0.0.1:28091/v1/info")["version"] == "2.2.1"

        second = run("up")
        assert second.returncode == 0, second.stdout + second.stderr
        for c in COMPONENTS:
            assert f"{c} already up" in second.stdout
        status = run("status")
        assert status.returncode == 0, status.stdout
        assert [line.split()[:2] for line in status.stdout.splitlines()] == [[c, "ready"] for c in COMPONENTS]

        # kill -9 the TaskManager and Redis (with a JSON document in it): `up` brings back just those two
        rcli = ["redis-cli", "-h", "127.0.0.1", "-p", "26379"]
        assert (
            subprocess.run([*rcli, "JSON.SET", "doc", "$", '{"n": 1}'], check=False, capture_output=True, text=True).stdout.strip() == "OK"
        )
        time.sleep(1.5)  # appendfsync everysec
        before = {c: int(pidfile(c).read_text()) for c in COMPONENTS}
        for c in ("flink-taskmanager", "redis"):
            os.kill(before[c], signal.SIGKILL)
        third = run("up")
        assert third.returncode == 0, third.stdout + third.stderr
        assert "flink-taskmanager ready" in third.stdout and "redis ready" in third.stdout
        after = {c: int(pidfile(c).read_text()) for c in COMPONENTS}
        for c in COMPONENTS:
            if c in ("flink-taskmanager", "redis"):
                assert after[c] != before[c] and not _alive(before[c])
            else:
                assert after[c] == before[c] and f"{c} already up" in third.stdout
        rid = (home / "run" / "flink-taskmanager.resource-id").read_text().strip()
        assert rid in [tm["id"] for tm in _http_json("http://127.0.0.1:28081/taskmanagers")["taskmanagers"]]
        got = subprocess.run([*rcli, "JSON.GET", "doc"], check=False, capture_output=True, text=True).stdout.strip()
        assert json.loads(got) == {"n": 1}  # AOF: the restart kept the data
        assert _pids_with(str(home))
    finally:
        down = run("down")
    assert down.returncode == 0, down.stdout + down.stderr
    # nothing strays: JVMs and the postmaster carry the home on their command line, Postgres's children
    # (which leave the postmaster's process group) its cluster name, redis-server its port
    assert _pids_with(str(home)) == []
    assert cluster_name and re.fullmatch(r"cdcstack-[0-9a-f]{8}", cluster_name)
    assert _pids_with(f"{cluster_name}:") == []
    assert _pids_with("redis-server 127.0.0.1:26379") == []
    assert run("status").returncode == 1
