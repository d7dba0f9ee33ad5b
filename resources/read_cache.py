"""Reads memoized for the length of one scope: a plan reads every object of a system, and with hundreds of
objects one request per object is the cost. Inside ``with client.cached_reads():`` a client answers its
per-object reads from ONE listing it fetches on first use (Connect: every connector with its config; Flink:
the jobs overview; Kafka: every topic's metadata and configs; Postgres: each catalog query once). Any write
through the same client clears the memo, so a read after a write is fresh; outside a scope nothing is kept.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Iterator
from typing import Any


class ReadCache:
    def __init__(self) -> None:
        self._depth = 0
        self._memo: dict[Hashable, Any] = {}

    @property
    def active(self) -> bool:
        return self._depth > 0

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if not self._depth:
                self._memo.clear()

    def get(self, key: Hashable, fetch: Callable[[], Any]) -> Any:
        if not self._depth:
            return fetch()
        if key not in self._memo:
            self._memo[key] = fetch()
        return self._memo[key]

    def clear(self) -> None:
        self._memo.clear()
