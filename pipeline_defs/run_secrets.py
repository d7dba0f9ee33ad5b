"""Which secrets each job's run may see: job name -> environment variable names.

In the compose stack every run is its own container (compose/dagster.yaml, resources/run_launcher.py). The
launcher forwards a secret to a run only if the run's job names it in its definition tag ``cdc/run-secrets``
(built here by :func:`job_tags`); run tags a person adds at launch time cannot widen it. A job missing from
this table gets no secret at all, so a new job fails on its first EnvVar instead of silently seeing everything.

Why each job needs what it has (the code paths, not intentions):

- ORACLE_ADMIN_PASSWORD: the admin client (``OracleResource.admin_client``) provisions the CDC role, user and
  tables, reads the catalog for the Oracle asset checks and the plan (DBA_* views, V$DATABASE), and inserts
  the demo rows.
- ORACLE_PASSWORD: the password the provisioning job gives the CDC user, and the CDC user's own login in the
  ``matches_oracle`` check. ``OracleResource.password`` is a required field, so every job that uses the
  ``oracle`` resource needs it to pass config validation.
- REDIS_PASSWORD: the Redis resource (the ``redis_keys`` asset, the ``matches_oracle`` and ``fresh`` checks).
- CONFLUENT_LICENSE: no run. Connector configs carry ``${env:...}`` placeholders that the Connect worker
  resolves from its own environment, so connector jobs (re-register, restart) need no secret.
- DAGSTER_POSTGRES_PASSWORD is not in this table: every run container loads the instance from PostgreSQL, so
  the launcher forwards it to all of them (compose/dagster.yaml ``env_vars``).

``__ASSET_JOB`` is Dagster's implicit job for assets and checks launched from the UI: it can materialize any
asset, so it gets what provisioning gets (compose/dagster.yaml ``implicit_asset_job_secrets`` repeats it
because the launcher must not import the definitions; tests/test_compose_run_secrets.py keeps the two equal).
"""

from __future__ import annotations

from resources import endpoints as ep

SECRETS_TAG = "cdc/run-secrets"
IMPLICIT_ASSET_JOB = "__ASSET_JOB"

_ORACLE = (ep.ORACLE_ADMIN_PASSWORD_ENV, ep.ORACLE_PASSWORD_ENV)
_PROVISIONING = (*_ORACLE, ep.REDIS_PASSWORD_ENV)

JOB_SECRETS: dict[str, tuple[str, ...]] = {
    "provision_pipeline": _PROVISIONING,  # Oracle objects as admin, the CDC user's password, observe Redis
    "plan": _PROVISIONING,  # reads the Oracle catalog as admin (dry run); the Redis resource's config
    "data_quality": _PROVISIONING,  # catalog as admin, Oracle counts as the CDC user, Redis counts
    "seed_demo_events": _ORACLE,  # inserts the demo rows through the admin client
    "reregister_connectors": (),  # connector configs hold ${env:...} placeholders
    "restart_connectors": (),
    "repair_ksql_queries": (),
    "connector_incident": (),  # the trace arrives already scrubbed by the sensor
    "connector_offsets": (),
    "alter_connector_offsets": (),
    "reset_connector_offsets": (),
    "rebuild_redis": _PROVISIONING,  # replays the sink, then re-runs the data comparison (source + Redis)
    IMPLICIT_ASSET_JOB: _PROVISIONING,
}

# every secret some run may receive: the launcher's allowlist (compose/dagster.yaml secret_env_vars)
RUN_SECRET_NAMES: tuple[str, ...] = tuple(sorted({n for names in JOB_SECRETS.values() for n in names}))


def secrets_for(job_name: str) -> tuple[str, ...]:
    try:
        return JOB_SECRETS[job_name]
    except KeyError:
        raise KeyError(
            f"job {job_name!r} is not in pipeline_defs/run_secrets.py JOB_SECRETS; add it with the secrets its "
            f"code reads (an empty tuple if none)"
        ) from None


def job_tags(job_name: str) -> dict[str, str]:
    """The definition tags that let the compose run launcher hand this job its secrets (names only, never values):
    ``dg.job(tags=job_tags("plan"))`` or ``dg.define_asset_job(..., tags=job_tags("provision_pipeline"))``. A job
    of another profile (repair_flink_jobs on the local stack) has no entry and gets none."""
    return {SECRETS_TAG: ",".join(JOB_SECRETS.get(job_name, ()))}
