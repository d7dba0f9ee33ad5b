"""A Redis without persistence is a finding: the sink's keys are the product, and a restart of a
Redis with neither AOF nor RDB snapshots loses all of them (a full replay of the aggregate topic
would be needed, if its retention still holds the windows). WARN, not ERROR: the data is right
now; it is one restart away from gone."""

from __future__ import annotations

from typing import Any

import dagster as dg

from pipeline_defs.core.nodes import LineageNode


def persistence_state(info: dict[str, Any], config: dict[str, str]) -> tuple[bool, dict[str, Any]]:
    """(persistent, metadata) from INFO persistence and CONFIG GET appendonly/appendfsync/save.
    RDB counts only when a save schedule is set; AOF when appendonly is on and enabled."""
    aof = str(config.get("appendonly", "no")).lower() == "yes" or str(info.get("aof_enabled", 0)) == "1"
    save = str(config.get("save", "")).strip()
    md: dict[str, Any] = {
        "aof": aof,
        "appendfsync": config.get("appendfsync", ""),
        "rdb_save": save or "(none)",
        "aof_last_write_status": str(info.get("aof_last_write_status", "")),
        "rdb_last_bgsave_status": str(info.get("rdb_last_bgsave_status", "")),
    }
    persistent = aof or bool(save)
    if not persistent:
        md["problem"] = (
            'Redis runs with neither AOF (appendonly no) nor RDB snapshots (save ""): a restart loses every '
            "key; set appendonly yes (appendfsync everysec) or a save schedule"
        )
    elif aof and md["aof_last_write_status"] not in ("", "ok"):
        persistent = False
        md["problem"] = f"AOF is on but its last write failed ({md['aof_last_write_status']})"
    return persistent, md


def read_persistence(r: Any) -> tuple[bool, dict[str, Any]]:
    info = r.info("persistence")
    config: dict[str, str] = {}
    for key in ("appendonly", "appendfsync", "save"):
        config.update(r.config_get(key))
    return persistence_state(info, config)


def persistence_checks(nodes: list[LineageNode]) -> dg.AssetChecksDefinition:
    """`persistence` on every Redis keyspace asset, from one definition (one op, not one per keyspace: Dagster
    builds an op per definition, which dominated loading a 200-sink spec) and one INFO read: the keyspaces
    share the `redis` resource, so they share its answer."""

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                "persistence",
                asset=dg.AssetKey(list(n.key)),
                description="Redis persists its keys (AOF or RDB snapshots): a restart must not lose the aggregates",
            )
            for n in nodes
        ],
        required_resource_keys={"redis"},
        name="redis_persistence",
        can_subset=True,
    )
    def persistence(context):
        ok, md = read_persistence(context.resources.redis.get_client().r)
        for k in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
            yield dg.AssetCheckResult(
                asset_key=k.asset_key,
                check_name=k.name,
                passed=ok,
                severity=dg.AssetCheckSeverity.WARN,
                metadata=md,
                description=md.get("problem"),
            )

    return persistence
