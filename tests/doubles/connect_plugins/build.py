"""Build the Java connector test doubles into Kafka Connect plugin directories.

    .venv/bin/python tests/doubles/connect_plugins/build.py [--force] [STACK_HOME]   # default $CDC_STACK_HOME or .stack

`build(stack_home)` compiles each plugin's sources with the machine's javac (classpath: the Connect
worker's own jars, `<stack_home>/lib/*`), packages one jar per plugin with the ServiceLoader manifest
Connect's plugin scanner reads (META-INF/services/org.apache.kafka.connect.{sink.SinkConnector,
source.SourceConnector}) and installs it as `<stack_home>/test-plugins/<plugin>/<jar>`, the directory
scripts/stack.py adds to the worker's plugin.path when it exists. Nothing is rebuilt while the
hash of the sources (plus this file, the javac version and the worker's jar names) is unchanged.

A running worker does not see a rebuilt jar: restart Connect after a build that changed something
(the pytest fixture in tests/doubles/connect_plugins_fixture.py does that).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
JAVA_RELEASE = "17"


@dataclass(frozen=True)
class Plugin:
    name: str  # directory under test-plugins/
    source_dir: str  # relative to this file
    jar: str
    version: str
    title: str
    services: dict[str, tuple[str, ...]]  # ServiceLoader interface -> implementations

    @property
    def sources(self) -> Path:
        return HERE / self.source_dir


PLUGINS: tuple[Plugin, ...] = (
    Plugin(
        name="redis-kafka-connect-double",
        source_dir="redis-kafka-connect/src/main/java",
        jar="redis-kafka-connect-0.9.1-test-double.jar",
        version="0.9.1",
        title="TEST DOUBLE of redis-field-engineering/redis-kafka-connect 0.9.1 (sink)",
        services={"org.apache.kafka.connect.sink.SinkConnector": ("com.redis.kafka.connect.RedisSinkConnector",)},
    ),
    Plugin(
        name="oracle-cdc-double",
        source_dir="oracle-cdc/src/main/java",
        jar="kafka-connect-oracle-cdc-2.14.2-test-double.jar",
        version="2.14.2",
        title="TEST DOUBLE of confluentinc/kafka-connect-oracle-cdc 2.14.2 (source)",
        services={"org.apache.kafka.connect.source.SourceConnector": ("io.confluent.connect.oracle.cdc.OracleCdcSourceConnector",)},
    ),
)

CONNECTOR_CLASSES = {impl: p.version for p in PLUGINS for impls in p.services.values() for impl in impls}


class BuildError(RuntimeError):
    pass


def default_stack_home() -> Path:
    return Path(os.environ.get("CDC_STACK_HOME", REPO / ".stack")).resolve()


def _javac() -> str:
    javac = shutil.which("javac")
    if not javac:
        raise BuildError("javac not found: the connector doubles need a JDK 17 on PATH (Debian: openjdk-17-jdk-headless)")
    return javac


def _javac_version(javac: str) -> str:
    proc = subprocess.run([javac, "-version"], capture_output=True, text=True)
    return (proc.stdout + proc.stderr).strip()


def source_hash(plugin: Plugin, lib: Path, javac_version: str) -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(javac_version.encode())
    h.update("\n".join(sorted(p.name for p in lib.glob("*.jar"))).encode())
    for f in sorted(plugin.sources.rglob("*.java")):
        h.update(str(f.relative_to(plugin.sources)).encode() + b"\0")
        h.update(f.read_bytes())
    return h.hexdigest()


def _manifest(plugin: Plugin) -> bytes:
    lines = [
        "Manifest-Version: 1.0",
        f"Implementation-Title: {plugin.title}",
        f"Implementation-Version: {plugin.version}",
        "Implementation-Vendor: cdc-control-plane tests (not a product artifact)",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def _write_jar(plugin: Plugin, classes: Path, target: Path) -> None:
    fixed = (2000, 1, 1, 0, 0, 0)  # stable timestamps: same sources, same bytes

    def add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=fixed)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, data)

    with zipfile.ZipFile(target, "w") as zf:
        add(zf, "META-INF/MANIFEST.MF", _manifest(plugin))
        for iface, impls in plugin.services.items():
            add(zf, f"META-INF/services/{iface}", ("\n".join(impls) + "\n").encode())
        for f in sorted(classes.rglob("*.class")):
            add(zf, f.relative_to(classes).as_posix(), f.read_bytes())


def _build_one(plugin: Plugin, lib: Path, out_root: Path, javac: str, digest: str) -> Path:
    sources = sorted(str(p) for p in plugin.sources.rglob("*.java"))
    if not sources:
        raise BuildError(f"no Java sources under {plugin.sources}")
    plugin_dir = out_root / plugin.name
    plugin_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{plugin.name}-", dir=out_root) as tmp:
        classes = Path(tmp) / "classes"
        classes.mkdir()
        cmd = [
            javac,
            "--release",
            JAVA_RELEASE,
            "-encoding",
            "UTF-8",
            "-Xlint:all,-serial,-processing",
            "-cp",
            f"{lib}/*",
            "-d",
            str(classes),
            *sources,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"javac failed for {plugin.name}:\n{proc.stdout}\n{proc.stderr}")
        staged = Path(tmp) / plugin.jar
        _write_jar(plugin, classes, staged)
        target = plugin_dir / plugin.jar
        # rename, never overwrite in place: a running worker keeps reading the jar it opened
        os.replace(staged, target)
    for stale in plugin_dir.glob("*.jar"):
        if stale.name != plugin.jar:
            stale.unlink()
    (plugin_dir / ".source-hash").write_text(digest)
    return target


def build(stack_home: Path | str | None = None, *, force: bool = False) -> dict[str, dict]:
    """Build every plugin that changed; returns {plugin: {"jar": Path, "built": bool}}.

    Safe to call from several processes at once (an exclusive lock serialises the builds)."""
    home = Path(stack_home).resolve() if stack_home else default_stack_home()
    lib = home / "lib"
    if not any(lib.glob("connect-api-*.jar")):
        raise BuildError(f"{lib} has no Kafka Connect jars: run scripts/stack.py up (or ensure_jars) first")
    out_root = home / "test-plugins"
    out_root.mkdir(parents=True, exist_ok=True)
    javac = _javac()
    version = _javac_version(javac)
    result: dict[str, dict] = {}
    with open(out_root / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for plugin in PLUGINS:
            digest = source_hash(plugin, lib, version)
            jar = out_root / plugin.name / plugin.jar
            stamp = out_root / plugin.name / ".source-hash"
            if not force and jar.exists() and stamp.exists() and stamp.read_text().strip() == digest:
                result[plugin.name] = {"jar": jar, "built": False}
                continue
            result[plugin.name] = {"jar": _build_one(plugin, lib, out_root, javac, digest), "built": True}
    return result


def main(argv: list[str]) -> int:
    force = "--force" in argv
    args = [a for a in argv if a != "--force"]
    home = Path(args[0]) if args else None
    try:
        for name, info in build(home, force=force).items():
            print(f"{name}: {'built' if info['built'] else 'up to date'} {info['jar']}")
    except BuildError as e:
        print(f"build: ERROR: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
