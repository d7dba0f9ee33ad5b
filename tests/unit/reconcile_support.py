"""What the data check's unit tests share: a keyspace shape, a window boundary, a document and the mismatch list."""

from __future__ import annotations

import datetime as dt

from pipeline_defs.systems.redis.compare import AggregateShape, to_epoch_ms

SHAPE = AggregateShape("K:", "NAME", "EVENT_COUNT", "WINDOW_START", "WINDOW_END", 60_000)
T0 = to_epoch_ms(dt.datetime(2026, 11, 24, 10, 0, 0))  # a window boundary
W = 60_000


def doc(name, count, start=T0):
    return {"NAME": name, "EVENT_COUNT": count, "WINDOW_START": start, "WINDOW_END": start + W}


def problems(report):
    return sorted((m.name, m.problem) for m in report.mismatches)
