"""The data checks of one Redis keyspace, from ONE read of it: ``matches_<source>`` (blocking:
every document equals the source's count for its NAME and window, under the right key) and
``fresh`` (WARN: the newest window closed recently)."""

import time
from collections.abc import Callable
from typing import Any

import dagster as dg

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import LineageNode
from pipeline_defs.systems.redis.compare import CompareReport, Mismatch, compare_streamed, freshness_lag_ms

DATA_CHECK_PREFIX = "matches_"
FRESH = "fresh"


def data_check_names(source_kind: str) -> set[str]:
    return {DATA_CHECK_PREFIX + source_kind, FRESH}


def mismatch_table(mismatches: list[Mismatch]) -> dg.MetadataValue:
    cols = ["name", "problem", "key", "window_start", "window_end", "redis_count", "source_count"]
    return dg.MetadataValue.table(
        records=[dg.TableRecord({c: ("" if m.as_row()[c] is None else m.as_row()[c]) for c in cols}) for m in mismatches[:200]],
        schema=dg.TableSchema(columns=[dg.TableColumn(c, "int" if c.endswith("count") else "string") for c in cols]),
    )


def compare_pass(
    p: Any, resources: Any, floor: dict[tuple[str, int], int] | None = None
) -> tuple[CompareReport, dict[tuple[str, int], int]]:
    """One streamed read of the keyspace (SCAN pages -> pipelined JSON.MGET), judged against the source's counts;
    also returns those counts. The source is asked first for each NAME's newest window, so the documents holding
    it (the normal case) are judged as they stream by and dropped; only the others are kept, and judged after the
    read against a second source query reaching back to the oldest of them (compare_streamed). Memory grows with
    the NAMEs and the documents that differ, not with the keyspace."""
    source = registry.source_of(p.spec)
    newest = source.source_counts(p.spec, resources, p.agg, None)
    docs = resources.redis.get_client().iter_prefix(p.shape.key_prefix)
    return compare_streamed(docs, p.shape, newest, lambda since: source.source_counts(p.spec, resources, p.agg, since), floor_counts=floor)


def compare_settled(
    p: Any, resources: Any, *, sleep: Callable[[float], None] = time.sleep
) -> tuple[CompareReport, dict[tuple[str, int], int]]:
    """The data check's comparison, which a running stream of inserts does not fail: the first pass reads Redis
    before the source, so every row committed in between looks missing. When it finds differences, wait
    ``settle_seconds`` and compare again, taking the first pass's source counts as the floor: a row committed
    before the wait must be in Redis by now (else lost), and Redis may hold at most what the source holds
    after it (else counted twice)."""
    report, counts = compare_pass(p, resources)
    settle = float(getattr(p, "settle_seconds", 0) or 0)
    if report.passed or settle <= 0:
        return report, counts
    sleep(settle)
    return compare_pass(p, resources, floor=counts)


def compare_once(p: Any, resources: Any) -> CompareReport:
    return compare_settled(p, resources)[0]


def _keyspace_results(p: Any, key: dg.AssetKey, wanted: set[str], matches_name: str, resources: Any):
    """matches_<source> and fresh of one keyspace, from one read of it."""
    report = compare_once(p, resources)
    if matches_name in wanted:
        md: dict[str, Any] = {
            "keys_checked": report.keys_checked,
            "matched": report.matched,
            "mismatches": len(report.mismatches),
            "redis_events": report.redis_events,
            "source_events": report.source_events,
        }
        if report.mismatches:
            md["mismatch_table"] = mismatch_table(report.mismatches)
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=matches_name,
            passed=report.passed,
            metadata=md,
            description=None
            if report.passed
            else f"{len(report.mismatches)} mismatch(es): " + ", ".join(f"{m.name} ({m.problem})" for m in report.mismatches[:5]),
        )
    if FRESH in wanted:
        freshness_ms = int(p.freshness_minutes * 60_000)
        lag = freshness_lag_ms(report, int(time.time() * 1000))
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=FRESH,
            passed=lag is not None and lag <= freshness_ms,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "lag_seconds": round(lag / 1000, 1) if lag is not None else -1,
                "keys": report.keys_checked,
                "bound_seconds": freshness_ms // 1000,
            },
        )


def redis_checks(nodes: list[LineageNode]) -> list[dg.AssetChecksDefinition]:
    """The data checks of every keyspace in one definition (one op, not one per keyspace: Dagster builds an op per
    definition, which dominated loading a 200-sink spec). Each selected keyspace is read once for both of its
    checks; a keyspace whose read fails does not hide the others' results: the step fails after them."""
    by_key = {dg.AssetKey(list(n.key)): n.desired for n in nodes}
    source = registry.source_of(nodes[0].desired.spec)
    matches_name = DATA_CHECK_PREFIX + source.kind

    @dg.multi_asset_check(
        specs=[
            spec
            for key, p in by_key.items()
            for spec in (
                dg.AssetCheckSpec(
                    matches_name,
                    asset=key,
                    blocking=True,
                    description=f"for every NAME, the count in Redis equals the {source.kind} rows of that NAME in the "
                    "same window, under the key keyspace + separator + NAME, in a whole window",
                ),
                dg.AssetCheckSpec(FRESH, asset=key, description=f"the newest window in Redis closed within {p.freshness_minutes} minutes"),
            )
        ],
        required_resource_keys={"redis", *source.resource_keys},
        name="redis_data_checks",
        can_subset=True,
    )
    def data_checks(context: dg.AssetCheckExecutionContext):
        wanted: dict[dg.AssetKey, set[str]] = {}
        for k in context.selected_asset_check_keys:
            wanted.setdefault(k.asset_key, set()).add(k.name)
        failed: list[tuple[dg.AssetKey, Exception]] = []
        for key in sorted(wanted, key=lambda k: k.path):
            try:
                yield from _keyspace_results(by_key[key], key, wanted[key], matches_name, context.resources)
            except Exception as e:
                context.log.error(f"{key.to_user_string()}: the data check failed: {type(e).__name__}: {e}")
                failed.append((key, e))
        if failed:
            if len(failed) == 1:
                raise failed[0][1]
            raise dg.Failure(
                f"the data checks of {len(failed)} keyspaces failed: "
                + "; ".join(f"{k.to_user_string()}: {type(e).__name__}: {e}" for k, e in failed[:5])
            ) from failed[0][1]

    return [data_checks]
