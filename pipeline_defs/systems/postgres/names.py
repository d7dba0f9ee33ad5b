"""Names the PostgreSQL source gives to things outside the database: topics, include lists, slots.

Debezium names a table's topic ``<topic.prefix>.<schema>.<table>`` with the names as the catalog
holds them; quoted upper-case names stay upper case (``pg.public.POC_CLICKSTREAM``). Verified on
the real connector by tests/integration/test_postgres_debezium.py.
"""

from __future__ import annotations

import re

from pipeline_defs.systems.postgres.spec import PgConnector, PgTable, PostgresSource


def _name(table: str | PgTable) -> str:
    return table.name if isinstance(table, PgTable) else table


def cdc_topic(source: PostgresSource, table: str | PgTable) -> str:
    """``pg.public.POC_CLICKSTREAM``: the topic the table's change records land in."""
    return f"{source.topic_prefix}.{source.schema_name}.{_name(table)}"


def heartbeat_topic(source: PostgresSource) -> str:
    """Where Debezium writes heartbeats (``heartbeat.interval.ms`` > 0); default
    ``topic.heartbeat.prefix`` is ``__debezium-heartbeat``."""
    return f"__debezium-heartbeat.{source.topic_prefix}"


def table_include_entry(source: PostgresSource, table: str | PgTable) -> str:
    r"""One ``table.include.list`` entry: a regular expression Debezium matches against
    ``<schema>.<table>`` (anchored). The '.' separator is escaped so it matches only itself;
    validated names hold nothing else a regex would read specially."""
    return rf"{re.escape(source.schema_name)}\.{re.escape(_name(table))}"


def table_include_list(source: PostgresSource, connector: PgConnector) -> str:
    return ",".join(table_include_entry(source, t) for t in connector.tables)


def slot_name(connector: PgConnector) -> str:
    """The replication slot the connector reads (and Debezium creates on first start)."""
    return connector.slot_name


def qualified_name(source: PostgresSource, table: str | PgTable) -> str:
    """``public.POC_CLICKSTREAM``, how people and pg_publication_tables name it."""
    return f"{source.schema_name}.{_name(table)}"
