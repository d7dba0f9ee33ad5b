"""PostgreSQL preflight checks as Dagster asset checks (the counterpart of the Oracle ones):
wal_level=logical and the CDC role on the role; columns, key and grants on each table; on the
publication its exact table set, each connector's slot, and the WAL retention guard (WARN before a
restart would fail for lack of WAL, ERROR once it would)."""

from typing import Any

import dagster as dg

from pipeline_defs.core.nodes import Lineage, LineageNode
from pipeline_defs.systems.postgres import catalog as cat
from pipeline_defs.systems.postgres import checks as pc


def _result(check: tuple[bool, dict[str, Any]], severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    passed, details = check
    return dg.AssetCheckResult(
        passed=passed,
        severity=severity,
        metadata={
            k: (v if isinstance(v, (int, float, str, bool)) else dg.MetadataValue.json(v)) for k, v in details.items() if v is not None
        },
    )


def _cdc_password(src) -> str | None:
    from resources.endpoints import secret

    try:
        return secret(src.role.password_env)
    except KeyError:  # a variable the control plane does not hold: nothing to compare with
        return None


def postgres_checks(node: LineageNode, lineage: Lineage) -> list[dg.AssetChecksDefinition]:
    src = node.desired.source
    key = dg.AssetKey(list(node.key))

    def state(context, *, with_password: bool = False) -> cat.CatalogState:
        return cat.read_catalog(
            src, context.resources.postgres.get_client().query, cdc_password=_cdc_password(src) if with_password else None
        )

    if node.kind == "postgres_role":

        @dg.asset_check(
            asset=key,
            name="wal_level_logical",
            required_resource_keys={"postgres"},
            description="wal_level=logical and enough replication slots and WAL senders",
        )
        def wal(context) -> dg.AssetCheckResult:
            return _result(pc.check_wal_level(src, state(context)))

        @dg.asset_check(
            asset=key,
            name="role_grants",
            required_resource_keys={"postgres"},
            description="the CDC role has LOGIN REPLICATION, CONNECT, schema USAGE and the connectors' password "
            "(SELECT: each table's matches_spec)",
        )
        def role(context) -> dg.AssetCheckResult:
            # the SELECT grants belong to the table nodes (provisioned after the role), so their checks judge them;
            # here they would fail every first provisioning, which runs this check before the tables exist
            # the role's stored verifier against the password the connectors use: a password changed under a running
            # connector shows only here (Debezium 3.6.1 retries a failed login at task start forever, task RUNNING)
            return _result(pc.check_role(src, state(context, with_password=True), tables=False))

        return [wal, role]
    if node.kind == "postgres_table":
        # one definition holds every table's matches_spec (one op and one catalog read, not one per table: Dagster
        # builds an op per definition, which dominated loading a 200-table spec); it comes with the first table
        tables = lineage.by_kind(node.kind)  # one source per spec: every table node is of `src`
        if node.key != tables[0].key:
            return []
        part = {dg.AssetKey(list(n.key)): n.desired.part.split(":", 1)[1] for n in tables}

        @dg.multi_asset_check(
            specs=[
                dg.AssetCheckSpec(
                    "matches_spec",
                    asset=k,
                    description="columns, primary key, replica identity and the CDC role's SELECT equal the spec",
                )
                for k in part
            ],
            required_resource_keys={"postgres"},
            name="postgres_tables_match_spec",
            can_subset=True,
        )
        def table_checks(context):
            s = state(context)
            for k in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
                table = part[k.asset_key]
                ok, md = pc.check_table(src, s, table)
                ts = s.tables.get(table)
                if ts is not None and src.table(table).capture:
                    md["cdc_role_select"] = ts.select_granted
                    if not ts.select_granted:
                        ok = False
                        md["problem"] = "; ".join(
                            p for p in (md.get("problem"), f"role {src.role.name} lacks SELECT on {md['table']}") if p
                        )
                r = _result((ok, md))
                yield dg.AssetCheckResult(
                    asset_key=k.asset_key, check_name=k.name, passed=r.passed, severity=r.severity, metadata=r.metadata
                )

        return [table_checks]

    @dg.asset_check(
        asset=key,
        name="covers_captured_tables",
        required_resource_keys={"postgres"},
        description="the publication exists and lists exactly the captured tables",
    )
    def publication(context) -> dg.AssetCheckResult:
        return _result(pc.check_publication(src, state(context)))

    @dg.asset_check(
        asset=key,
        name="slots_active",
        required_resource_keys={"postgres"},
        description="each connector's replication slot exists, uses pgoutput and is streaming",
    )
    def slots(context) -> dg.AssetCheckResult:
        s = state(context)
        results = [pc.check_slot(src, s, c) for c in src.connectors]
        md = {"slots": [r[1] for r in results]}
        problems = [r[1].get("problem") for r in results if not r[0]]
        if problems:
            md["problem"] = "; ".join(p for p in problems if p)
        return _result((all(r[0] for r in results), md))

    @dg.asset_check(
        asset=key,
        name="wal_retention",
        required_resource_keys={"postgres"},
        description=f"retained WAL per slot under {src.wal_retention.warn_bytes} bytes (WARN) and "
        f"{src.wal_retention.error_bytes} bytes (ERROR); an inactive slot WARNs",
    )
    def retention(context) -> dg.AssetCheckResult:
        passed, md = pc.check_wal_retention(src, state(context))
        # before a restart would fail for lack of WAL: WARN; once it would (or WAL was lost): ERROR
        return _result((passed, md), dg.AssetCheckSeverity.ERROR if md.get("severity") == "ERROR" else dg.AssetCheckSeverity.WARN)

    return [publication, slots, retention]
