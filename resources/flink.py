"""Flink: the Dagster resource over the SQL Gateway client (flink_gateway.py) and the JobManager REST
client (flink_jobs.py). Both endpoints come from resources/endpoints.py (FLINK_GATEWAY_URL,
FLINK_REST_URL) unless set on the resource; both clients are owned by the resource for the execution
and closed at teardown (resources/_http.py ClientOwner)."""

from __future__ import annotations

from pydantic import Field

from resources import endpoints
from resources._http import HttpClientOwner
from resources.flink_gateway import TERMINAL, FlinkSqlGatewayClient, StatementResult
from resources.flink_jobs import RECORD_METRICS, FlinkJobsClient, JobDetails, JobOverview, Vertex
from resources.flink_rest import (
    FlinkError,
    FlinkJobNotFound,
    FlinkSavepointError,
    FlinkSessionNotFound,
    FlinkStatementError,
    FlinkUnreachable,
    root_cause,
)


class FlinkResource(HttpClientOwner):
    """The Flink cluster running the pipeline's SQL jobs."""

    gateway_url: str | None = Field(
        default=None,
        description=f"SQL Gateway REST URL; default ${endpoints.FLINK_GATEWAY_URL.env} or {endpoints.FLINK_GATEWAY_URL.default}",
    )
    rest_url: str | None = Field(
        default=None, description=f"JobManager REST URL; default ${endpoints.FLINK_REST_URL.env} or {endpoints.FLINK_REST_URL.default}"
    )
    gateway_api_version: str = Field(default="v1", description="SQL Gateway REST API version (v1..v4)")
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout")
    max_retries: int = Field(default=3, description="Retries of 503 and network failures (idempotent requests)")
    backoff_seconds: float = Field(default=0.5, description="First retry delay; doubles, with full jitter")
    backoff_max_seconds: float = Field(default=8.0, description="Cap of one retry delay")

    def get_gateway_client(self) -> FlinkSqlGatewayClient:
        return self._owned_client("gateway")

    def get_jobs_client(self) -> FlinkJobsClient:
        return self._owned_client("jobs")

    def _new_client(self, kind: str) -> FlinkSqlGatewayClient | FlinkJobsClient:
        common = self._http_settings()
        if kind == "gateway":
            return FlinkSqlGatewayClient(
                self.gateway_url or endpoints.FLINK_GATEWAY_URL.get(), api_version=self.gateway_api_version, **common
            )
        return FlinkJobsClient(self.rest_url or endpoints.FLINK_REST_URL.get(), **common)


__all__ = [
    "RECORD_METRICS",
    "TERMINAL",
    "FlinkError",
    "FlinkJobNotFound",
    "FlinkJobsClient",
    "FlinkResource",
    "FlinkSavepointError",
    "FlinkSessionNotFound",
    "FlinkSqlGatewayClient",
    "FlinkStatementError",
    "FlinkUnreachable",
    "JobDetails",
    "JobOverview",
    "StatementResult",
    "Vertex",
    "root_cause",
]
