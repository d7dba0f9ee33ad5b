"""PostgreSQL as a CDC source: spec model, catalog reading, planning, checks, Debezium configs.

Everything except :mod:`.db` (psycopg) is pure: no connection, no Dagster. Modules:

* :mod:`.spec`       ``PostgresSource`` (``kind: postgres``) and ``cross_validate``
* :mod:`.types`      allowlisted column types, ``column_neutral_type``
* :mod:`.idents`     name rules and quoting
* :mod:`.names`      ``cdc_topic``, include lists, slot names
* :mod:`.sql`        ``Statement`` and statement builders (SCRAM verifier for the password)
* :mod:`.catalog`    ``read_catalog(source, query) -> CatalogState``
* :mod:`.plan`       ``plan``, ``demo_row_statements``, ``drop_slot_statement``
* :mod:`.connectors` ``connector_config``, ``secret_keys``, ``slot_name``
* :mod:`.checks`     ``check_*`` -> (passed, metadata)
* :mod:`.events`     source-side queries for the Redis reconciliation
* :mod:`.db`         psycopg glue: ``connect``, ``query_fn``, ``apply``
"""

from pipeline_defs.systems.postgres.catalog import CatalogState, read_catalog
from pipeline_defs.systems.postgres.connectors import ConnectEndpoints, connector_config, secret_keys, slot_name
from pipeline_defs.systems.postgres.names import cdc_topic
from pipeline_defs.systems.postgres.plan import demo_row_statements, drop_slot_statement, plan
from pipeline_defs.systems.postgres.spec import PostgresSource, cross_validate
from pipeline_defs.systems.postgres.sql import Statement
from pipeline_defs.systems.postgres.types import column_neutral_type

__all__ = [
    "CatalogState",
    "ConnectEndpoints",
    "PostgresSource",
    "Statement",
    "cdc_topic",
    "column_neutral_type",
    "connector_config",
    "cross_validate",
    "demo_row_statements",
    "drop_slot_statement",
    "plan",
    "read_catalog",
    "secret_keys",
    "slot_name",
]

from pipeline_defs.core import registry
from pipeline_defs.systems.postgres.plugin import PostgresSourcePlugin

registry.register(PostgresSourcePlugin())
