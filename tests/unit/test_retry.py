"""resources/retry.py: the per-system predicates, the backoff bounds and the retry loop, driven through
httpx.MockTransport (every byte goes through a real httpx.Client, only the socket is replaced)."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from resources import retry
from resources.connect import ConnectorConfigInvalid, ConnectUnreachable, KafkaConnectClient
from resources.ksqldb import KsqlDbClient, KsqlDbUnreachable
from resources.schema_registry import SchemaRegistryClient, SchemaRegistryServerError

pytestmark = pytest.mark.unit

REQ = httpx.Request("GET", "http://x/")


def resp(status: int, message: str | None = None, **kw) -> httpx.Response:
    body = {"error_code": status, "message": message} if message is not None else {}
    return httpx.Response(status, json=body, request=REQ, **kw)


# ------------------------------------------------------------------------------------------ predicates


@pytest.mark.parametrize(
    ("status", "message", "transient"),
    [
        (409, "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)", True),
        (503, "", True),
        (500, "Request timed out", True),
        (500, "Request cannot be completed because a rebalance is expected", True),
        (500, "java.lang.NullPointerException", False),
        (400, "Connector configuration is invalid", False),
        (404, "Connector x not found", False),
    ],
)
def test_connect_transient_responses(status, message, transient):
    assert retry.connect_transient_response(resp(status, message)) is transient
    assert retry.CONNECT.response(resp(status, message)) is transient


def test_connect_retries_every_network_error():
    for exc in (httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")):
        assert retry.CONNECT.exception(exc)
    assert not retry.CONNECT.exception(ValueError("a bug is not transient"))


def test_ksqldb_rules_resend_writes_only_when_they_never_left():
    assert retry.ksqldb_transient_response(resp(503, "KSQL is not yet ready to serve requests."))
    assert not retry.ksqldb_transient_response(resp(500, "boom"))
    never_left = [httpx.ConnectError("refused"), httpx.ConnectTimeout("t"), httpx.PoolTimeout("t")]
    maybe_arrived = [httpx.ReadTimeout("t"), httpx.RemoteProtocolError("dropped"), httpx.WriteError("w")]
    write, read = retry.ksqldb_rule(replayable=False), retry.ksqldb_rule(replayable=True)
    assert all(write.exception(e) for e in never_left) and not any(write.exception(e) for e in maybe_arrived)
    assert all(read.exception(e) for e in never_left + maybe_arrived)


@pytest.mark.parametrize(
    ("status", "transient"), [(500, True), (502, True), (503, True), (504, True), (404, False), (409, False), (422, False), (401, False)]
)
def test_schema_registry_retries_every_5xx(status, transient):
    assert retry.schema_registry_transient_response(resp(status, "x")) is transient


def test_flink_rules():
    assert retry.FLINK_IDEMPOTENT.response(resp(503)) and not retry.FLINK_IDEMPOTENT.response(resp(500))
    assert retry.FLINK_IDEMPOTENT.exception(httpx.ReadTimeout("t"))
    assert retry.FLINK_WRITE.exception(httpx.ConnectError("r")) and not retry.FLINK_WRITE.exception(httpx.ReadTimeout("t"))


# ------------------------------------------------------------------------------------------ backoff


def test_full_and_equal_jitter_bounds_and_cap():
    full = retry.Backoff(base=0.5, cap=4.0, jitter="full")
    equal = retry.Backoff(base=0.5, cap=4.0, jitter="equal")
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0)]:
        lows = [full.delay(attempt, rng=lambda lo, hi: lo), equal.delay(attempt, rng=lambda lo, hi: lo)]
        highs = [full.delay(attempt, rng=lambda lo, hi: hi), equal.delay(attempt, rng=lambda lo, hi: hi)]
        assert lows == [0.0, ceiling / 2] and highs == [ceiling, ceiling]
        assert all(0 <= full.delay(attempt) <= ceiling for _ in range(50))


def test_retry_after_wins_only_when_enabled_and_is_capped():
    honoured = retry.Backoff(base=0.5, cap=4.0, max_retry_after=30.0)
    assert honoured.delay(0, "3") == 3.0 and honoured.delay(0, "600") == 30.0
    http_date = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 17 <= honoured.delay(0, http_date) <= 20
    assert 0 <= honoured.delay(0, "not a date") <= 0.5
    assert retry.Backoff(base=0.5, cap=4.0).delay(0, "3") <= 0.5  # Connect/SR ignore the header


# ------------------------------------------------------------------------------------------ the loop


class Script:
    """A MockTransport handler answering from a list: an int status, a Response, or an exception to raise."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        a = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(a, Exception):
            raise a
        if isinstance(a, int):
            return httpx.Response(a, json={"error_code": a, "message": f"status {a}"})
        return a


def send(script: Script, rule=retry.CONNECT, max_retries=3, sleeps=None):
    sleeps = [] if sleeps is None else sleeps
    with httpx.Client(transport=httpx.MockTransport(script), base_url="http://svc:1") as c:
        return retry.send_with_retry(
            lambda: c.get("/x"),
            rule=rule,
            max_retries=max_retries,
            backoff=retry.Backoff(base=0.1, cap=1.0),
            what="GET /x",
            sleep=sleeps.append,
            unreachable=lambda e, n: RuntimeError(f"unreachable after {n}: {type(e).__name__}"),
        )


def test_transient_then_success_returns_the_success():
    sleeps: list[float] = []
    script = Script(409, 503, 200)
    assert send(script, sleeps=sleeps).status_code == 200
    assert script.calls == 3 and len(sleeps) == 2 and 0 <= sleeps[0] <= 0.1 and 0 <= sleeps[1] <= 0.2


def test_spent_retries_return_the_last_transient_answer():
    script = Script(503)
    assert send(script, max_retries=2).status_code == 503 and script.calls == 3


def test_non_transient_answer_is_returned_at_once():
    script = Script(400, 200)
    assert send(script).status_code == 400 and script.calls == 1


def test_network_failure_becomes_the_clients_unreachable_error_without_chaining():
    script = Script(httpx.ConnectError("[Errno 111] Connection refused"))
    with pytest.raises(RuntimeError, match="unreachable after 4: ConnectError") as e:
        send(script, max_retries=3)
    assert e.value.__cause__ is None and e.value.__suppress_context__
    script = Script(httpx.ReadTimeout("timed out"))
    with pytest.raises(RuntimeError, match="unreachable after 1: ReadTimeout"):
        send(script, rule=retry.KSQLDB_WRITE)  # a write that may have arrived is not resent
    assert script.calls == 1


def test_other_exceptions_propagate_untouched():
    with pytest.raises(KeyError):
        send(Script(KeyError("bug")))


# ------------------------------------------------------------------------------------------ through the clients


def test_connect_client_retries_rebalance_500_and_counts_attempts():
    rebalance = httpx.Response(500, json={"error_code": 500, "message": "Request cannot be completed because a rebalance is expected"})
    script = Script(rebalance, 409, httpx.Response(201, json={"name": "c", "config": {}, "tasks": []}))
    sleeps: list[float] = []
    client = KafkaConnectClient(
        "http://connect:8083", transport=httpx.MockTransport(script), sleep=sleeps.append, backoff=0.5, backoff_max=8.0
    )
    assert client.create("c", {"connector.class": "X"})["name"] == "c"
    assert client.requests_made == [("POST", "/connectors")] * 3 and len(sleeps) == 2
    script = Script(httpx.Response(400, json={"error_code": 400, "message": "Connector configuration is invalid"}))
    client = KafkaConnectClient("http://connect:8083", transport=httpx.MockTransport(script), sleep=sleeps.append)
    with pytest.raises(ConnectorConfigInvalid):
        client.create("c", {"connector.class": "X"})
    assert script.calls == 1
    script = Script(httpx.ConnectError("[Errno 111] Connection refused"))
    client = KafkaConnectClient("http://connect:8083", transport=httpx.MockTransport(script), sleep=lambda s: None, max_retries=2)
    with pytest.raises(ConnectUnreachable, match=r"http://connect:8083 unreachable for GET /connectors after 3"):
        client.list_connectors()


def test_ksqldb_client_does_not_resend_a_create_that_may_have_arrived():
    script = Script(httpx.ReadTimeout("timed out"))
    client = KsqlDbClient("http://ksql:8088", transport=httpx.MockTransport(script), sleep=lambda s: None)
    with pytest.raises(KsqlDbUnreachable, match="after 1 attempt"):
        client.execute("CREATE STREAM s (a INT) WITH (kafka_topic='t', value_format='JSON', partitions=1);")
    assert script.calls == 1
    script = Script(httpx.ReadTimeout("timed out"))
    client = KsqlDbClient("http://ksql:8088", transport=httpx.MockTransport(script), sleep=lambda s: None, max_retries=2)
    with pytest.raises(KsqlDbUnreachable, match="after 3 attempt"):
        client.list_streams()  # SHOW STREAMS is read-only: resent


def test_schema_registry_client_gives_up_with_its_server_error():
    script = Script(httpx.Response(500, json={"error_code": 50002, "message": "Operation timed out"}))
    sleeps: list[float] = []
    client = SchemaRegistryClient("http://sr:8081", transport=httpx.MockTransport(script), sleep=sleeps.append, max_retries=2)
    with pytest.raises(SchemaRegistryServerError, match="50002"):
        client.subjects()
    assert script.calls == 3 and len(sleeps) == 2
