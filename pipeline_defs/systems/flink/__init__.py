"""Flink SQL as the stream engine: spec model (spec.py), SQL compiler (sql.py), pure provisioning/health
decisions (decisions.py) and the job reconciler over the SQL Gateway and JobManager REST clients (jobs.py)."""

from pipeline_defs.systems.flink.jobs import (
    JobOutcome,
    job_health,
    provision_job,
    submit_job,
)
from pipeline_defs.systems.flink.spec import FlinkEngine
from pipeline_defs.systems.flink.sql import (
    CompileError,
    FlinkJob,
    SourceColumn,
    SourceTable,
    compile_job,
    compile_jobs,
    statement_hash,
)

__all__ = [
    "CompileError",
    "FlinkEngine",
    "FlinkJob",
    "JobOutcome",
    "SourceColumn",
    "SourceTable",
    "compile_job",
    "compile_jobs",
    "job_health",
    "provision_job",
    "statement_hash",
    "submit_job",
]

from pipeline_defs.core import registry
from pipeline_defs.systems.flink.plugin import FlinkPlugin

registry.register(FlinkPlugin())
