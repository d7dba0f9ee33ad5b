"""PostgreSQL 15 (Debian's binaries) as the CDC source: logical decoding on, superuser cdc_admin with a
generated password, database `cdc`, everything (data, socket) under run/postgres.

Postgres refuses to run as root. When the stack runs as root, the cluster belongs to the `postgres` OS
user the Debian package creates, and the server is spawned as that user (Popen(user=...)), so its pid is
the postmaster's and a kill -9 test hits the real server.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

from .config import HOST, PG_ADMIN_USER, PG_CLUSTER_NAME, PG_DB, PORTS, RUN, StackError, log, read_credentials
from .procs import Service, alive, owned, spawn

LINK = RUN / "postgres"  # the cluster's folder (data/, socket/), or a symlink to it (see pgdir)
FINGERPRINT = ".admin-password.sha256"  # tells a credentials file that no longer fits the cluster
OS_USER = "postgres"


def bin_dir() -> Path:
    """PG_BIN_DIR, else /usr/lib/postgresql/15/bin, else the newest installed major."""
    if os.environ.get("PG_BIN_DIR"):
        candidates = [os.environ["PG_BIN_DIR"]]
    else:

        def major(path: str) -> int:
            m = re.search(r"/postgresql/(\d+)/bin", path)
            return int(m.group(1)) if m else 0

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True)
        candidates = [p for p in found if major(p) == 15] + found
    for c in candidates:
        if all((Path(c) / exe).is_file() for exe in ("initdb", "postgres", "psql")):
            return Path(c)
    raise StackError(
        "PostgreSQL server binaries not found (/usr/lib/postgresql/15/bin/{initdb,postgres,psql}): "
        "run scripts/bootstrap (installs Debian's postgresql) or set PG_BIN_DIR"
    )


def os_user() -> str | None:
    """The OS user the server runs as: `postgres` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        raise StackError(
            f"running as root, and Postgres refuses root: create the OS user {OS_USER!r} "
            "(Debian's postgresql package does) or run the stack as a normal user"
        ) from None
    return OS_USER


def _unsearchable(path: Path, user: str) -> str | None:
    """Why `user` cannot reach path (a parent it may not search), or None."""
    pw = pwd.getpwnam(user)
    groups = {pw.pw_gid, *os.getgrouplist(user, pw.pw_gid)}
    for d in [*reversed(path.parents), path]:
        if not d.exists():
            break
        st = d.stat()
        bit = stat.S_IXUSR if st.st_uid == pw.pw_uid else stat.S_IXGRP if st.st_gid in groups else stat.S_IXOTH
        if not st.st_mode & bit:
            return f"{d} is not searchable by it (mode {stat.filemode(st.st_mode)})"
    return None


def pgdir(user: str | None) -> Path:
    """run/postgres -- unless the server's OS user cannot reach the stack home (a home under /root, say):
    then a folder in that user's home directory, which run/postgres links to."""
    if LINK.is_symlink():
        return LINK.resolve()
    if user is None or not (why := _unsearchable(RUN, user)):
        return LINK
    target = Path(pwd.getpwnam(user).pw_dir) / f"cdc-stack-{PG_CLUSTER_NAME}"
    if still := _unsearchable(target.parent, user):
        raise StackError(
            f"Postgres runs as OS user {user!r} (root may not run it) and can reach neither {RUN} "
            f"({why}) nor {target.parent} ({still}); use a CDC_STACK_HOME whose parent directories "
            "are searchable by others (chmod o+x)"
        )
    log(f"postgres: {why} for OS user {user!r}; the cluster lives in {target} (linked from {LINK})")
    _own(target, user, 0o700)
    LINK.parent.mkdir(parents=True, exist_ok=True)
    LINK.symlink_to(target)
    return target


def _own(path: Path, user: str | None, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if user:
        pw = pwd.getpwnam(user)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    os.chmod(path, mode)


def _fingerprint(password: str) -> str:
    return hashlib.sha256(f"{PG_CLUSTER_NAME}:{password}".encode()).hexdigest()


def psql(sql: str, db: str = PG_DB, timeout: float = 10) -> subprocess.CompletedProcess:
    env = {**os.environ, "PGPASSWORD": read_credentials().get("POSTGRES_ADMIN_PASSWORD", ""), "PGCONNECT_TIMEOUT": "3"}
    return subprocess.run(
        [
            str(bin_dir() / "psql"),
            "-h",
            HOST,
            "-p",
            str(PORTS["postgres"]),
            "-U",
            PG_ADMIN_USER,
            "-d",
            db,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-tA",
            "-c",
            sql,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def ready() -> bool:
    proc = psql("SELECT 1", db="postgres")
    if proc.returncode != 0:
        raise StackError(proc.stderr.strip())
    return proc.stdout.strip() == "1"


def after_ready() -> None:
    """The database `cdc` exists (created once; CREATE DATABASE has no IF NOT EXISTS)."""
    found = psql(f"SELECT 1 FROM pg_database WHERE datname = '{PG_DB}'", db="postgres")
    if found.returncode == 0 and found.stdout.strip() == "1":
        return
    proc = psql(f'CREATE DATABASE "{PG_DB}"', db="postgres")
    if proc.returncode != 0:
        raise StackError(f"creating database {PG_DB} failed: {proc.stderr.strip()}")


def _initdb(user: str | None, password: str, home: Path) -> None:
    data = home / "data"
    shutil.rmtree(data, ignore_errors=True)  # a half-made cluster from an interrupted initdb
    pwfile = home / ".pwfile"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    try:
        if user:
            pw = pwd.getpwnam(user)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        proc = subprocess.run(
            [
                str(bin_dir() / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_ADMIN_USER,
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=False,
            capture_output=True,
            text=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
            cwd=home,
            timeout=180,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if proc.returncode != 0:
        raise StackError(f"initdb failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    (home / FINGERPRINT).write_text(_fingerprint(password) + "\n")


def _clear_stale_lock(data: Path) -> None:
    """After a kill -9 the old postmaster may linger as a zombie for a moment (or for good, under an init
    that does not reap): Postgres sees its pid answer and refuses to start. We know better: it is dead."""
    lock = data / "postmaster.pid"
    try:
        old = int(lock.read_text().splitlines()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return
    if alive(old) and owned(old):
        raise StackError(f"a postmaster (pid {old}) still runs on {data}; `scripts/stack stop postgres` first")
    deadline = time.monotonic() + 5
    while Path(f"/proc/{old}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if Path(f"/proc/{old}").exists():
        lock.unlink()


def launch() -> None:
    user = os_user()
    password = read_credentials().get("POSTGRES_ADMIN_PASSWORD")
    if not password:
        raise StackError("POSTGRES_ADMIN_PASSWORD missing from the stack's credentials file")
    home = pgdir(user)
    data, sockets, fingerprint = home / "data", home / "socket", home / FINGERPRINT
    _own(home, user, 0o700)
    if not (data / "PG_VERSION").exists():
        _initdb(user, password, home)
    elif fingerprint.exists() and fingerprint.read_text().strip() != _fingerprint(password):
        raise StackError(
            f"{data} was initialised with another POSTGRES_ADMIN_PASSWORD than the credentials file "
            f"holds now; remove {home} to start the cluster afresh"
        )
    _clear_stale_lock(data)
    _own(sockets, user, 0o700)  # socket dir private to the server's user: no one else reaches the local socket
    settings = {
        "listen_addresses": HOST,
        "port": str(PORTS["postgres"]),
        "unix_socket_directories": str(sockets),
        "cluster_name": PG_CLUSTER_NAME,  # in every backend's process title: `down` finds them by it
        "wal_level": "logical",
        "max_wal_senders": "10",
        "max_replication_slots": "10",
        "shared_buffers": "64MB",
        "password_encryption": "scram-sha-256",
    }
    argv = [str(bin_dir() / "postgres"), "-D", str(data)]
    for k, v in settings.items():
        argv += ["-c", f"{k}={v}"]
    spawn(SERVICE, argv, user=user, cwd=home)


SERVICE = Service(
    "postgres",
    probe=ready,
    launch=launch,
    timeout=60,
    after_ready=after_ready,
    child_token=f"{PG_CLUSTER_NAME}:",
    stop_signal=signal.SIGINT,  # fast shutdown: SIGTERM would wait for every client to leave
    what=f"SELECT 1 as {PG_ADMIN_USER} on {HOST}:{PORTS['postgres']}",
    ports=("postgres",),
)
