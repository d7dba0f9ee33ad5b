"""Oracle asset checks: ARCHIVELOG, supplemental logging, the role's and user's grants, primary
keys. Each reads the catalog once and judges it with the pure functions of catalog.py."""

from typing import Any

import dagster as dg

from pipeline_defs.core.nodes import Lineage, LineageNode
from pipeline_defs.systems.oracle import catalog as cat
from pipeline_defs.systems.oracle import retention as ret
from pipeline_defs.systems.oracle.spec import OracleSource
from resources.oracle import OracleResource


def read_catalog(source: OracleSource, oracle: OracleResource) -> cat.CatalogState:
    with oracle.admin_client() as admin:
        return cat.read_catalog(source, admin.query)


def _result(check: tuple[bool, dict[str, Any]], severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    passed, details = check
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        metadata={
            k: (v if isinstance(v, (int, float, str, bool)) else dg.MetadataValue.json(v)) for k, v in details.items() if v is not None
        },
    )


_RETENTION_FIX = {
    "confluent": "restore the missing archived logs from backup, or take a new snapshot: reset the connector's offsets "
    "(reset_connector_offsets) so start.from=snapshot applies again",
    "debezium": "restore the missing archived logs from backup, or take a new snapshot: reset the connector's offsets "
    "(reset_connector_offsets) so snapshot.mode=initial applies again",
}


def log_retention(source: OracleSource, oracle: OracleResource, connect: Any) -> tuple[bool, dict[str, Any]]:
    """Each connector's resume SCN (Connect's offsets) against the redo the database still holds."""
    from resources.connect_errors import ConnectorNotFound

    client = connect.get_client()
    offsets: dict[str, int | None] = {}
    for c in source.connectors:
        try:
            offsets[c.name] = ret.resume_scn(client.offsets(c.name), source.database)
        except ConnectorNotFound:
            offsets[c.name] = None  # not registered: the connector checks say so; no position to lose yet
    with oracle.admin_client() as admin:
        archived = admin.query(ret.ARCHIVED_LOGS_SQL)
        online = admin.query(ret.ONLINE_LOGS_SQL)
        current = admin.query(ret.CURRENT_SCN_SQL)
    db = current[0] if current else {}
    current_scn = int(db["CURRENT_SCN"]) if db.get("CURRENT_SCN") is not None else None
    incarnation = int(db["RESETLOGS_CHANGE#"]) if db.get("RESETLOGS_CHANGE#") is not None else None
    hz = ret.horizon(ret.log_files(archived, online, incarnation))
    return ret.judge(offsets, hz, current_scn, source.log_retention.warn_margin_scn, _RETENTION_FIX[source.flavor])


def oracle_checks(node: LineageNode, lineage: Lineage) -> list[dg.AssetChecksDefinition]:
    source: OracleSource = node.desired.source
    key = dg.AssetKey(list(node.key))
    if node.kind == "oracle_role":
        tables = [dg.AssetKey(list(n.key)) for n in lineage.by_kind("oracle_table")]

        @dg.asset_check(asset=key, name="archivelog_mode", description="V$DATABASE.LOG_MODE is ARCHIVELOG (LogMiner needs it)")
        def archivelog(oracle: OracleResource) -> dg.AssetCheckResult:
            return _result(cat.check_archivelog(read_catalog(source, oracle)))

        @dg.asset_check(
            asset=key,
            name="supplemental_logging",
            additional_deps=tables,
            description="minimal supplemental logging on the database, all-column logging on captured tables",
        )
        def supplemental(oracle: OracleResource) -> dg.AssetCheckResult:
            return _result(cat.check_supplemental_logging(source, read_catalog(source, oracle)))

        # the role's SELECT grants on the tables are made by the table assets: judge after them
        @dg.asset_check(
            asset=key,
            name="role_grants",
            additional_deps=tables,
            description="the CDC role holds every grant in the spec (DBA_SYS_PRIVS, DBA_TAB_PRIVS, DBA_ROLE_PRIVS)",
        )
        def role_grants(oracle: OracleResource) -> dg.AssetCheckResult:
            return _result(cat.check_role_grants(source, read_catalog(source, oracle)))

        @dg.asset_check(
            asset=key,
            name="log_retention",
            required_resource_keys={"oracle", "connect"},
            description="each CDC connector's offset SCN is still covered by redo the database holds (V$ARCHIVED_LOG, V$LOG): "
            f"WARN within {source.log_retention.warn_margin_scn} SCNs of the oldest, ERROR once older",
        )
        def retention(context) -> dg.AssetCheckResult:
            passed, md = log_retention(source, context.resources.oracle, context.resources.connect)
            # WARN before a restart would fail for lack of logs, ERROR once it would
            sev = dg.AssetCheckSeverity.ERROR if md["severity"] == "ERROR" else dg.AssetCheckSeverity.WARN
            return _result((passed, md), sev)

        return [archivelog, supplemental, role_grants, retention]
    if node.kind == "oracle_user":

        @dg.asset_check(asset=key, name="user_grants", description="the CDC user holds its roles and grants")
        def user_grants(oracle: OracleResource) -> dg.AssetCheckResult:
            return _result(cat.check_user_grants(source, read_catalog(source, oracle)))

        return [user_grants]
    table = source.table(node.desired.part)

    @dg.asset_check(
        asset=key,
        name="primary_key",
        description="the table has a primary key (the CDC record key and the engine's table key come from it)",
    )
    def pk(oracle: OracleResource) -> dg.AssetCheckResult:
        state = read_catalog(source, oracle)
        cols = state.primary_keys.get((source.user.name, table.name), ())
        want = cat.primary_key_columns(table)
        return dg.AssetCheckResult(
            passed=bool(cols) and tuple(cols) == tuple(want),
            metadata={"primary_key": ", ".join(cols) or "(none)", "expected": ", ".join(want)},
        )

    return [pk]
