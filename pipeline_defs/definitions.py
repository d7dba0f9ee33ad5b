"""The Dagster definitions of the CDC control plane, all derived from one spec."""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from pipeline_defs import assets as assets_mod
from pipeline_defs import checks as checks_mod
from pipeline_defs import jobs as jobs_mod
from pipeline_defs import sensors as sensors_mod
from pipeline_defs.lineage import build_lineage
from pipeline_defs.spec import load_spec
from pipeline_defs.wiring import build_resources


def build_definitions(spec=None, resources: Mapping[str, dg.ConfigurableResource] | None = None) -> dg.Definitions:
    spec = spec or load_spec()
    lineage = build_lineage(spec)
    assets = assets_mod.build_assets(lineage)
    checks = checks_mod.build_checks(lineage)
    jobs = jobs_mod.build_jobs(spec, lineage, checks_mod.data_check_keys(spec, lineage, checks))
    sensors, schedules = sensors_mod.build_automation(spec, lineage)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        sensors=sensors,
        schedules=schedules,
        resources=dict(resources or build_resources()),
    )


defs = build_definitions()
