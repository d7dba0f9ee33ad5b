"""The control plane's own settings from the environment, read through one pydantic-settings model
(endpoints and secrets of the systems are resources/endpoints.py; spec overrides CDC_CONNECT_* are
applied by the spec loader to the document, so a bad value is reported like a bad file)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ControlPlaneSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDC_", case_sensitive=False, env_ignore_empty=True, extra="ignore")

    profile: str = Field("compose", description="CDC_PROFILE: compose (pipeline.yaml) | local (pipeline.local.yaml)")
    pipeline_spec: str | None = Field(None, description="CDC_PIPELINE_SPEC: another spec file")
    health_interval_seconds: int = Field(30, ge=1, description="CDC_HEALTH_INTERVAL_SECONDS: health sensor tick")
    health_max_restarts: int = Field(12, ge=0, description="CDC_HEALTH_MAX_RESTARTS: before the incident")
    health_lag_window_ticks: int = Field(4, ge=1, description="CDC_HEALTH_LAG_WINDOW_TICKS: growing-lag window")
    health_lag_restart_bound: int = Field(10_000, ge=0, description="CDC_HEALTH_LAG_RESTART_BOUND: restart a stuck sink past it")
    dq_min_interval_seconds: int = Field(300, ge=0, description="CDC_DQ_MIN_INTERVAL_SECONDS: data_quality_trigger spacing")
    dq_interval_seconds: int = Field(60, ge=1, description="CDC_DQ_INTERVAL_SECONDS: data_quality_trigger tick")
    rebuild_lag_grace_seconds: int = Field(
        120, ge=0, description="CDC_REBUILD_LAG_GRACE_SECONDS: Redis only short of the source is rebuilt once it stays so this long"
    )
    alert_webhook_url: str | None = Field(None, description="CDC_ALERT_WEBHOOK_URL: failed-run alerts go there too")


def settings() -> ControlPlaneSettings:
    """Read anew on each call: tests and the daemon's environment may change after import."""
    return ControlPlaneSettings()
