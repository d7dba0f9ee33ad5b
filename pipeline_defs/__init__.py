"""Dagster definitions of the CDC control plane (`dagster job execute -m pipeline_defs -j <job>`)."""

from pipeline_defs.definitions import defs

__all__ = ["defs"]
