"""A throw-away PostgreSQL server for tests: Debian's `postgresql` binaries, a fresh cluster in a temp dir.

Usage in a test module::

    from fixtures_postgres import postgres_server  # noqa: F401  (pytest fixture, session scoped)

    def test_x(postgres_server):
        dsn = postgres_server.url(postgres_server.create_database("x"))

`start_postgres()` is the same thing as a context manager; `start_postgres(settings=LOGICAL_SETTINGS)` and the
`logical_postgres_server` fixture run a server with logical decoding on (wal_level=logical), for CDC tests. The server listens on 127.0.0.1 on a free port with
password (SCRAM) authentication for TCP, so clients exercise the same login path as the compose stack's
DAGSTER_POSTGRES_* settings. PostgreSQL refuses to run as root: when the tests run as root the cluster is created
and started as the `postgres` system user (the Debian package creates it) through `runuser`/`su`.

Nothing is skipped: a missing PostgreSQL installation fails the test with the reason (scripts/bootstrap installs
the `postgresql` package).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SUPERUSER = "cdc_test"
# what a Debezium PostgreSQL source needs from the server (wal_level only changes at server start)
LOGICAL_SETTINGS = {"wal_level": "logical", "max_replication_slots": "8", "max_wal_senders": "8"}


class PostgresUnavailable(RuntimeError):
    pass


def find_postgres_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<major>/bin that has initdb, pg_ctl and postgres (or PG_BIN_DIR)."""
    candidates = [os.environ["PG_BIN_DIR"]] if os.environ.get("PG_BIN_DIR") else []

    def major(path: str) -> float:
        m = re.search(r"/postgresql/(\d+(?:\.\d+)?)/bin", path)
        return float(m.group(1)) if m else 0.0

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)
    for c in candidates:
        d = Path(c)
        if all((d / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return d
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin/{initdb,pg_ctl,postgres}); "
        "install Debian's `postgresql` package (scripts/bootstrap does) or set PG_BIN_DIR"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    bin_dir: Path
    data_dir: Path
    databases: list[str] = field(default_factory=list)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres"):
        import psycopg2  # dagster-postgres depends on psycopg2-binary

        return psycopg2.connect(host=self.host, port=self.port, user=self.user, password=self.password, dbname=dbname)

    def create_database(self, name: str | None = None) -> str:
        """Create a new empty database and return its name (a fresh one per caller keeps tests independent)."""
        name = name or f"db_{secrets.token_hex(4)}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"unsafe database name {name!r}")
        conn = self.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.databases.append(name)
        return name


def _as_cluster_owner(argv: list[str], owner: str | None, **kwargs) -> subprocess.CompletedProcess:
    """Run argv as `owner` (when we are root) or as ourselves."""
    if owner is not None:
        if shutil.which("runuser"):
            argv = ["runuser", "-u", owner, "--", *argv]
        elif shutil.which("su"):
            argv = ["su", owner, "-s", "/bin/sh", "-c", shlex.join(argv)]
        else:
            raise PostgresUnavailable("running as root but neither `runuser` nor `su` is available")
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 120)
    return subprocess.run(argv, check=False, **kwargs)


def _check(proc: subprocess.CompletedProcess, what: str, log: Path | None = None) -> None:
    if proc.returncode != 0:
        tail = ""
        if log is not None and log.exists():
            tail = "\n--- server log ---\n" + log.read_text(errors="replace")[-4000:]
        raise PostgresUnavailable(f"{what} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}{tail}")


@contextlib.contextmanager
def start_postgres(*, attempts: int = 3, settings: dict[str, str] | None = None) -> Iterator[PostgresServer]:
    """initdb + pg_ctl start on 127.0.0.1:<free port>; stopped and deleted on exit. `settings` are extra
    server parameters (-c name=value)."""
    for k, v in (settings or {}).items():
        if not re.fullmatch(r"[a-z_]+", k) or not re.fullmatch(r"[A-Za-z0-9_.]+", v):
            raise ValueError(f"unsafe server setting {k}={v!r}")
    bin_dir = find_postgres_bin_dir()
    owner: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as e:
            raise PostgresUnavailable("running as root and there is no `postgres` system user") from e
        owner = "postgres"

    base = Path(tempfile.mkdtemp(prefix="cdc-test-pg-"))
    data_dir, sock_dir, log = base / "data", base / "sock", base / "server.log"
    password = secrets.token_urlsafe(16)
    started = False
    try:
        sock_dir.mkdir()
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n")
        if owner is not None:
            pw = pwd.getpwnam(owner)
            for p in (base, sock_dir, pwfile):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(base, 0o700)
        os.chmod(pwfile, 0o600)

        _check(
            _as_cluster_owner(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                owner,
            ),
            "initdb",
        )
        pwfile.unlink()

        port = 0
        for attempt in range(attempts):
            port = _free_port()
            opts = (
                f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sock_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            ) + "".join(f" -c {k}={v}" for k, v in (settings or {}).items())
            proc = _as_cluster_owner(
                [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-o", opts, "-w", "-t", "60", "start"],
                owner,
            )
            if proc.returncode == 0:
                started = True
                break
            if attempt == attempts - 1:  # the port may have been taken between probe and bind: retry
                _check(proc, "pg_ctl start", log)
            time.sleep(0.5)

        server = PostgresServer(host="127.0.0.1", port=port, user=SUPERUSER, password=password, bin_dir=bin_dir, data_dir=data_dir)
        server.connect().close()  # password login over TCP works
        yield server
    finally:
        if started:
            _as_cluster_owner([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"], owner)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        with start_postgres() as server:
            yield server
    except PostgresUnavailable as e:
        pytest.fail(f"could not start a test PostgreSQL server: {e}", pytrace=False)


@pytest.fixture(scope="session")
def logical_postgres_server() -> Iterator[PostgresServer]:
    """A server with wal_level=logical (replication slots, publications for CDC)."""
    try:
        with start_postgres(settings=LOGICAL_SETTINGS) as server:
            yield server
    except PostgresUnavailable as e:
        pytest.fail(f"could not start a test PostgreSQL server with logical decoding: {e}", pytrace=False)
