"""ksqlDB as the stream engine. Registering it adds ``kind: ksqldb`` to the spec's ``engine`` union."""

from pipeline_defs.core import registry
from pipeline_defs.systems.ksqldb.plugin import KsqlDbPlugin

registry.register(KsqlDbPlugin())
