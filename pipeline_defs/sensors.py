"""Sensors and schedules every pipeline has: a loud alert for every failed run, hourly data checks,
a daily drift report. Each system adds its health probes (connector_health, engine health,
data_quality_trigger)."""

import json
from typing import Any

import dagster as dg

from pipeline_defs.core import registry
from pipeline_defs.core.nodes import Lineage
from pipeline_defs.settings import settings
from resources._lazy import lazy_import
from resources.redaction import env_secret_values, scrub

httpx = lazy_import("httpx")

ALERT_WEBHOOK_ENV = "CDC_ALERT_WEBHOOK_URL"


def build_alert_sensor() -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="alert_on_run_failure",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Logs a structured alert for every failed run and posts it to ${ALERT_WEBHOOK_ENV} when set.",
    )
    def alert_on_run_failure(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        secrets = env_secret_values()
        step_errors = []
        for ev in context.get_step_failure_events():
            err = getattr(ev.event_specific_data, "error", None)
            step_errors.append({"step": ev.step_key, "error": scrub(err.message if err else ev.message or "", secrets)[:2000]})
        alert = {
            "alert": "cdc_run_failed",
            "job": run.job_name,
            "run_id": run.run_id,
            "connector": run.tags.get("cdc/connector"),
            "reason": run.tags.get("cdc/reason"),
            "sensor": run.tags.get("dagster/sensor_name"),
            "error": scrub(context.failure_event.message or "", secrets)[:2000],
            "steps": step_errors,
        }
        context.log.error(json.dumps(alert))
        url = settings().alert_webhook_url
        if not url:
            return None
        try:
            resp = httpx.post(url, json=alert, timeout=5.0)
        except httpx.HTTPError as e:
            context.log.error(f"alert webhook unreachable: {type(e).__name__}")
            return dg.SkipReason(f"alert for run {run.run_id} NOT delivered: webhook unreachable ({type(e).__name__})")
        if resp.status_code >= 400:
            # the alert did not land: say so in the log and on the sensor's tick
            context.log.error(f"alert webhook answered {resp.status_code}")
            return dg.SkipReason(f"alert for run {run.run_id} NOT delivered: webhook answered HTTP {resp.status_code}")
        return None

    return alert_on_run_failure


def build_automation(spec: Any, lineage: Lineage) -> tuple[list, list]:
    sensors = [s for name in lineage.systems() for s in registry.system(name).sensors(spec, lineage)]
    sensors.append(build_alert_sensor())
    schedules = [
        dg.ScheduleDefinition(
            name="hourly_data_quality", cron_schedule="0 * * * *", job_name="data_quality", default_status=dg.DefaultScheduleStatus.RUNNING
        ),
        dg.ScheduleDefinition(
            name="daily_plan", cron_schedule="0 6 * * *", job_name="plan", default_status=dg.DefaultScheduleStatus.RUNNING
        ),
    ]
    return sensors, schedules
