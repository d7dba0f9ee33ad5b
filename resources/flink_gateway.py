"""Flink SQL Gateway REST client: sessions, statements, operation status, results.

Wire contract (Flink docs "SQL Gateway REST API", docs/static/generated/rest_v*_sql_gateway.yml,
and the gateway's ResultInfoSerializer):
- POST /{v}/sessions {"properties": {...}, "sessionName"} -> {"sessionHandle"}; DELETE /{v}/sessions/{s};
  POST /{v}/sessions/{s}/heartbeat (the idle timeout is 10 min by default).
- POST /{v}/sessions/{s}/statements {"statement", "executionConfig"?} -> {"operationHandle"}.
- GET /{v}/sessions/{s}/operations/{o}/status -> {"status": INITIALIZED|PENDING|RUNNING|FINISHED|CANCELED|CLOSED|ERROR|TIMEOUT}.
- GET /{v}/sessions/{s}/operations/{o}/result/{token}?rowFormat=JSON -> {"resultType": NOT_READY|PAYLOAD|EOS,
  "isQueryResult", "jobID", "resultKind", "results": {"columns": [{"name", "logicalType"}], "rowFormat",
  "data": [{"kind": "INSERT", "fields": [...]}]}, "nextResultUri"}; follow nextResultUri until EOS.
- DELETE /{v}/sessions/{s}/operations/{o}/close (closing a streaming SELECT cancels its job).
- A failed statement answers the result fetch with 500 {"errors": [..., "<Java trace>"]}: surfaced as
  FlinkStatementError carrying the last "Caused by:" line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from resources._http import json_or_none
from resources.flink_rest import (
    FlinkError,
    FlinkRestClient,
    FlinkSessionNotFound,
    FlinkStatementError,
    error_text,
)

TERMINAL = frozenset({"FINISHED", "CANCELED", "CLOSED", "ERROR", "TIMEOUT"})


@dataclass(frozen=True)
class StatementResult:
    columns: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]
    kinds: tuple[str, ...] = ()  # the row kind of each row: INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE
    job_id: str | None = None
    result_kind: str | None = None
    complete: bool = True  # False when max_rows stopped the fetch before EOS
    raw_pages: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)


class FlinkSqlGatewayClient(FlinkRestClient):
    system = "Flink SQL Gateway"

    def __init__(self, url: str, *, api_version: str = "v1", poll_interval: float = 0.2, **kwargs: Any):
        super().__init__(url, **kwargs)
        if api_version not in ("v1", "v2", "v3", "v4"):
            raise ValueError(f"unknown SQL Gateway API version {api_version!r}")
        self.api = f"/{api_version}"
        self.poll_interval = poll_interval

    @staticmethod
    def _h(handle: str) -> str:
        return quote(handle, safe="")

    def _op(self, session: str, operation: str) -> str:
        return f"{self.api}/sessions/{self._h(session)}/operations/{self._h(operation)}"

    # ---- gateway and sessions ---------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return self._json("GET", f"{self.api}/info")

    def open_session(self, properties: Mapping[str, Any] | None = None, name: str | None = None) -> str:
        body: dict[str, Any] = {"properties": {str(k): str(v) for k, v in (properties or {}).items()}}
        if name:
            body["sessionName"] = name
        return self._json("POST", f"{self.api}/sessions", json=body, idempotent=False)["sessionHandle"]

    def heartbeat(self, session: str) -> None:
        self._json("POST", f"{self.api}/sessions/{self._h(session)}/heartbeat", not_found=FlinkSessionNotFound)

    def close_session(self, session: str) -> None:
        self._json("DELETE", f"{self.api}/sessions/{self._h(session)}", not_found=FlinkSessionNotFound)

    @contextmanager
    def session(self, properties: Mapping[str, Any] | None = None, name: str | None = None) -> Iterator[str]:
        handle = self.open_session(properties, name)
        try:
            yield handle
        finally:
            try:
                self.close_session(handle)
            except FlinkError:
                pass  # the session may have expired already; closing must not mask the outcome

    # ---- operations --------------------------------------------------------------------------------

    def submit(self, session: str, statement: str, execution_config: Mapping[str, Any] | None = None) -> str:
        body: dict[str, Any] = {"statement": statement}
        if execution_config:
            body["executionConfig"] = {str(k): str(v) for k, v in execution_config.items()}
        resp = self._send("POST", f"{self.api}/sessions/{self._h(session)}/statements", json=body, idempotent=False)
        if not resp.is_success:
            raise self._statement_error(resp, statement)
        return resp.json()["operationHandle"]

    def status(self, session: str, operation: str) -> str:
        return str(self._json("GET", f"{self._op(session, operation)}/status")["status"])

    def wait(self, session: str, operation: str, timeout: float = 60.0) -> str:
        """Poll the status until it is terminal; a streaming job's operation stays RUNNING, so callers
        of unbounded statements fetch instead of waiting."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.status(session, operation)
            if state in TERMINAL:
                return state
            if time.monotonic() >= deadline:
                raise FlinkError(f"{self.system}: operation {operation} still {state} after {timeout:.0f}s")
            self._sleep(self.poll_interval)

    def fetch(
        self, session: str, operation: str, *, timeout: float = 60.0, max_rows: int | None = None, statement: str = ""
    ) -> StatementResult:
        """Every page from token 0, following nextResultUri until EOS (or max_rows)."""
        deadline = time.monotonic() + timeout
        uri: str | None = f"{self._op(session, operation)}/result/0"
        columns: tuple[str, ...] = ()
        rows: list[dict[str, Any]] = []
        kinds: list[str] = []
        pages: list[Mapping[str, Any]] = []
        job_id = result_kind = None
        while uri:
            params = None if "rowFormat=" in uri else {"rowFormat": "JSON"}
            resp = self._send("GET", uri, params=params)
            if not resp.is_success:
                raise self._statement_error(resp, statement)
            page = json_or_none(resp) or {}
            pages.append(page)
            job_id = page.get("jobID") or job_id
            result_kind = page.get("resultKind") or result_kind
            results = page.get("results") or {}
            if results.get("columns"):
                columns = tuple(c.get("name", "") for c in results["columns"])
            for item in results.get("data") or ():
                kinds.append(str(item.get("kind", "INSERT")))
                rows.append(dict(zip(columns, item.get("fields") or (), strict=False)))
            if max_rows is not None and len(rows) >= max_rows:
                return StatementResult(
                    columns, tuple(rows[:max_rows]), tuple(kinds[:max_rows]), job_id, result_kind, complete=False, raw_pages=tuple(pages)
                )
            kind = page.get("resultType")
            if kind == "EOS":
                break
            if time.monotonic() >= deadline:
                raise FlinkError(
                    f"{self.system}: results of operation {operation} not complete after {timeout:.0f}s ({len(rows)} row(s) so far)"
                )
            if kind == "NOT_READY" or not results.get("data"):
                self._sleep(self.poll_interval)  # nothing new yet: the job is still running
            uri = page.get("nextResultUri")
        if job_id is None and columns == ("job id",) and rows:
            job_id = rows[0]["job id"]
        return StatementResult(columns, tuple(rows), tuple(kinds), job_id, result_kind, raw_pages=tuple(pages))

    def close_operation(self, session: str, operation: str) -> None:
        self._json("DELETE", f"{self._op(session, operation)}/close")

    def cancel_operation(self, session: str, operation: str) -> None:
        self._json("POST", f"{self._op(session, operation)}/cancel")

    def execute(
        self,
        session: str,
        statement: str,
        *,
        timeout: float = 60.0,
        max_rows: int | None = None,
        execution_config: Mapping[str, Any] | None = None,
    ) -> StatementResult:
        """Submit, fetch every result row (or max_rows of an unbounded query), close the operation.
        For INSERT INTO the result is one row with column "job id" (also in .job_id)."""
        operation = self.submit(session, statement, execution_config)
        try:
            return self.fetch(session, operation, timeout=timeout, max_rows=max_rows, statement=statement)
        finally:
            try:
                self.close_operation(session, operation)
            except FlinkError:
                pass  # a finished or failed operation may be gone already

    # ---- errors ------------------------------------------------------------------------------------

    def _statement_error(self, resp: Any, statement: str) -> FlinkError:
        cause = self._clean(error_text(resp))
        stmt = self._clean(" ".join(statement.split()))[:300]
        if resp.status_code == 404 or ("Session" in cause and "does not exist" in cause):
            return FlinkSessionNotFound(f"{self.system}: {cause}", status=resp.status_code)
        return FlinkStatementError(
            f"{self.system} failed the statement{f' [{stmt}]' if stmt else ''}: {cause}",
            status=resp.status_code,
            cause=cause,
            statement=stmt,
        )
