"""Everything derived from the spec, computed in one place. All functions are pure: they read the
validated :class:`~pipeline_defs.spec.PipelineSpec` (and, for rendering, an explicit env
mapping) and touch no system.

    cdc_topic(spec, table)                 -> 'ORCLCDB.C__MYUSER.POC_CLICKSTREAM'
    source_connector_configs(spec)         -> {'userdata_avro': {...}, 'clickstream_avro': {...}}
    sink_connector_configs(spec)           -> {'redis-sink-json': {...}}
    ksql_statements(spec)                  -> [Statement(name, kind, statement), ...] (dependency order)
    aggregate_topic(spec, obj)             -> 'USER_AGGREGATE_EVENTS'
    redis_key(spec, sink, name_value)      -> 'USER_AGGREGATE_EVENTS:jdoe'
    sensitive_keys(config)                 -> {'oracle.password', 'confluent.license'}
    render_connector_config(config, env)   -> config with <secret:VAR> markers replaced from env
    redacted_config(config)                -> display form (secrets masked) for metadata / logs
    lineage(spec)                          -> Lineage(nodes, edges) for the asset layer

Connector configs hold only strings (as Kafka Connect stores them) and never a secret: the
password is ``<secret:ORACLE_PASSWORD>`` (``oracle.user.password_env``) and the Confluent licence
``<secret:CONFLUENT_LICENSE?>`` ('?' = may be unset, then empty = trial) until
:func:`render_connector_config` runs at apply time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_defs.engines import KsqlDbEngine, Statement, StreamEngine, engine_for, ksql_object  # noqa: F401
from pipeline_defs.sources import (
    secret_ref,
    SECRET_MARKER,
    SOURCES,
    CdcSource,
    converter_config,
    plugin_classes,
    source_for,
    STRING_CONVERTER,
)
from pipeline_defs.spec import (
    KsqlColumn,
    KsqlObject,
    PipelineSpec,
    Sink,
    SpecError,
    Table,
    asset_key_component,
    duration_ms,
    load_spec,
    parse_spec,
    spec_hash,
)
from resources.redaction import REDACTED, is_sensitive_key

__all__ = [
    "SpecError",
    "load_spec",
    "parse_spec",
    "spec_hash",
    "MissingSecret",
    "cdc_topic",
    "qualified_table",
    "captured_tables",
    "table_select_grants",
    "source_connector_configs",
    "sink_connector_configs",
    "connector_configs",
    "required_plugins",
    "ksql_statements",
    "ksql_properties",
    "object_topic",
    "aggregate_topic",
    "object_columns",
    "window_ms",
    "redis_key",
    "redis_key_pattern",
    "expected_group_values",
    "expected_redis_keys",
    "sensitive_keys",
    "render_connector_config",
    "redacted_config",
    "LineageNode",
    "Lineage",
    "lineage",
    "Statement",
    "source_for",
    "engine_for",
    "CdcSource",
    "StreamEngine",
    "KsqlDbEngine",
    "REDIS_SINK_CLASS",
]

REDIS_SINK_CLASS = "com.redis.kafka.connect.RedisSinkConnector"


class MissingSecret(KeyError):
    """A connector config needs an environment variable that is not set (apply time)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "missing secret"


# --------------------------------------------------------------------------------------------
# Oracle
# --------------------------------------------------------------------------------------------


def _table(spec: PipelineSpec, table: str | Table) -> Table:
    if isinstance(table, Table):
        return table
    t = spec.oracle.table(table)
    if t is None:
        raise KeyError(f"no table {table!r} in the spec")
    return t


def qualified_table(spec: PipelineSpec, table: str | Table) -> str:
    """'C##MYUSER.POC_USERDATA': tables live in the CDC user's schema."""
    return f"{spec.oracle.user.name}.{_table(spec, table).name}"


def captured_tables(spec: PipelineSpec) -> list[Table]:
    return [t for t in spec.oracle.tables if t.capture]


def table_select_grants(spec: PipelineSpec) -> list[tuple[str, str, str]]:
    """The seed's per-table grants: ``GRANT SELECT ON C##MYUSER.<T> TO C##CDC_PRIVS`` for every
    captured table, as (privilege, object, grantee)."""
    return [("SELECT", qualified_table(spec, t), spec.oracle.role.name) for t in captured_tables(spec)]


# --------------------------------------------------------------------------------------------
# Kafka / Connect
# --------------------------------------------------------------------------------------------


def cdc_topic(spec: PipelineSpec, table: str | Table) -> str:
    """The topic a table's changes land in: ``<source.database>.<user>.<table>`` with characters
    illegal in topic names replaced by ``_`` (C##MYUSER.POC_CLICKSTREAM ->
    ORCLCDB.C__MYUSER.POC_CLICKSTREAM), identical for both connector flavors."""
    return source_for(spec).topic_for(spec, _table(spec, table))


def source_connector_configs(spec: PipelineSpec) -> dict[str, dict[str, str]]:
    """{connector name: Connect config} for ``connectors.sources`` in the spec's flavor."""
    return source_for(spec).connector_configs(spec)


def _sink(spec: PipelineSpec, sink: str | Sink) -> Sink:
    if isinstance(sink, Sink):
        return sink
    s = next((x for x in spec.sinks if x.name == sink), None)
    if s is None:
        raise KeyError(f"no sink {sink!r} in the spec")
    return s


def _sink_config(spec: PipelineSpec, sink: Sink) -> dict[str, str]:
    engine = engine_for(spec)
    obj = spec.ksqldb.object(sink.object)
    agg = obj.aggregate
    _, value_format = engine.formats(spec, obj)
    field_ = agg.value_key_column
    cfg: dict[str, str] = {
        "connector.class": REDIS_SINK_CLASS,
        "name": sink.name,  # Connect stores it in the config anyway; keeping it avoids drift noise
        "tasks.max": str(sink.tasks_max),
        "topics": aggregate_topic(spec, obj),
        "redis.uri": spec.endpoints.redis_uri,
        "redis.command": sink.redis.command,
        # compose runs Redis with requirepass; unset (local stack) renders as empty = no AUTH
        "redis.password": secret_ref("REDIS_PASSWORD", optional=True),
        # The Kafka key of a windowed ksqlDB table is <grouping key><8-byte window start>; the sink
        # would make it part of the Redis key (`<topic>:<String.valueOf(key)>`). The record key is
        # replaced below from the value, so the converter only has to read those bytes without
        # failing: StringConverter never fails and needs no Schema Registry.
        "key.converter": STRING_CONVERTER,
        **converter_config(spec, "value", value_format),
        "schemas.enable": "false",
        # Re-key from the value: ValueToKey copies the grouping value (AS_VALUE(<group_by>) AS
        # <value_key_column>) into a one-field key, ExtractField$Key unwraps it to the bare string,
        # so the Redis key is <topic>:<group value>, e.g. USER_AGGREGATE_EVENTS:jdoe.
        "transforms": "valueToKey,extractKey",
        "transforms.valueToKey.type": "org.apache.kafka.connect.transforms.ValueToKey",
        "transforms.valueToKey.fields": field_,
        "transforms.extractKey.type": "org.apache.kafka.connect.transforms.ExtractField$Key",
        "transforms.extractKey.field": field_,
    }
    if spec.redis.keyspace != "${topic}":
        cfg["redis.key"] = spec.redis.keyspace
    if spec.redis.separator != ":":
        cfg["redis.separator"] = spec.redis.separator
    for k, v in sink.config.items():
        cfg[k] = "true" if v is True else "false" if v is False else str(v)
    return cfg


def sink_connector_configs(spec: PipelineSpec) -> dict[str, dict[str, str]]:
    """{connector name: Connect config} for the Redis sinks.

    What a Redis key holds: ``<topic>:<group value>`` (``USER_AGGREGATE_EVENTS:jdoe``) holds the
    JSON row of the most recently updated window for that value, e.g.
    ``{"USER_NAME": "jdoe", "EVENT_COUNT": 3, "WINDOW_START": 1700000040000, "WINDOW_END":
    1700000100000}``: every window of jdoe writes the same key, so it is *not* a running total.
    Normally that is the latest window; an event arriving within the grace period for an older
    window updates that window and briefly puts its count back. WINDOW_START/WINDOW_END say which
    window the count belongs to."""
    return {s.name: _sink_config(spec, s) for s in spec.sinks}


def connector_configs(spec: PipelineSpec) -> dict[str, dict[str, str]]:
    """Sources then sinks (the order to apply them)."""
    return {**source_connector_configs(spec), **sink_connector_configs(spec)}


def required_plugins(spec: PipelineSpec) -> list[str]:
    """Every connector/converter/transform/predicate class the configs use, for checking
    ``GET /connector-plugins?connectorsOnly=false`` before applying."""
    classes: set[str] = set()
    for cfg in connector_configs(spec).values():
        classes |= plugin_classes(cfg)
    return sorted(classes)


# --------------------------------------------------------------------------------------------
# ksqlDB
# --------------------------------------------------------------------------------------------


def ksql_statements(spec: PipelineSpec) -> list[Statement]:
    """[(object name, kind, statement)] in dependency order (streams/tables over CDC topics,
    then the aggregates reading them). Send each with :func:`ksql_properties`."""
    return engine_for(spec).statements(spec)


def ksql_properties(spec: PipelineSpec) -> dict[str, str]:
    """streamsProperties for every statement ({'auto.offset.reset': 'earliest'} by default)."""
    return engine_for(spec).properties(spec)


def _obj(spec: PipelineSpec, obj: str | KsqlObject) -> KsqlObject:
    return ksql_object(spec, obj)


def object_topic(spec: PipelineSpec, obj: str | KsqlObject) -> str:
    """The topic an object reads (source objects: its table's CDC topic) or writes (aggregates)."""
    return engine_for(spec).output_topic(spec, _obj(spec, obj))


def aggregate_topic(spec: PipelineSpec, obj: str | KsqlObject) -> str:
    """The topic an aggregate writes (``topic`` or its name) - what its sink reads."""
    o = _obj(spec, obj)
    if o.aggregate is None:
        raise ValueError(f"{o.name} is not an aggregate")
    return engine_for(spec).output_topic(spec, o)


def object_columns(spec: PipelineSpec, obj: str | KsqlObject) -> list[KsqlColumn]:
    return engine_for(spec).object_columns(spec, _obj(spec, obj))


def window_ms(spec: PipelineSpec, obj: str | KsqlObject) -> tuple[int, int]:
    """(window size, grace) of an aggregate in milliseconds."""
    a = _obj(spec, obj).aggregate
    if a is None:
        raise ValueError("not an aggregate")
    return duration_ms(a.window.size), duration_ms(a.window.grace)


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


def _keyspace(spec: PipelineSpec, sink: Sink) -> str:
    return spec.redis.keyspace.replace("${topic}", aggregate_topic(spec, sink.object))


def redis_key(spec: PipelineSpec, sink: str | Sink, name_value: Any) -> str:
    """The Redis key the sink writes for one grouping value: keyspace (``${topic}`` = the topic)
    + separator + value, e.g. ``USER_AGGREGATE_EVENTS:jdoe``. The key holds the JSON of the
    latest-updated window for that value (see :func:`sink_connector_configs`)."""
    s = _sink(spec, sink)
    return f"{_keyspace(spec, s)}{spec.redis.separator}{name_value}"


def redis_key_pattern(spec: PipelineSpec, sink: str | Sink) -> str:
    """SCAN/KEYS pattern for all keys of a sink, e.g. ``USER_AGGREGATE_EVENTS:*``."""
    s = _sink(spec, sink)
    return f"{_keyspace(spec, s)}{spec.redis.separator}*"


def expected_group_values(spec: PipelineSpec, sink: str | Sink) -> list[str]:
    """Grouping values that must have a Redis key once the demo rows went in:
    ``checks.expected_group_values`` or every distinct value of the grouping column in the
    aggregated table's initial + demo rows. (The seed also checks jwick and jcena, who have no
    clickstream rows and so never get a key.)"""
    if spec.checks.expected_group_values is not None:
        return list(spec.checks.expected_group_values)
    s = _sink(spec, sink)
    agg = spec.ksqldb.object(s.object).aggregate
    stream = spec.ksqldb.object(agg.from_)
    table = spec.oracle.table(stream.source.table) if stream and stream.source else None
    if table is None:
        return []
    out: list[str] = []
    for row in [*table.initial_rows, *table.demo_rows]:
        v = row.get(agg.group_by)
        if v is not None and str(v) not in out:
            out.append(str(v))
    return out


def expected_redis_keys(spec: PipelineSpec, sink: str | Sink | None = None) -> list[str]:
    sinks = [_sink(spec, sink)] if sink is not None else list(spec.sinks)
    return [redis_key(spec, s, v) for s in sinks for v in expected_group_values(spec, s)]


# --------------------------------------------------------------------------------------------
# secrets
# --------------------------------------------------------------------------------------------

_FLAVOR_SENSITIVE = frozenset(k for src in SOURCES.values() for k in src.sensitive_keys())


def sensitive_keys(config: Mapping[str, Any]) -> set[str]:
    """Keys of ``config`` whose values are secrets: those holding a ``<secret:..>`` marker, the
    connector flavors' known secret keys, and names redaction.py deems sensitive (password,
    license, ...)."""
    out = set()
    for k, v in config.items():
        if (isinstance(v, str) and SECRET_MARKER.fullmatch(v)) or k in _FLAVOR_SENSITIVE or is_sensitive_key(str(k)):
            out.add(k)
    return out


def render_connector_config(config: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """The config to PUT to Connect: every ``<secret:VAR>`` value replaced by ``env[VAR]``
    (``<secret:VAR?>``: empty string when VAR is unset). Raises :class:`MissingSecret` naming
    the key and the variable - never a value."""
    out: dict[str, str] = {}
    for k, v in config.items():
        m = SECRET_MARKER.fullmatch(v) if isinstance(v, str) else None
        if m is None:
            out[k] = v
            continue
        var, optional = m.group(1), bool(m.group(2))
        if var in env and env[var] is not None:
            out[k] = env[var]
        elif optional:
            out[k] = ""
        else:
            name = config.get("name", "connector")
            raise MissingSecret(f"{name}: {k} needs environment variable {var}, which is not set")
    return out


def redacted_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Display form for metadata and logs: secret values masked; unrendered markers (which hold
    only a variable name) are kept so the display says where the value comes from."""
    keys = sensitive_keys(config)
    out: dict[str, Any] = {}
    for k, v in config.items():
        if k in keys and v not in (None, "") and not (isinstance(v, str) and SECRET_MARKER.fullmatch(v)):
            out[k] = REDACTED
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------------------------
# lineage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineageNode:
    """One asset. ``key`` is a Dagster-safe AssetKey path (components match ^[A-Za-z0-9_-]+$;
    real names, such as topic names with dots, are in ``name`` and ``metadata``)."""

    key: tuple[str, ...]
    kind: str  # oracle_role | oracle_user | oracle_table | source_connector | kafka_topic |
    #            ksql_stream | ksql_table | sink_connector | redis_keys
    name: str
    group: str  # oracle | connect | kafka | ksqldb | redis
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    code_version: str = ""

    @property
    def path(self) -> list[str]:
        return list(self.key)


@dataclass(frozen=True)
class Lineage:
    nodes: list[LineageNode]
    edges: list[tuple[tuple[str, ...], tuple[str, ...]]]  # (upstream key, downstream key)

    def node(self, key: tuple[str, ...] | list[str]) -> LineageNode:
        key = tuple(key)
        for n in self.nodes:
            if n.key == key:
                return n
        raise KeyError(key)

    def deps(self, key: tuple[str, ...] | list[str]) -> list[tuple[str, ...]]:
        key = tuple(key)
        return [a for a, b in self.edges if b == key]

    def downstream(self, key: tuple[str, ...] | list[str]) -> list[tuple[str, ...]]:
        key = tuple(key)
        return [b for a, b in self.edges if a == key]

    def by_kind(self, kind: str) -> list[LineageNode]:
        return [n for n in self.nodes if n.kind == kind]


def topic_key(topic: str) -> tuple[str, str]:
    return ("kafka", asset_key_component(topic))


def _topic_node(nodes: list[LineageNode], topic: str, facts: dict[str, Any], version_parts: list) -> tuple[str, ...]:
    """Append the kafka_topic node of `topic` and return its key."""
    key = topic_key(topic)
    nodes.append(LineageNode(key, "kafka_topic", topic, "kafka", {"topic": topic, **facts}, spec_hash(version_parts)))
    return key


def lineage(spec: PipelineSpec) -> Lineage:
    """Nodes and edges from the Oracle role down to the Redis keys:

    oracle/role -> oracle/user -> oracle/table/<T> -> connect/<source> -> kafka/<cdc topic>
    -> ksqldb/<object> -> (aggregate) ksqldb/<agg> -> kafka/<agg topic> -> connect/<sink>
    -> redis/<keyspace>
    """
    nodes: list[LineageNode] = []
    edges: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    ora = spec.oracle
    src = source_for(spec)
    engine = engine_for(spec)

    role_key = ("oracle", "role", asset_key_component(ora.role.name))
    nodes.append(
        LineageNode(
            role_key,
            "oracle_role",
            ora.role.name,
            "oracle",
            {
                "role": ora.role.name,
                "system_privileges": len(ora.role.system_privileges),
                "object_privileges": len(ora.role.object_privileges) + len(table_select_grants(spec)),
                "granted_roles": list(ora.role.granted_roles),
            },
            spec_hash([ora.role, table_select_grants(spec)]),
        )
    )
    user_key = ("oracle", "user", asset_key_component(ora.user.name))
    nodes.append(
        LineageNode(
            user_key,
            "oracle_user",
            ora.user.name,
            "oracle",
            {"user": ora.user.name, "default_tablespace": ora.user.default_tablespace, "password_env": ora.user.password_env},
            spec_hash(ora.user),
        )
    )
    edges.append((role_key, user_key))
    table_keys: dict[str, tuple[str, ...]] = {}
    for t in ora.tables:
        k = ("oracle", "table", asset_key_component(t.name))
        table_keys[t.name] = k
        nodes.append(
            LineageNode(
                k,
                "oracle_table",
                qualified_table(spec, t),
                "oracle",
                {
                    "table": qualified_table(spec, t),
                    "columns": [f"{c.name} {c.type}{' PRIMARY KEY' if c.primary_key else ''}" for c in t.columns],
                    "captured": t.capture,
                    "topic": cdc_topic(spec, t) if t.capture else None,
                },
                spec_hash([ora.user.name, t]),
            )
        )
        edges.append((user_key, k))

    source_cfgs = source_connector_configs(spec)
    topic_nodes: dict[str, tuple[str, ...]] = {}
    for conn in spec.connectors.sources:
        ck = ("connect", asset_key_component(conn.name))
        cfg = source_cfgs[conn.name]
        topics = [cdc_topic(spec, t) for t in conn.tables]
        nodes.append(
            LineageNode(
                ck,
                "source_connector",
                conn.name,
                "connect",
                {
                    "connector": conn.name,
                    "connector_class": src.connector_class,
                    "flavor": spec.source.flavor,
                    "tables": [qualified_table(spec, t) for t in conn.tables],
                    "topics": topics,
                    "config": redacted_config(cfg),
                },
                spec_hash(cfg),
            )
        )
        for t in conn.tables:
            edges.append((table_keys[t], ck))
        for t, topic in zip(conn.tables, topics):
            topic_nodes[topic] = _topic_node(nodes, topic, {"producer": conn.name, "table": qualified_table(spec, t),
                                                            "format": spec.source.format},
                                             [topic, spec.source.format, conn.name])
            edges.append((ck, topic_nodes[topic]))

    props = ksql_properties(spec)
    obj_keys: dict[str, tuple[str, ...]] = {}
    for st in ksql_statements(spec):
        o = spec.ksqldb.object(st.name)
        ok = ("ksqldb", asset_key_component(o.name))
        obj_keys[o.name] = ok
        topic = engine.output_topic(spec, o)
        kf, vf = engine.formats(spec, o)
        nodes.append(
            LineageNode(
                ok,
                f"ksql_{o.kind}",
                o.name,
                "ksqldb",
                {
                    "object": o.name,
                    "kind": o.kind,
                    "topic": topic,
                    "key_format": kf,
                    "value_format": vf,
                    "statement": st.statement,
                    "properties": props,
                    "columns": [f"{c.name} {c.type}{' KEY' if c.key else ''}" for c in engine.object_columns(spec, o)],
                },
                spec_hash([st, props]),
            )
        )
        if o.aggregate is None:
            edges.append((topic_nodes[topic], ok))
        else:
            edges.append((obj_keys[o.aggregate.from_], ok))
            topic_nodes[topic] = _topic_node(nodes, topic, {"producer": f"ksqlDB {o.name}", "key_format": kf,
                                                            "value_format": vf}, [topic, kf, vf, o.name])
            edges.append((ok, topic_nodes[topic]))

    sink_cfgs = sink_connector_configs(spec)
    for s in spec.sinks:
        sk = ("connect", asset_key_component(s.name))
        cfg = sink_cfgs[s.name]
        topic = aggregate_topic(spec, s.object)
        nodes.append(
            LineageNode(
                sk,
                "sink_connector",
                s.name,
                "connect",
                {"connector": s.name, "connector_class": REDIS_SINK_CLASS, "topic": topic, "config": redacted_config(cfg)},
                spec_hash(cfg),
            )
        )
        edges.append((topic_nodes[topic], sk))
        keyspace = _keyspace(spec, s)
        rk = ("redis", asset_key_component(keyspace))
        nodes.append(
            LineageNode(
                rk,
                "redis_keys",
                keyspace,
                "redis",
                {
                    "key_pattern": redis_key_pattern(spec, s),
                    "command": s.redis.command,
                    "example_key": redis_key(spec, s, (expected_group_values(spec, s) or ["<value>"])[0]),
                    "expected_keys": expected_redis_keys(spec, s),
                    "value_fields": [c.name for c in object_columns(spec, s.object) if not c.key],
                    "freshness_minutes": spec.checks.freshness_minutes,
                },
                spec_hash([keyspace, spec.redis, cfg]),
            )
        )
        edges.append((sk, rk))
    keys = [n.key for n in nodes]
    if len(keys) != len(set(keys)):  # validation prevents this; guard the asset layer anyway
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise SpecError("<spec>", [("", f"asset keys collide: {dup}")])
    return Lineage(nodes, edges)



def redo_log_topic(spec: PipelineSpec, connector: str) -> str | None:
    """The Confluent source's redo-log topic (one partition, never shared); None for other flavors.
    Default name per the connector's docs: ``${connectorName}-${databaseName}-redo-log``."""
    if spec.source.flavor != "confluent":
        return None
    cfg = source_connector_configs(spec)[connector]
    template = cfg.get("redo.log.topic.name") or "${connectorName}-${databaseName}-redo-log"
    return template.replace("${connectorName}", connector).replace("${databaseName}", spec.source.database)
