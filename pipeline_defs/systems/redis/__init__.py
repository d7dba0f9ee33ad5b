"""Redis (with the JSON module) as the sink: a Kafka Connect sink writes the aggregates.
Registering it adds ``kind: redis`` to the spec's ``sinks[]`` union."""

from pipeline_defs.core import registry
from pipeline_defs.systems.redis.plugin import RedisSinkPlugin

registry.register(RedisSinkPlugin())
