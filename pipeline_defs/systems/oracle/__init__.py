"""Oracle 19c as the CDC source: the role, user and tables, and Confluent's or Debezium's Oracle CDC
connectors. Registering it adds ``kind: oracle`` to the spec's ``source`` union."""

from pipeline_defs.core import registry
from pipeline_defs.systems.oracle.plugin import OracleSourcePlugin

registry.register(OracleSourcePlugin())
