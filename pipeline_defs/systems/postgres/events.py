"""The source side of the Redis reconciliation: what PostgreSQL says the windowed counts must be.

Both queries compute event time in epoch milliseconds *in the database*, exactly as the CDC
topic carries it: a TIMESTAMP is read as UTC (Debezium does the same), a TIMESTAMPTZ is absolute,
microseconds are cut (``time.precision.mode=connect``). So no client time zone can shift a row
into another window. Group values come back as text, as they appear in Redis keys.

* :func:`event_query`: one row per event since ``since``: ``(group_value, event_ms)``;
* :func:`window_count_query`: ``(group_value, window_start_ms, n)`` for every window starting at
  or after ``since_ms``, plus each group's newest window (all of them when ``since_ms`` is None:
  only the newest).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from pipeline_defs.systems.postgres.idents import qualified, quote_ident
from pipeline_defs.systems.postgres.spec import PgTable, PostgresSource

EVENT_TIME_TYPES = ("TIMESTAMP", "TIMESTAMPTZ", "DATE")


def _columns(source: PostgresSource, table: str, group_col: str, ts_col: str) -> tuple[PgTable, str, str, str]:
    t = source.table(table)
    if t is None:
        raise ValueError(f"{table!r} is not a table of the PostgreSQL source")
    g, ts = t.column(group_col), t.column(ts_col)
    if g is None:
        raise ValueError(f"{group_col!r} is not a column of {table}")
    if ts is None:
        raise ValueError(f"{ts_col!r} is not a column of {table}")
    if ts.type_info.base not in EVENT_TIME_TYPES:
        allowed = ", ".join(EVENT_TIME_TYPES)
        raise ValueError(f"event-time column {table}.{ts_col} is {ts.type}; it must be one of {allowed}")
    return t, quote_ident(g.name), quote_ident(ts.name), ts.type_info.base


def _epoch_ms(col: str) -> str:
    return f"floor(EXTRACT(EPOCH FROM {col}) * 1000)::bigint"


def since_param(ts_type: str, since: dt.datetime | int | None) -> Any:
    """``since`` as the column compares it: epoch ms or an aware datetime become naive UTC for
    TIMESTAMP (which holds UTC wall time) and aware UTC for TIMESTAMPTZ; a naive datetime is
    taken as UTC."""
    if since is None:
        return None
    if isinstance(since, int):
        since = dt.datetime.fromtimestamp(since / 1000, tz=dt.UTC)
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    since = since.astimezone(dt.UTC)
    return since if ts_type == "TIMESTAMPTZ" else since.replace(tzinfo=None)


def event_query(source: PostgresSource, table: str, group_col: str, ts_col: str, since: dt.datetime | int | None) -> tuple[str, list[Any]]:
    """SQL + params: ``group_value`` (text), ``event_ms`` (bigint) for every row whose event time
    is at or after ``since`` (all rows with an event time when None)."""
    t, g, ts, base = _columns(source, table, group_col, ts_col)
    sql = (
        f"SELECT {g}::text AS group_value, {_epoch_ms(ts)} AS event_ms "
        f"FROM {qualified(source.schema_name, t.name)} WHERE {ts} IS NOT NULL AND {g} IS NOT NULL"
    )
    if since is None:
        return sql, []
    return sql + f" AND {ts} >= %s", [since_param(base, since)]


def window_count_query(
    source: PostgresSource, table: str, group_col: str, ts_col: str, window_ms: int, since_ms: int | None
) -> tuple[str, list[Any]]:
    """SQL + params: ``group_value``, ``window_start_ms``, ``n`` per (group, tumbling window of
    ``window_ms``) for windows starting at or after ``since_ms`` plus each group's newest window."""
    if not isinstance(window_ms, int) or isinstance(window_ms, bool) or window_ms <= 0:
        raise ValueError(f"window size must be a positive number of milliseconds, got {window_ms!r}")
    t, g, ts, _ = _columns(source, table, group_col, ts_col)
    tbl = qualified(source.schema_name, t.name)

    def start(col: str) -> str:  # floor division also right before 1970
        return f"(floor({_epoch_ms(col)}::numeric / %s) * %s)::bigint"

    keep = "ws = newest_ws" if since_ms is None else "(ws = newest_ws OR ws >= %s)"
    sql = (
        f"SELECT group_value, ws AS window_start_ms, count(*) AS n FROM ("
        f"SELECT e.{g}::text AS group_value, {start('e.' + ts)} AS ws, {start('m.newest')} AS newest_ws "
        f"FROM {tbl} e JOIN (SELECT {g} AS grp, max({ts}) AS newest FROM {tbl} GROUP BY {g}) m ON m.grp = e.{g} "
        f"WHERE e.{ts} IS NOT NULL) x WHERE {keep} GROUP BY group_value, ws ORDER BY group_value, ws"
    )
    params: list[Any] = [window_ms, window_ms, window_ms, window_ms]
    if since_ms is not None:
        params.append(int(since_ms))
    return sql, params


def window_counts(rows: list[dict[str, Any]]) -> dict[tuple[str, int], int]:
    """Rows of :func:`window_count_query` -> ``{(group value, window start ms): n}``."""
    return {(r["group_value"], int(r["window_start_ms"])): int(r["n"]) for r in rows}


def source_window_counts(
    query: Callable[[str, Sequence[Any] | None], list[dict[str, Any]]],
    source: PostgresSource,
    table: str,
    group_col: str,
    ts_col: str,
    window_ms: int,
    since_ms: int | None,
) -> dict[tuple[str, int], int]:
    """Run :func:`window_count_query` through ``query`` (db.query_fn): what SourcePlugin.source_events returns."""
    sql, params = window_count_query(source, table, group_col, ts_col, window_ms, since_ms)
    return window_counts(query(sql, params))
