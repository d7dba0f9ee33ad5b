"""The compose stack's run launcher: Dagster's DockerRunLauncher, plus per-job secrets.

The stock launcher gives every run container the same ``env_vars``, so every run would see the Oracle admin
password. This one forwards, on top of the shared ``env_vars`` (endpoints, Dagster's PostgreSQL), only the
secrets the run's job asks for in its definition tag ``cdc/run-secrets`` (pipeline_defs/run_secrets.py). The tag
is read from the job snapshot the code server produced, not from the run's tags, so a tag added at launch time
cannot widen it; every name must also be in ``secret_env_vars`` (compose/dagster.yaml). Values come from the
daemon's environment and are never logged: the engine event lists names only.

This module is imported wherever the instance is loaded (webserver, daemon, run containers), so it imports
nothing of the pipeline definitions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import Field
from dagster._core.storage.dagster_run import DagsterRun
from dagster_docker import DockerRunLauncher
from dagster_docker.container_context import DockerContainerContext
from dagster_docker.utils import DOCKER_CONFIG_SCHEMA

SECRETS_TAG = "cdc/run-secrets"  # = pipeline_defs.run_secrets.SECRETS_TAG (tests/test_compose_run_secrets.py)
IMPLICIT_ASSET_JOB = "__ASSET_JOB"


class RunSecretError(Exception):
    """A job asks for a secret the launcher may not or cannot give."""


class SecretScopedDockerRunLauncher(DockerRunLauncher):
    def __init__(
        self,
        inst_data=None,
        secret_env_vars: Sequence[str] | None = None,
        implicit_asset_job_secrets: Sequence[str] | None = None,
        **docker_config: Any,
    ):
        super().__init__(inst_data=inst_data, **docker_config)
        self.secret_env_vars = tuple(secret_env_vars or ())
        self.implicit_asset_job_secrets = tuple(implicit_asset_job_secrets or ())
        shared = {e.split("=", 1)[0] for e in self.env_vars or []}
        overlap = sorted(shared & set(self.secret_env_vars))
        if overlap:
            raise RunSecretError(f"run_launcher: {overlap} are in both env_vars (every run) and secret_env_vars")
        outside = sorted(set(self.implicit_asset_job_secrets) - set(self.secret_env_vars))
        if outside:
            raise RunSecretError(f"run_launcher: implicit_asset_job_secrets {outside} are not in secret_env_vars")

    @classmethod
    def config_type(cls):
        return {
            **DOCKER_CONFIG_SCHEMA,
            "secret_env_vars": Field(
                [str], is_required=False, description="Secrets a run may receive (names; values from the daemon's env)"
            ),
            "implicit_asset_job_secrets": Field(
                [str], is_required=False, description="Secrets of __ASSET_JOB runs (assets launched from the UI)"
            ),
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value: Mapping[str, Any]):
        return cls(inst_data=inst_data, **config_value)

    def _definition_tags(self, run: DagsterRun) -> Mapping[str, str]:
        if not run.job_snapshot_id:
            return {}
        snap = self._instance.get_job_snapshot(run.job_snapshot_id)
        return {**(snap.tags or {}), **(snap.run_tags or {})}

    def secret_names(self, run: DagsterRun) -> tuple[str, ...]:
        """The secrets this run's container gets: its job's definition tag, or the implicit asset job's list."""
        if run.job_name == IMPLICIT_ASSET_JOB:
            return self.implicit_asset_job_secrets
        raw = self._definition_tags(run).get(SECRETS_TAG)
        if raw is None:
            return ()
        names = tuple(n.strip() for n in raw.split(",") if n.strip())
        refused = [n for n in names if n not in self.secret_env_vars]
        if refused:
            raise RunSecretError(
                f"job {run.job_name}: tag {SECRETS_TAG} asks for {refused}, which run_launcher.config.secret_env_vars "
                f"(compose/dagster.yaml) does not allow"
            )
        return names

    def get_container_context(self, dagster_run: DagsterRun) -> DockerContainerContext:
        context = super().get_container_context(dagster_run)
        return context.merge(DockerContainerContext(env_vars=list(self.secret_names(dagster_run))))

    def _source(self, run: DagsterRun) -> str:
        if run.job_name == IMPLICIT_ASSET_JOB:
            return "implicit asset job: run_launcher.config.implicit_asset_job_secrets"
        if SECRETS_TAG not in self._definition_tags(run):
            return f"job {run.job_name} has no {SECRETS_TAG} tag (pipeline_defs/run_secrets.py)"
        return f"job definition tag {SECRETS_TAG}"

    def _launch_container_with_command(self, run, docker_image, command):
        names = self.secret_names(run)
        missing = [n for n in names if not os.environ.get(n)]
        if missing:
            raise RunSecretError(
                f"job {run.job_name} needs {missing}, which the daemon's environment does not set "
                f"(docker-compose.yml service dagster-daemon)"
            )
        got = f"Run container gets secrets: {', '.join(names)}" if names else "Run container gets no secret"
        self._instance.report_engine_event(message=f"{got} ({self._source(run)})", dagster_run=run, cls=self.__class__)
        super()._launch_container_with_command(run, docker_image, command)
