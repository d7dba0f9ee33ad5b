"""Asset checks: each system judges its own nodes; the data checks compare Redis with the source.

Each check reads, never writes. Failures carry what a person needs to act: the missing grants, the
failed task's trace, the drifted keys, the mismatching NAMEs and windows (as a table).
"""

from __future__ import annotations

import dagster as dg

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import Lineage


def build_checks(lineage: Lineage) -> list[dg.AssetChecksDefinition]:
    return [c for node in lineage.nodes for c in registry.system(node.system).checks(node, lineage)]


def data_check_keys(spec, lineage: Lineage, checks: list[dg.AssetChecksDefinition]) -> list[dg.AssetCheckKey]:
    """The checks that judge the data (run by data_quality, not by provision_pipeline)."""
    names = {n for s in lineage.systems() for n in registry.system(s).data_check_names(spec)}
    return [k for c in checks for k in c.check_keys if k.name in names]
