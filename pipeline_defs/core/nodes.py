"""The lineage graph: one node per asset, each carrying the desired state of what it stands for.

A node is the props record of the dagster-fivetran pattern: everything provisioning, checks and
sensors need about one object (a connector's name, rendered config and secret keys; a topic's
partitions; an engine statement) is computed once, when the graph is built, and read from
``node.desired`` afterwards. Nobody looks the spec up again from an asset key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

Key = tuple[str, ...]


def asset_key_component(name: str) -> str:
    """Dagster AssetKey components must match ^[A-Za-z0-9_-]+$: everything else becomes '_'."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


@dataclass(frozen=True)
class LineageNode:
    """One asset. ``key`` is a Dagster-safe AssetKey path; the real name (a topic with dots) is in
    ``name``. ``system`` names the registered system that provisions and checks it."""

    key: Key
    kind: str  # oracle_role | oracle_table | source_connector | kafka_topic | ksql_table | redis_keys | ...
    name: str
    group: str
    system: str
    desired: Any = field(default=None, compare=False, hash=False)
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    code_version: str = ""
    description: str = ""
    kinds: frozenset[str] = frozenset()

    @property
    def path(self) -> list[str]:
        return list(self.key)


@dataclass(frozen=True)
class Lineage:
    nodes: list[LineageNode]
    edges: list[tuple[Key, Key]]  # (upstream key, downstream key)

    # Indexes built on first use (the lineage is not changed after build): a scan per lookup is quadratic
    # over a 1,000-node spec, whose definitions look up every node's deps.
    @cached_property
    def _by_key(self) -> dict[Key, LineageNode]:
        return {n.key: n for n in reversed(self.nodes)}  # the first node of a key wins, as the scan did

    @cached_property
    def _up(self) -> dict[Key, list[Key]]:
        up: dict[Key, list[Key]] = {}
        for a, b in self.edges:
            up.setdefault(b, []).append(a)
        return up

    @cached_property
    def _down(self) -> dict[Key, list[Key]]:
        down: dict[Key, list[Key]] = {}
        for a, b in self.edges:
            down.setdefault(a, []).append(b)
        return down

    def node(self, key: Key | list[str]) -> LineageNode:
        key = tuple(key)
        try:
            return self._by_key[key]
        except KeyError:
            raise KeyError(key) from None

    def deps(self, key: Key | list[str]) -> list[Key]:
        return list(self._up.get(tuple(key), ()))

    def downstream(self, key: Key | list[str]) -> list[Key]:
        return list(self._down.get(tuple(key), ()))

    def _index(self, attr: str) -> dict[str, list[LineageNode]]:
        index: dict[str, list[LineageNode]] = {}
        for n in self.nodes:
            index.setdefault(getattr(n, attr), []).append(n)
        return index

    @cached_property
    def _of_kind(self) -> dict[str, list[LineageNode]]:
        return self._index("kind")

    @cached_property
    def _of_system(self) -> dict[str, list[LineageNode]]:
        return self._index("system")

    def by_kind(self, kind: str) -> list[LineageNode]:
        return list(self._of_kind.get(kind, ()))

    def by_system(self, system: str) -> list[LineageNode]:
        return list(self._of_system.get(system, ()))

    def systems(self) -> list[str]:
        return list(dict.fromkeys(n.system for n in self.nodes))


@dataclass
class GraphBuilder:
    """What each plug-in adds its nodes and edges to while the lineage is assembled."""

    nodes: list[LineageNode] = field(default_factory=list)
    edges: list[tuple[Key, Key]] = field(default_factory=list)

    def add(self, node: LineageNode, *upstream: Key) -> Key:
        self.nodes.append(node)
        for u in upstream:
            self.edges.append((u, node.key))
        return node.key

    def edge(self, upstream: Key, downstream: Key) -> None:
        self.edges.append((upstream, downstream))

    def build(self) -> Lineage:
        return Lineage(self.nodes, self.edges)
