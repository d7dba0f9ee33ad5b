"""Every resource maps network failures to its typed "unreachable" error naming the endpoint, never a raw
socket.gaierror / httpx / driver exception, and never with a secret in it.

Two real failures per resource, no mocks: a host name that cannot resolve (RFC 2606 `.invalid`) and a port
on 127.0.0.1 that nothing listens on (bound once to get a free number, then closed: connection refused)."""

from __future__ import annotations

import socket

import pytest

from resources.connect import ConnectUnreachable, KafkaConnectResource
from resources.errors import ResourceError, Unreachable
from resources.flink import FlinkResource, FlinkUnreachable
from resources.kafka import KafkaResource, KafkaUnreachable
from resources.ksqldb import KsqlDbResource, KsqlDbUnreachable
from resources.oracle import OracleResource, OracleUnreachable
from resources.postgres import PostgresResource, PostgresUnreachable
from resources.redis_json import RedisResource, RedisUnreachable
from resources.schema_registry import SchemaRegistryResource, SchemaRegistryUnreachable

pytestmark = pytest.mark.unit

SECRET = "Sup3r-Secret-Pw-91"
NOHOST = "nohost.invalid"


def _refused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


REFUSED = _refused_port()
HTTP_RETRY = {"max_retries": 1, "backoff_seconds": 0.01, "timeout_seconds": 3}

# (name, make resource for host/port, call that needs the server, typed error)
CASES = [
    (
        "connect",
        lambda h, p: KafkaConnectResource(url=f"http://{h}:{p}", username="admin", password=SECRET, **HTTP_RETRY),
        lambda r: r.get_client().list_connectors(),
        ConnectUnreachable,
    ),
    (
        "kafka",
        lambda h, p: KafkaResource(
            bootstrap_servers=f"{h}:{p}",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_username="u",
            sasl_password=SECRET,
            timeout_seconds=2,
        ),
        lambda r: r.get_client().list_topics(),
        KafkaUnreachable,
    ),
    (
        "redis",
        lambda h, p: RedisResource(url=f"redis://:{SECRET}@{h}:{p}/0", timeout_seconds=2),
        lambda r: r.get_client().ping(),
        RedisUnreachable,
    ),
    (
        "ksqldb",
        lambda h, p: KsqlDbResource(url=f"http://{h}:{p}", username="ksql", password=SECRET, **HTTP_RETRY),
        lambda r: r.get_client().list_streams(),
        KsqlDbUnreachable,
    ),
    (
        "schema_registry",
        lambda h, p: SchemaRegistryResource(url=f"http://sr:{SECRET}@{h}:{p}", **HTTP_RETRY),
        lambda r: r.get_client().subjects(),
        SchemaRegistryUnreachable,
    ),
    (
        "oracle",
        lambda h, p: OracleResource(host=h, port=p, password=SECRET, admin_password=SECRET, timeout_seconds=3),
        lambda r: r.get_client().ping(),
        OracleUnreachable,
    ),
    (
        "postgres",
        lambda h, p: PostgresResource(host=h, port=p, dbname="cdc", user="cdc_admin", password=SECRET, connect_timeout_seconds=2),
        lambda r: r.get_client().ping(),
        PostgresUnreachable,
    ),
    (
        "flink_gateway",
        lambda h, p: FlinkResource(gateway_url=f"http://{h}:{p}", **HTTP_RETRY),
        lambda r: r.get_gateway_client().open_session(),
        FlinkUnreachable,
    ),
    (
        "flink_jobs",
        lambda h, p: FlinkResource(rest_url=f"http://{h}:{p}", **HTTP_RETRY),
        lambda r: r.get_jobs_client().overview(),
        FlinkUnreachable,
    ),
]


@pytest.mark.parametrize("where", ["unresolvable", "refused"])
@pytest.mark.parametrize(("name", "make", "call", "error"), CASES, ids=[c[0] for c in CASES])
def test_network_failure_is_the_typed_unreachable_error(name, make, call, error, where):
    host, port = (NOHOST, 9) if where == "unresolvable" else ("127.0.0.1", REFUSED)
    resource = make(host, port)
    try:
        with pytest.raises(Exception) as caught:
            call(resource)
    finally:
        if hasattr(resource, "close_clients"):
            resource.close_clients()
    exc = caught.value
    assert isinstance(exc, error) and isinstance(exc, Unreachable) and isinstance(exc, ResourceError), repr(exc)
    text = str(exc)
    assert f"{host}:{port}" in text, f"{name}: endpoint missing from {text!r}"
    everything = " ".join(
        [text, repr(exc), *map(str, exc.args), str(exc.__cause__ or ""), "" if exc.__suppress_context__ else str(exc.__context__ or "")]
    )
    assert SECRET not in everything, f"{name}: secret in {everything!r}"
    # no raw socket/httpx/driver exception rides along to the traceback
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__), name
