"""The resources the definitions run with: each system package supplies its own (endpoints from
the environment, secrets through dagster.EnvVar so they are read at run time, never shown)."""

from __future__ import annotations

import dagster as dg

from pipeline_defs.core import registry


def build_resources(systems: list[str] | None = None) -> dict[str, dg.ConfigurableResource]:
    import pipeline_defs.systems  # noqa: F401 - registers every system package

    out: dict[str, dg.ConfigurableResource] = {}
    for name in systems or list(registry.SYSTEMS):
        out.update(registry.system(name).resources())
    return out
