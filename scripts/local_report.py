"""run-main's last step: wait until every Redis keyspace of the spec matches the source (the same
comparison as the `matches_<source>` check), then print what the seed recipe's own check prints,
`JSON.GET USER_AGGREGATE_EVENTS:<user>` for each user. Exit 1 with the mismatches after the timeout."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dagster as dg

from pipeline_defs.core import registry
from pipeline_defs.lineage import build_lineage
from pipeline_defs.spec import load_spec
from pipeline_defs.systems.redis.checks import compare_once
from pipeline_defs.wiring import build_resources


def main(timeout: float = float(os.environ.get("CDC_RUN_MAIN_TIMEOUT", "180"))) -> int:
    spec = load_spec()
    lineage = build_lineage(spec)
    with dg.build_resources(build_resources(lineage.systems())) as resources:  # resolves the EnvVar secrets
        return _wait_and_print(spec, lineage, resources, timeout)


def _wait_and_print(spec, lineage, resources, timeout: float) -> int:
    nodes = lineage.by_kind("redis_keys")
    deadline = time.monotonic() + timeout
    client = resources.redis.get_client()
    while True:
        reports = [(n, compare_once(n.desired, resources)) for n in nodes]
        present = client.json_mget([k for n in nodes for k in n.desired.expected_keys])
        missing = [k for k, doc in present.items() if doc is None]
        if all(r.passed for _, r in reports) and not missing:
            break
        if time.monotonic() > deadline:
            for n, r in reports:
                for m in r.mismatches[:10]:
                    print(f"run-main: {n.name}: {m.name}: {m.problem} (redis {m.redis_count}, source {m.source_count})", file=sys.stderr)
            print(f"run-main: Redis did not match the source within {timeout:.0f}s; missing keys: {missing}", file=sys.stderr)
            return 1
        time.sleep(1)
    source = registry.source_of(spec)
    for n in nodes:
        p = n.desired
        # like the seed: every user any table knows (jwick and jcena have no clicks: nil)
        users: list[str] = []
        for t in source.tables(spec):
            if t.column(p.agg.group_by) is not None:
                users += [u for u in source.seed_values(spec, t.name, p.agg.group_by) if u not in users]
        for user in users:
            key = p.shape.key_prefix + user
            doc = client.json_mget([key]).get(key)
            print(f"JSON.GET {key}\n{json.dumps(doc, separators=(',', ':')) if doc is not None else '(nil)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
