"""Pull queries on the ksqlDB double (/query-stream): SELECT <columns> FROM <table> [WHERE ..] [LIMIT n].

A table is queryable when it is a SOURCE TABLE or written by a running CREATE TABLE ... AS SELECT, as in
ksqlDB. Its rows are the live store of the query's KafkaAggregation in Kafka-backed mode, else the rows a
test injected with KsqlDbDouble.set_table_rows(). Push queries (EMIT CHANGES) and pull queries on streams
are refused with a SqlError.
"""

from __future__ import annotations

import re
from typing import Any

from tests.doubles.ksql_lexical import NAME, SqlError, ident, split_statements
from tests.doubles.ksql_metastore import Metastore
from tests.doubles.ksql_statements import Query, parse_statement, parse_where
from tests.doubles.ksql_windowed_aggregation import KafkaAggregation


def pull(
    st: Metastore, sql: str, table_rows: dict[str, list[dict[str, Any]]], aggregations: dict[str, KafkaAggregation]
) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """(selected columns with their types, the matching rows); table_rows: the rows tests injected, by table;
    aggregations: the Kafka-backed queries by id."""
    statements = split_statements(sql)
    if len(statements) != 1:
        raise SqlError("Expected exactly one statement in a /query-stream request")
    stmt = parse_statement(statements[0])
    if not isinstance(stmt, Query) or not stmt.select.source:
        raise SqlError("/query-stream accepts SELECT statements only")
    sel = stmt.select
    if sel.emit_changes:
        raise SqlError("ksqlDB test double: push queries (EMIT CHANGES) are not simulated")
    if sel.group_by or sel.window or sel.partition_by:
        raise SqlError("Pull queries don't support GROUP BY, WINDOW or PARTITION BY clauses.")
    src = st.sources.get(sel.source)
    if src is None:
        raise SqlError(f"{sel.source} does not exist.")
    if src.kind == "STREAM":
        raise SqlError("ksqlDB test double: pull queries on streams are not simulated")
    if not (src.is_cas or src.is_source_table):
        raise SqlError(
            f"The `{src.name}` table isn't queryable. To derive a queryable table, you can do 'CREATE TABLE "
            f"QUERYABLE_{src.name} AS SELECT * FROM {src.name}'. See https://cnfl.io/queries for more info.\n"
            "Add EMIT CHANGES if you intended to issue a push query."
        )
    if src.is_cas and not any(q.sink == src.name for q in st.queries.values()):
        raise SqlError("Materializing query has been stopped")
    all_cols = [(c.name, c.type) for c in src.key_columns]
    if src.window:
        all_cols += [("WINDOWSTART", "BIGINT"), ("WINDOWEND", "BIGINT")]
    all_cols += [(c.name, c.type) for c in src.value_columns]
    types = dict(all_cols)
    selected: list[tuple[str, str]] = []
    for item in sel.items:
        if item.expr == "*":
            selected += all_cols
            continue
        if not re.fullmatch(rf"(?:{NAME}\.)?{NAME}", item.expr):
            raise SqlError(f"ksqlDB test double: pull-query projection supports columns only, not {item.expr!r}")
        ref = ident(item.expr.split(".")[-1])
        if ref not in types:
            raise SqlError(f"Line: 1, Col: 8: SELECT column '{ref}' cannot be resolved.")
        selected.append((item.alias or ref, types[ref]))
    conditions = parse_where(sel.where)
    for col, _, _ in conditions:
        if col not in types:
            raise SqlError(f"Line: 1, Col: 1: WHERE column '{col}' cannot be resolved.")
    rows = []
    writer = next((q for q in st.queries.values() if q.sink == src.name), None)
    live = aggregations.get(writer.id) if writer is not None else None
    for row in live.rows() if live is not None else table_rows.get(src.name, []):
        missing = [c for c, _ in all_cols if c not in row]
        if missing:
            raise RuntimeError(f"set_table_rows({src.name!r}) row lacks columns {missing}: {row}")
        if all(_compare(row[c], op, v) for c, op, v in conditions):
            rows.append(row)
    if sel.limit is not None:
        rows = rows[: sel.limit]
    aliases = {item.alias: ident(item.expr.split(".")[-1]) for item in sel.items if item.alias}
    projected = [{name: row[aliases.get(name, name)] for name, _ in selected} for row in rows]
    return selected, projected


def _compare(a: Any, op: str, b: Any) -> bool:
    if op == "=":
        return a == b
    if op in ("!=", "<>"):
        return a != b
    if a is None or b is None:
        return False
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


__all__ = ["pull"]
