"""A generated local-profile spec (pipeline.local.yaml's shape) with N captured tables, each with its own
Debezium connector, a Flink source object and aggregate, and a Redis sink."""

from __future__ import annotations

from pathlib import Path

import yaml
from _common import REPO


def scale_spec(n: int) -> dict:
    base = yaml.safe_load((REPO / "pipeline.local.yaml").read_text())
    src = base["source"]
    names = [f"T{i:03d}" for i in range(1, n + 1)]
    src["tables"] = [
        {
            "name": t,
            "columns": [
                {"name": "ID", "type": "VARCHAR(50)", "primary_key": True},
                {"name": "NAME", "type": "VARCHAR(50)"},
                {"name": "TS", "type": "TIMESTAMP"},
            ],
        }
        for t in names
    ]
    src["connectors"] = [{"name": f"pg-{t.lower()}", "tables": [t], "slot_name": f"cdc_{t.lower()}"} for t in names]
    base["engine"]["objects"] = [
        o
        for t in names
        for o in (
            {"name": f"{t}_STREAM", "source": {"table": t}, "timestamp": "TS"},
            {
                "name": f"{t}_AGG",
                "aggregate": {
                    "from": f"{t}_STREAM",
                    "group_by": "NAME",
                    "count_as": "EVENT_COUNT",
                    "window": {"size": "1 MINUTE", "grace": "1 MINUTE"},
                },
            },
        )
    ]
    base["sinks"] = [{**base["sinks"][0], "name": f"redis-{t.lower()}", "object": f"{t}_AGG"} for t in names]
    return base


def write_scale_spec(n: int, path: Path) -> Path:
    path.write_text(yaml.safe_dump(scale_spec(n), sort_keys=False))
    return path
