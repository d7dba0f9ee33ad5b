"""The one retry mechanism of the HTTP clients (tenacity), and what counts as transient per system.

Every HTTP client sends through `send_with_retry`: bounded exponential backoff with jitter, a bounded
number of retries, a log line per retry, and - once the retries are spent on network failures - the
client's own typed "unreachable" error instead of an httpx exception. What is worth retrying differs
per system, so each has a `RetryRule` (a response predicate and an exception predicate):

- Kafka Connect: 409 (rebalance in progress / stale config), 503, 500 whose message says
  "Request timed out" or that "a rebalance is expected", and every network error (shared/reference/connect.md §1).
- ksqlDB: 503 (every 5030x is answered before the statement runs, so resending is safe); a request
  that never left (connect error, connect/pool timeout) always; any other network error (read
  timeout, dropped connection) only when the request is read-only, since a CREATE or TERMINATE that
  may have reached the server must not run twice. A Retry-After header is honoured up to a cap.
- Schema Registry: every 5xx (50001 store, 50002 timeout, 50003 forwarding, 50004 no leader) and every
  network error: the client only reads.
- Flink (JobManager REST and SQL Gateway): 503 and network errors for idempotent requests
  (GET, and the PATCH/DELETE/close calls whose repetition is harmless).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import tenacity

from resources._lazy import lazy_import

httpx = lazy_import("httpx")


# --------------------------------------------------------------------------------------------- backoff


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header (delta-seconds or HTTP date) in seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class Backoff:
    """Delay before retry n (0-based): a ceiling of base * 2**n capped at `cap`, jittered.

    "full" jitter draws from [0, ceiling], "equal" from [ceiling/2, ceiling]; both keep several
    control-plane processes that hit the same restarting server from retrying in lock-step.
    `max_retry_after` > 0 makes a server's Retry-After win over the computed delay, capped."""

    base: float = 0.5
    cap: float = 8.0
    jitter: Literal["full", "equal"] = "full"
    max_retry_after: float | None = None

    def delay(self, attempt: int, retry_after: str | None = None, rng: Callable[[float, float], float] = random.uniform) -> float:
        if self.max_retry_after is not None:
            hint = retry_after_seconds(retry_after)
            if hint is not None:
                return min(hint, self.max_retry_after)
        ceiling = min(self.cap, self.base * (2**attempt))
        return rng(0.0 if self.jitter == "full" else ceiling / 2, ceiling)


# --------------------------------------------------------------------------------------------- predicates


def is_network_error(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError)


def never_sent(exc: BaseException) -> bool:
    """The request did not leave this process (no connection was made): always safe to resend."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def _message(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:500]
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def connect_transient_response(resp: Any) -> bool:
    if resp.status_code in (409, 503):
        return True
    if resp.status_code == 500:
        # both forms seen on real 3.9 workers: "Request timed out" while the herder is busy, and
        # "Request cannot be completed because a rebalance is expected" during quick successive creates
        message = _message(resp).lower()
        return "request timed out" in message or "rebalance" in message
    return False


def ksqldb_transient_response(resp: Any) -> bool:
    return resp.status_code == 503


def schema_registry_transient_response(resp: Any) -> bool:
    return resp.status_code >= 500


def flink_transient_response(resp: Any) -> bool:
    return resp.status_code == 503


@dataclass(frozen=True)
class RetryRule:
    system: str
    response: Callable[[Any], bool]
    exception: Callable[[BaseException], bool]


CONNECT = RetryRule("Kafka Connect", connect_transient_response, is_network_error)
KSQLDB_READ = RetryRule("ksqlDB", ksqldb_transient_response, is_network_error)
KSQLDB_WRITE = RetryRule("ksqlDB", ksqldb_transient_response, never_sent)
SCHEMA_REGISTRY = RetryRule("Schema Registry", schema_registry_transient_response, is_network_error)
FLINK_IDEMPOTENT = RetryRule("Flink", flink_transient_response, is_network_error)
FLINK_WRITE = RetryRule("Flink", flink_transient_response, never_sent)


def ksqldb_rule(replayable: bool) -> RetryRule:
    return KSQLDB_READ if replayable else KSQLDB_WRITE


# --------------------------------------------------------------------------------------------- sending


def send_with_retry(
    request: Callable[[], Any],
    *,
    rule: RetryRule,
    max_retries: int,
    backoff: Backoff,
    what: str,
    unreachable: Callable[[BaseException, int], Exception],
    sleep: Callable[[float], None] = time.sleep,
    log: logging.Logger | None = None,
    clean: Callable[[str], str] = lambda s: s,
) -> Any:
    """Run `request` (one HTTP exchange returning an httpx.Response) until it gives an answer that
    is not transient, or max_retries retries are spent. Returns the last response, transient or not:
    the caller maps status codes to its errors. A network failure that is not retried, or that
    outlasts the retries, is raised as `unreachable(exc, attempts)` without the httpx exception chained."""
    log = log or logging.getLogger(__name__)
    attempts = 0

    def once() -> Any:
        nonlocal attempts
        attempts += 1
        return request()

    def wait(state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        hint = None
        if outcome is not None and not outcome.failed:
            hint = outcome.result().headers.get("Retry-After")
        return backoff.delay(state.attempt_number - 1, hint)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        if outcome is not None and outcome.failed:
            exc = outcome.exception()
            why = f"{type(exc).__name__}: {exc}"
        else:
            resp = outcome.result() if outcome is not None else None
            why = f"HTTP {getattr(resp, 'status_code', '?')}: {_message(resp)[:160]}" if resp is not None else "?"
        delay = state.upcoming_sleep
        log.warning("%s %s failed (%s); retry %d/%d in %.2fs", rule.system, what, clean(why), state.attempt_number, max_retries, delay)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(rule.exception) | tenacity.retry_if_result(rule.response),
        stop=tenacity.stop_after_attempt(max(0, max_retries) + 1),
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        # spent: hand back the last response, or re-raise the last exception, as it was
        retry_error_callback=lambda state: state.outcome.result(),
    )
    try:
        return retrying(once)
    except httpx.TransportError as exc:
        failure = unreachable(exc, attempts)
    raise failure from None
