"""One neutral column-type set, where sources and stream engines meet.

The set is Kafka Connect's schema types plus its logical types (the types a CDC connector writes
on the wire). A source maps its database types to these; an engine maps these to its own types.
The mapping therefore grows as sources + engines, not sources x engines.

Wire encodings assumed (what the connectors write with the settings the source packages derive):
TIMESTAMP is epoch milliseconds (Connect ``Timestamp``; Debezium ``time.precision.mode=connect``),
DECIMAL is a double (``numeric.mapping=best_fit`` / ``decimal.handling.mode=double``).
"""

from __future__ import annotations

from enum import StrEnum


class Neutral(StrEnum):
    STRING = "STRING"
    BOOLEAN = "BOOLEAN"
    INT32 = "INT32"
    INT64 = "INT64"
    FLOAT64 = "FLOAT64"
    BYTES = "BYTES"
    TIMESTAMP = "TIMESTAMP"  # epoch ms on the wire
    DATE = "DATE"  # days since epoch on the wire
