"""Asset checks: they judge the live systems against the spec and the data in Redis against Oracle.

Each check reads, never writes. Failures carry what a person needs to act: the missing grants, the
failed task's trace, the drifted keys, the mismatching NAMEs and windows (as a table).
"""


import datetime as dt
import time
from typing import Any

import dagster as dg

from pipeline_defs import derive, oracle_sql, provision
from pipeline_defs.derive import Lineage, LineageNode
from pipeline_defs.reconcile import Mismatch, ReconcileReport, freshness_lag_ms, reconcile
from pipeline_defs.spec import PipelineSpec
from resources.connect import KafkaConnectResource, config_diff, connector_health
from resources.kafka import KafkaResource
from resources.ksqldb import KsqlDbResource
from resources.oracle import OracleResource
from resources.redis_json import RedisResource

# Plugin versions this control plane's configs are written for. The Redis sink renamed
# redis.command/redis.key to redis.type/redis.keyspace in 1.0 (reference/connect.md §7), so a 1.x
# sink would reject the seed's config: 0.9.x only.
COMPATIBLE_VERSIONS: dict[str, tuple[str, str | None]] = {
    "com.redis.kafka.connect.RedisSinkConnector": ("0.9", "1.0"),
    "io.confluent.connect.oracle.cdc.OracleCdcSourceConnector": ("2.0", None),
    "io.debezium.connector.oracle.OracleConnector": ("2.0", None),
}


def _vtuple(v: str) -> tuple[int, ...]:
    out = []
    for part in v.replace("-", ".").split("."):
        if not part.isdigit():
            break
        out.append(int(part))
    return tuple(out)


def version_compatible(cls: str, version: str) -> bool:
    lo, hi = COMPATIBLE_VERSIONS.get(cls, ("0", None))
    v = _vtuple(version)
    return v >= _vtuple(lo) and (hi is None or v < _vtuple(hi))


def _mismatch_table(mismatches: list[Mismatch]) -> dg.MetadataValue:
    cols = ["name", "problem", "key", "window_start", "window_end", "redis_count", "oracle_count"]
    return dg.MetadataValue.table(
        records=[dg.TableRecord({c: ("" if m.as_row()[c] is None else m.as_row()[c]) for c in cols}) for m in mismatches[:200]],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "int" if c.endswith("count") else "string") for c in cols]),
    )


# ------------------------------------------------------------------------------------- oracle

def _catalog(spec: PipelineSpec, oracle: OracleResource) -> oracle_sql.CatalogState:
    with oracle.admin_client() as admin:
        return oracle_sql.read_catalog(spec.oracle, admin.query)


def oracle_checks(spec: PipelineSpec, lineage: Lineage) -> list[dg.AssetChecksDefinition]:
    role = next(n for n in lineage.nodes if n.kind == "oracle_role")
    user = next(n for n in lineage.nodes if n.kind == "oracle_user")
    key_role, key_user = dg.AssetKey(list(role.key)), dg.AssetKey(list(user.key))
    tables = [dg.AssetKey(list(n.key)) for n in lineage.nodes if n.kind == "oracle_table"]

    def result(check: tuple[bool, dict[str, Any]], **extra) -> dg.AssetCheckResult:
        passed, details = check
        return dg.AssetCheckResult(passed=passed, metadata={k: (v if isinstance(v, (int, float, str, bool)) else dg.MetadataValue.json(v))
                                                            for k, v in {**details, **extra}.items()})

    @dg.asset_check(asset=key_role, name="archivelog_mode", description="V$DATABASE.LOG_MODE is ARCHIVELOG (LogMiner needs it)")
    def archivelog(oracle: OracleResource) -> dg.AssetCheckResult:
        return result(oracle_sql.check_archivelog(_catalog(spec, oracle)))

    @dg.asset_check(asset=key_role, name="supplemental_logging", additional_deps=tables, description="minimal supplemental logging on the database, all-column logging on captured tables")
    def supplemental(oracle: OracleResource) -> dg.AssetCheckResult:
        return result(oracle_sql.check_supplemental_logging(spec.oracle, _catalog(spec, oracle)))

    # the role's SELECT grants on the tables are made by the table assets: judge after them
    @dg.asset_check(asset=key_role, name="role_grants", additional_deps=tables,
                    description="the CDC role holds every grant in the spec (DBA_SYS_PRIVS, DBA_TAB_PRIVS, DBA_ROLE_PRIVS)")
    def role_grants(oracle: OracleResource) -> dg.AssetCheckResult:
        return result(oracle_sql.check_role_grants(spec.oracle, _catalog(spec, oracle)))

    @dg.asset_check(asset=key_user, name="user_grants", description="the CDC user holds its roles and grants")
    def user_grants(oracle: OracleResource) -> dg.AssetCheckResult:
        return result(oracle_sql.check_user_grants(spec.oracle, _catalog(spec, oracle)))

    checks = [archivelog, supplemental, role_grants, user_grants]
    for node in (n for n in lineage.nodes if n.kind == "oracle_table"):
        checks.append(_pk_check(spec, node))
    return checks


def _pk_check(spec: PipelineSpec, node: LineageNode) -> dg.AssetChecksDefinition:
    table = next(t for t in spec.oracle.tables if derive.asset_key_component(t.name) == node.key[-1])

    @dg.asset_check(asset=dg.AssetKey(list(node.key)), name="primary_key",
                    description="the table has a primary key (the CDC record key and the ksqlDB table key come from it)")
    def pk(oracle: OracleResource) -> dg.AssetCheckResult:
        state = _catalog(spec, oracle)
        cols = state.primary_keys.get((spec.oracle.user.name, table.name), ())
        want = oracle_sql.primary_key_columns(table)
        return dg.AssetCheckResult(passed=bool(cols) and tuple(cols) == tuple(want),
                                   metadata={"primary_key": ", ".join(cols) or "(none)", "expected": ", ".join(want)})
    return pk


# ------------------------------------------------------------------------------------ connect

def connector_checks(spec: PipelineSpec, lineage: Lineage) -> list[dg.AssetChecksDefinition]:
    out = []
    for node in lineage.nodes:
        if node.kind in ("source_connector", "sink_connector"):
            out += _connector_checks(spec, node)
    return out


def _connector_checks(spec: PipelineSpec, node: LineageNode) -> list[dg.AssetChecksDefinition]:
    key = dg.AssetKey(list(node.key))
    name = node.name
    cfg = derive.connector_configs(spec)[name]
    classes = sorted({v for k, v in cfg.items() if k == "connector.class" or k.endswith(".type") or k.endswith("converter")})
    checks = []

    @dg.asset_check(asset=key, name="plugins_installed", description="the connector, converter and transform classes it uses are installed at a compatible version")
    def plugins(connect: KafkaConnectResource) -> dg.AssetCheckResult:
        installed = {p["class"]: p.get("version", "") for p in connect.get_client().plugins(connectors_only=False)}
        rows, ok = [], True
        for c in classes:
            version = installed.get(c)
            good = version is not None and version_compatible(c, version)
            ok &= good
            rows.append(dg.TableRecord({"class": c, "installed": version or "(missing)", "compatible": good}))
        return dg.AssetCheckResult(passed=ok, metadata={"plugins": dg.MetadataValue.table(
            rows, schema=dg.TableSchema(columns=[dg.TableColumn("class"), dg.TableColumn("installed"), dg.TableColumn("compatible", "bool")]))})
    checks.append(plugins)

    @dg.asset_check(asset=key, name="running", description="the connector and every task are RUNNING")
    def running(connect: KafkaConnectResource) -> dg.AssetCheckResult:
        client = connect.get_client()
        try:
            status = client.status(name)
        except Exception as e:  # a missing connector is a failed check, not a crashed run
            return dg.AssetCheckResult(passed=False, metadata={"error": str(e)})
        md = provision.connector_metadata(status)
        traces = [f"{f['instance']}:\n{f['trace'][:2000]}" for f in connector_health(status)[1]]
        if traces:
            md["traces"] = dg.MetadataValue.md("\n\n".join(f"```\n{t}\n```" for t in traces))
        md["failed_traces"] = dg.MetadataValue.json(md["failed_traces"])
        return dg.AssetCheckResult(passed=md["state"] == "RUNNING", metadata=md)
    checks.append(running)

    @dg.asset_check(asset=key, name="config_matches_spec", description="the live config equals the spec (drift)")
    def drift(connect: KafkaConnectResource) -> dg.AssetCheckResult:
        live = connect.get_client().get_config(name)
        if live is None:
            return dg.AssetCheckResult(passed=False, metadata={"problem": "connector does not exist"})
        desired = {**provision.rendered_connector_config(spec, name), "name": name}
        diff = config_diff(desired, live)
        return dg.AssetCheckResult(passed=not diff, metadata={"drifted_keys": dg.MetadataValue.json(diff), "drifted": len(diff)})
    checks.append(drift)

    if node.kind == "sink_connector":
        @dg.asset_check(asset=key, name="consumer_lag",
                        description=f"the sink's consumer group connect-{name} has no lag past the bound (the health sensor also watches its growth)")
        def lag_check(kafka: KafkaResource) -> dg.AssetCheckResult:
            from pipeline_defs.healing import HealthPolicy

            bound = HealthPolicy.from_env().lag_restart_bound
            lag = kafka.get_client().consumer_group_lag(f"connect-{name}")
            return dg.AssetCheckResult(passed=lag.total <= bound, severity=dg.AssetCheckSeverity.WARN,
                                       metadata={"lag": lag.total, "bound": bound, "partitions": len(lag.per_partition)})
        checks.append(lag_check)

    redo = derive.redo_log_topic(spec, name) if node.kind == "source_connector" else None
    if redo:
        @dg.asset_check(asset=key, name="redo_log_topic_single_partition",
                        description=f"the redo-log topic {redo} exists with exactly one partition")
        def redo_check(kafka: KafkaResource) -> dg.AssetCheckResult:
            info = kafka.get_client().describe_topic(redo)
            parts = info.partitions if info else 0
            return dg.AssetCheckResult(passed=parts == 1, metadata={"topic": redo, "partitions": parts})
        checks.append(redo_check)
    return checks


# ------------------------------------------------------------------------------------- ksqlDB

def ksql_checks(spec: PipelineSpec, lineage: Lineage) -> list[dg.AssetChecksDefinition]:
    out = []
    for node in lineage.nodes:
        if not node.kind.startswith("ksql_"):
            continue
        key = dg.AssetKey(list(node.key))
        obj = spec.ksqldb.object(node.name)
        out.append(_ksql_shape_check(spec, node, key))
        if obj.aggregate is not None:
            out.append(_ksql_query_check(node, key))
    return out


def _ksql_shape_check(spec: PipelineSpec, node: LineageNode, key: dg.AssetKey) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=key, name="matches_spec", description="columns, key and formats equal the spec")
    def shape(ksqldb: KsqlDbResource) -> dg.AssetCheckResult:
        client = ksqldb.get_client()
        try:
            desc = provision._describe(client, node.name)
        finally:
            client.close()
        if desc is None:
            return dg.AssetCheckResult(passed=False, metadata={"problem": f"{node.name} does not exist"})
        diffs = provision.ksql_drift(spec, node.name, desc)
        return dg.AssetCheckResult(passed=not diffs, metadata={"differences": dg.MetadataValue.json(diffs)})
    return shape


def _ksql_query_check(node: LineageNode, key: dg.AssetKey) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=key, name="query_running", description="the persistent query writing this table is RUNNING")
    def query(ksqldb: KsqlDbResource) -> dg.AssetCheckResult:
        client = ksqldb.get_client()
        try:
            queries = [q for q in client.list_queries() if node.name in q.sinks]
        finally:
            client.close()
        if not queries:
            return dg.AssetCheckResult(passed=False, metadata={"problem": f"no persistent query writes {node.name}"})
        q = queries[0]
        return dg.AssetCheckResult(passed=q.is_running, metadata={"query_id": q.id, "state": q.state or "UNKNOWN",
                                                                    "status_count": dg.MetadataValue.json(dict(q.status_count))})
    return query


# -------------------------------------------------------------------------------------- redis

def _events_sql(spec: PipelineSpec, sink_name: str) -> tuple[str, str, str]:
    """(owner.table, group column, event-time column) of the rows an aggregate counts."""
    sink = next(s for s in spec.sinks if s.name == sink_name)
    agg_obj = spec.ksqldb.object(sink.object)
    stream = spec.ksqldb.object(agg_obj.aggregate.from_)
    table = spec.oracle.table(stream.source.table)
    ts_col = stream.timestamp
    for ident in (spec.oracle.user.name, table.name, agg_obj.aggregate.group_by, ts_col):
        oracle_sql.ident(ident)  # validated by the spec; asserted again before it reaches SQL
    return f"{spec.oracle.user.name}.{table.name}", agg_obj.aggregate.group_by, ts_col


def oracle_events(spec: PipelineSpec, sink_name: str, client, since: dt.datetime | None) -> list[tuple[str, Any]]:
    """(group value, event time) for every row since `since`, plus each group's newest row."""
    table, group, ts = _events_sql(spec, sink_name)
    rows: list[tuple[str, Any]] = []
    newest = client.query(f"SELECT {group} AS GROUP_VALUE, MAX({ts}) AS EVENT_TIME FROM {table} GROUP BY {group}")
    if since is not None:
        recent = client.query(f"SELECT {group} AS GROUP_VALUE, {ts} AS EVENT_TIME FROM {table} WHERE {ts} >= :since",
                              {"since": since})
        rows += [(r["GROUP_VALUE"], r["EVENT_TIME"]) for r in recent if r["EVENT_TIME"] is not None]
        seen_newest = {}
        for name, t in rows:
            seen_newest[name] = max(seen_newest.get(name, t), t)
        # each group's newest row, unless it is already among the recent rows
        rows += [(r["GROUP_VALUE"], r["EVENT_TIME"]) for r in newest
                 if r["EVENT_TIME"] is not None and r["GROUP_VALUE"] not in seen_newest]
    else:
        rows += [(r["GROUP_VALUE"], r["EVENT_TIME"]) for r in newest if r["EVENT_TIME"] is not None]
    return rows


def redis_checks(spec: PipelineSpec, lineage: Lineage) -> list[dg.AssetChecksDefinition]:
    out = []
    for node in lineage.nodes:
        if node.kind != "redis_keys":
            continue
        sink = next(lineage.node(d).name for d in lineage.deps(node.key))
        out += _redis_checks(spec, node, sink)
    return out


def _redis_checks(spec: PipelineSpec, node: LineageNode, sink: str) -> list[dg.AssetChecksDefinition]:
    key = dg.AssetKey(list(node.key))
    shape = provision.aggregate_shape(spec, sink)
    freshness_ms = int(spec.checks.freshness_minutes * 60_000)

    @dg.asset_check(asset=key, name="matches_oracle", blocking=True,
                    description="for every NAME, EVENT_COUNT in Redis equals the Oracle rows of that NAME in the same window; keys are readable names")
    def matches(redis: RedisResource, oracle: OracleResource) -> dg.AssetCheckResult:
        docs = redis.get_client().read_prefix(shape.key_prefix)
        starts = [d.get(shape.window_start_field) for d in docs.values() if isinstance(d, dict)]
        starts = [s for s in starts if isinstance(s, int)]
        since = dt.datetime.fromtimestamp(min(starts) / 1000, tz=dt.timezone.utc).replace(tzinfo=None) if starts else None
        with oracle.client() as client:
            events = oracle_events(spec, sink, client, since)
        report = reconcile(docs, events, shape)
        md: dict[str, Any] = {"keys_checked": report.keys_checked, "matched": report.matched,
                              "mismatches": len(report.mismatches), "redis_events": report.redis_events,
                              "oracle_events": report.oracle_events}
        if report.mismatches:
            md["mismatch_table"] = _mismatch_table(report.mismatches)
        return dg.AssetCheckResult(passed=report.passed, metadata=md,
                                   description=None if report.passed else
                                   f"{len(report.mismatches)} mismatch(es): " + ", ".join(
                                       f"{m.name} ({m.problem})" for m in report.mismatches[:5]))

    @dg.asset_check(asset=key, name="fresh", description=f"the newest window in Redis closed within {spec.checks.freshness_minutes} minutes")
    def fresh(redis: RedisResource) -> dg.AssetCheckResult:
        docs = redis.get_client().read_prefix(shape.key_prefix)
        ends = [d.get(shape.window_end_field) for d in docs.values() if isinstance(d, dict)]
        ends = [e for e in ends if isinstance(e, int)]
        lag = freshness_lag_ms(ReconcileReport(newest_window_end=max(ends) if ends else None), int(time.time() * 1000))
        return dg.AssetCheckResult(
            passed=lag is not None and lag <= freshness_ms,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"lag_seconds": round(lag / 1000, 1) if lag is not None else -1, "keys": len(docs),
                      "bound_seconds": freshness_ms // 1000})

    return [matches, fresh]


DATA_CHECK_NAMES = {"matches_oracle", "fresh"}


def build_checks(spec: PipelineSpec, lineage: Lineage) -> list[dg.AssetChecksDefinition]:
    return [*oracle_checks(spec, lineage), *connector_checks(spec, lineage), *ksql_checks(spec, lineage),
            *redis_checks(spec, lineage)]


__all__ = ["build_checks", "oracle_events", "version_compatible", "DATA_CHECK_NAMES"]
