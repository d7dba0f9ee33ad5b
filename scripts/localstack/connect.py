"""The Kafka Connect 3.9 distributed worker: Debezium Oracle + PostgreSQL, the file connectors, our Redis
JSON sink, and the test doubles' plugin dir when it exists. Connector configs reach secrets through the
env and file config providers ("${env:POSTGRES_CDC_PASSWORD}"), never as values."""

from __future__ import annotations

import os

from . import install, jvm
from .config import HOST, PLUGINS, PORTS, RUN, TEST_PLUGINS, StackError, endpoints, read_credentials
from .procs import Service, http_json, spawn, start_time

BASE_PLUGINS = [
    "io.debezium.connector.oracle.OracleConnector",
    "io.debezium.connector.postgresql.PostgresConnector",
    "org.apache.kafka.connect.file.FileStreamSourceConnector",
    "org.apache.kafka.connect.file.FileStreamSinkConnector",
]
REDIS_SINK_CLASS = "com.cdcplane.redis.RedisJsonSinkConnector"


def expected_plugins() -> list[str]:
    """Plugins the worker must list before the stack counts as ready."""
    sink = [REDIS_SINK_CLASS] if (install.SINK_PROJECT / "pom.xml").exists() else []
    return BASE_PLUGINS + sink


def _url() -> str:
    return endpoints(secrets=False)["KAFKA_CONNECT_URL"]


def _missing_plugins() -> list[str]:
    http_json(_url() + "/")
    classes = {p["class"] for p in http_json(_url() + "/connector-plugins", timeout=10)}
    return [c for c in expected_plugins() if c not in classes]


def ready() -> bool:
    missing = _missing_plugins()
    if missing:
        raise StackError(f"plugins not listed yet: {missing}")
    return True


def stale(pid: int) -> str | None:
    """A worker scans plugin.path once, at start: one older than our sink plugin must be restarted."""
    if install.SINK_STAMP.exists() and install.SINK_STAMP.stat().st_mtime > start_time(pid):
        return "the Redis sink plugin was rebuilt after the worker started"
    try:
        missing = _missing_plugins()
    except OSError:
        return None  # still starting: up waits for it
    return f"it does not list {missing}" if missing else None


def launch() -> None:
    props = RUN / "connect-distributed.properties"
    props.write_text(
        "\n".join(
            [
                f"bootstrap.servers={HOST}:{PORTS['kafka']}",
                "group.id=cdc-local-connect",
                "key.converter=org.apache.kafka.connect.json.JsonConverter",
                "value.converter=org.apache.kafka.connect.json.JsonConverter",
                "key.converter.schemas.enable=false",
                "value.converter.schemas.enable=false",
                "offset.storage.topic=_connect-offsets",
                "config.storage.topic=_connect-configs",
                "status.storage.topic=_connect-status",
                "offset.storage.replication.factor=1",
                "config.storage.replication.factor=1",
                "status.storage.replication.factor=1",
                "offset.storage.partitions=1",
                "status.storage.partitions=1",
                "offset.flush.interval.ms=1000",
                f"listeners=http://{HOST}:{PORTS['connect']}",
                f"rest.advertised.host.name={HOST}",
                f"rest.advertised.port={PORTS['connect']}",
                f"plugin.path={PLUGINS}" + (f",{TEST_PLUGINS}" if TEST_PLUGINS.is_dir() else ""),
                # A single worker that restarts must get its connectors back at once, not after the
                # default 5-minute wait for a departed member to return.
                "scheduled.rebalance.max.delay.ms=0",
                "topic.creation.enable=true",
                # Plugins are found through their ServiceLoader manifests only: the reflection scan took 3 s on an idle
                # 2-core machine (13 s under load). Every plugin here has manifests except Debezium Oracle 3.1.3's
                # VectorToJsonConverter SMT; STACK_CONNECT_PLUGIN_DISCOVERY=hybrid_warn brings such plugins back.
                f"plugin.discovery={os.environ.get('STACK_CONNECT_PLUGIN_DISCOVERY', 'service_load')}",
                # secrets stay placeholders in stored configs and REST answers; resolved inside the worker only
                "config.providers=env,file",
                "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider",
                "config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider",
                "",
            ]
        )
    )
    env = dict(os.environ)  # REDIS_PASSWORD, CDC_ORACLE_DOUBLE_DIR etc. pass through when the caller has them
    cdc_password = read_credentials().get("POSTGRES_CDC_PASSWORD")
    if cdc_password:
        env["POSTGRES_CDC_PASSWORD"] = cdc_password
    spawn(SERVICE, jvm.java("1g", "org.apache.kafka.connect.cli.ConnectDistributed", str(props)), env=env)


SERVICE = Service(
    "connect",
    probe=ready,
    launch=launch,
    timeout=150,
    stale=stale,
    ports=("connect",),
    what=f"GET / and /connector-plugins on port {PORTS['connect']}",
)
