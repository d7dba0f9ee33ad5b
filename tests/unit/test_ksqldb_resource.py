"""KsqlDbResource / KsqlDbClient against the real-HTTP ksqlDB double, and the double against the
recorded contract samples (tests/contract_samples/ksqldb)."""

from __future__ import annotations

import copy
import logging
import re

import dagster as dg
import httpx
import pytest

from resources.endpoints import KSQLDB_URL
from resources.errors import ResourceError, Unreachable
from resources.ksqldb import (
    CommandStatus,
    KsqlAuthError,
    KsqlDbClient,
    KsqlDbResource,
    KsqlDbUnreachable,
    KsqlGenericError,
    KsqlServerNotReady,
    KsqlStatementError,
    SourceList,
    WarningEntity,
    is_already_exists,
    parse_entity,
    quote_identifier,
)
from tests.doubles.contract import assert_matches_sample, load_sample, shape_mismatches
from tests.doubles.fixtures import ksqldb_double  # noqa: F401  (until conftest loads the plugin)
from tests.doubles.ksqldb_server import NOT_READY_MESSAGE, KsqlDbDouble

pytestmark = pytest.mark.unit

USERDATA = """CREATE TABLE POC_USERDATA_STREAM (
ID STRING PRIMARY KEY,
NAME STRING
) WITH (
  KAFKA_TOPIC = 'ORCLCDB.C__MYUSER.POC_USERDATA',
  KEY_FORMAT = 'AVRO',
  VALUE_FORMAT = 'AVRO'
);"""
CLICKSTREAM = """CREATE STREAM POC_CLICKSTREAM_STREAM (
EVENTID STRING,
ID STRING,
NAME STRING,
SESSIONID STRING,
EVENTTYPE STRING,
PAGEURL STRING,
EVENTTIMESTAMP BIGINT
) WITH (
  KAFKA_TOPIC = 'ORCLCDB.C__MYUSER.POC_CLICKSTREAM',
  KEY_FORMAT = 'AVRO',
  VALUE_FORMAT = 'AVRO'
);"""
AGGREGATE = """CREATE TABLE USER_AGGREGATE_EVENTS
WITH (
  KEY_FORMAT = 'AVRO',
  VALUE_FORMAT = 'AVRO'
) AS
SELECT
  NAME,
  COUNT(*) AS EVENT_COUNT
FROM POC_CLICKSTREAM_STREAM
WINDOW TUMBLING (SIZE 1 MINUTE)
GROUP BY NAME;"""
SEED_DDL = "\n".join([USERDATA, CLICKSTREAM, AGGREGATE])
EARLIEST = {"ksql.streams.auto.offset.reset": "earliest"}
SECRET = "Sup3r-s3cret-PW!"
HTTP = httpx.Client(timeout=10)  # one client: building an SSL context per request is slow

NULLABLE = (
    "commandStatus.queryId",
    "sourceDescription.windowType",
    "sourceDescription.fields.schema.fields",
    "sourceDescription.fields.schema.memberSchema",
)


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def client_for(double: KsqlDbDouble, **kw) -> KsqlDbClient:
    kw.setdefault("sleep", SleepRecorder())
    return KsqlDbClient(double.url, **kw)


def raw(double: KsqlDbDouble, ksql: str, **body) -> httpx.Response:
    return HTTP.post(
        f"{double.url}/ksql", json={"ksql": ksql, "streamsProperties": {}, **body}, headers={"Accept": "application/vnd.ksql.v1+json"}
    )


@pytest.fixture
def seeded(ksqldb_double: KsqlDbDouble) -> KsqlDbDouble:  # noqa: F811
    assert raw(ksqldb_double, SEED_DDL, streamsProperties=EARLIEST).status_code == 200
    return ksqldb_double


# ----------------------------------------------------------------------------- double vs contract


def test_contract_check_catches_drift():
    sample = load_sample("ksqldb/currentStatus_create_as_select.json")
    assert shape_mismatches(sample, copy.deepcopy(sample)) == []
    drifted = []
    for mutate in (
        lambda e: e.pop("commandSequenceNumber"),
        lambda e: e.update(commandSequenceNumber="2"),
        lambda e: e.update({"@type": "commandStatus"}),
        lambda e: e.update(extra=1),
        lambda e: e["commandStatus"].update(queryId=5),
        lambda e: e.update(warnings={}),
    ):
        entity = copy.deepcopy(sample[0])
        mutate(entity)
        drifted.append(shape_mismatches(sample, [entity], nullable=NULLABLE))
    assert all(drifted), drifted
    error = load_sample("ksqldb/statement_error_already_exists.json")
    assert shape_mismatches(error, {**error, "error_code": 40002})


def test_double_create_replies_match_contract(ksqldb_double):  # noqa: F811
    resp = raw(ksqldb_double, SEED_DDL)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/vnd.ksql.v1+json"
    body = resp.json()
    for entity in body:
        assert_matches_sample("ksqldb/currentStatus_create_as_select.json", [entity], nullable=NULLABLE)
    table, stream, ctas = body
    assert table["commandId"] == "table/`POC_USERDATA_STREAM`/create"
    assert table["commandStatus"] == {"status": "SUCCESS", "message": "Table created", "queryId": None}
    assert stream["commandId"] == "stream/`POC_CLICKSTREAM_STREAM`/create"
    assert stream["commandStatus"]["message"] == "Stream created"
    assert ctas["commandId"] == "table/`USER_AGGREGATE_EVENTS`/create"
    qid = ctas["commandStatus"]["queryId"]
    assert re.fullmatch(r"CTAS_USER_AGGREGATE_EVENTS_\d+", qid)
    assert ctas["commandStatus"]["message"] == f"Created query with ID {qid}"
    seqs = [e["commandSequenceNumber"] for e in body]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert ctas["statementText"] == AGGREGATE


def test_double_duplicate_and_if_not_exists_match_contract(seeded):
    writes = len(seeded.commands)
    dup = raw(seeded, CLICKSTREAM)
    assert dup.status_code == 400
    assert_matches_sample("ksqldb/statement_error_already_exists.json", dup.json())
    assert dup.json()["message"] == ("Cannot add stream 'POC_CLICKSTREAM_STREAM': A stream with the same name already exists")
    assert dup.json()["statementText"] == CLICKSTREAM

    ine = raw(seeded, AGGREGATE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
    assert ine.status_code == 200
    assert_matches_sample("ksqldb/warning_entity_if_not_exists.json", ine.json())
    assert ine.json()[0]["message"] == ("Cannot add table `USER_AGGREGATE_EVENTS`: A table with the same name already exists.")
    assert len(seeded.commands) == writes  # neither request wrote a command


def test_double_show_and_describe_match_contract(seeded):
    body = raw(seeded, "SHOW STREAMS; SHOW TABLES; SHOW QUERIES;").json()
    assert_matches_sample("ksqldb/streams.json", [body[0]])
    assert_matches_sample("ksqldb/tables.json", [body[1]])
    assert_matches_sample("ksqldb/queries.json", [body[2]])
    assert {t["name"]: t["isWindowed"] for t in body[1]["tables"]} == {"POC_USERDATA_STREAM": False, "USER_AGGREGATE_EVENTS": True}

    for name in ("USER_AGGREGATE_EVENTS", "POC_CLICKSTREAM_STREAM", "POC_USERDATA_STREAM"):
        for stmt in (f"DESCRIBE EXTENDED {name};", f"DESCRIBE {name};"):
            assert_matches_sample("ksqldb/sourceDescription.json", raw(seeded, stmt).json(), nullable=NULLABLE)
    agg = raw(seeded, "DESCRIBE EXTENDED user_aggregate_events;").json()[0]["sourceDescription"]
    assert agg["windowType"] == "TUMBLING"
    assert [f["name"] for f in agg["fields"]] == ["NAME", "EVENT_COUNT"]  # no WINDOWSTART/WINDOWEND
    assert agg["fields"][0]["type"] == "KEY" and "type" not in agg["fields"][1]
    stream = raw(seeded, "DESCRIBE POC_CLICKSTREAM_STREAM;").json()[0]["sourceDescription"]
    assert [q["sinks"] for q in stream["readQueries"]] == [["USER_AGGREGATE_EVENTS"]]


def test_double_terminate_and_drop_match_contract(seeded):
    qid = next(iter(seeded.queries))
    term = raw(seeded, f"TERMINATE {qid};").json()
    assert_matches_sample("ksqldb/currentStatus_terminate.json", term, nullable=NULLABLE)
    assert term[0]["commandId"] == f"terminate/{qid}/execute"
    assert term[0]["commandStatus"]["message"] == "Query terminated."
    drop = raw(seeded, "DROP TABLE USER_AGGREGATE_EVENTS DELETE TOPIC;").json()
    assert_matches_sample("ksqldb/currentStatus_drop.json", drop, nullable=NULLABLE)
    assert drop[0]["commandId"] == "table/USER_AGGREGATE_EVENTS/drop"
    assert drop[0]["commandStatus"]["message"] == ("Source `USER_AGGREGATE_EVENTS` (topic: USER_AGGREGATE_EVENTS) was dropped.")


def test_double_error_replies_match_contract(seeded):
    select = raw(seeded, "SELECT * FROM USER_AGGREGATE_EVENTS;")
    assert select.status_code == 400
    assert_matches_sample("ksqldb/statement_error_query_endpoint.json", select.json())
    assert select.json() == load_sample("ksqldb/statement_error_query_endpoint.json")

    missing = raw(seeded, "DESCRIBE NOPE;")
    assert_matches_sample("ksqldb/statement_error_already_exists.json", missing.json())
    assert missing.json()["message"] == "Could not find STREAM/TABLE 'NOPE' in the Metastore"
    unknown = raw(seeded, "TERMINATE CTAS_NOPE_9;")
    assert unknown.status_code == 400 and unknown.json()["message"] == "Unknown queryId: CTAS_NOPE_9"

    not_found = HTTP.get(f"{seeded.url}/no/such/path")
    assert (not_found.status_code, not_found.text) == (404, "Not Found")
    assert not_found.headers["content-type"].startswith("text/plain")

    info = HTTP.get(f"{seeded.url}/info").json()
    assert_matches_sample("ksqldb/info.json", info)
    health = HTTP.get(f"{seeded.url}/healthcheck")
    assert health.status_code == 200
    assert_matches_sample("ksqldb/healthcheck.json", health.json())

    seeded.command_queue_timeouts = 1
    queue = raw(seeded, "SHOW STREAMS;")
    assert queue.status_code == 503
    assert_matches_sample("ksqldb/generic_error_command_queue_timeout.json", queue.json())

    seeded.initializing = True
    for path in ("/info", "/healthcheck", "/ksql", "/query-stream"):
        resp = HTTP.request("GET" if path in ("/info", "/healthcheck") else "POST", seeded.url + path, json={})
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "10"
        assert_matches_sample("ksqldb/generic_error_not_ready.json", resp.json())
        assert resp.json()["message"] == NOT_READY_MESSAGE
    assert HTTP.get(f"{seeded.url}/chc/ready").status_code == 200  # before the server-state handler
    seeded.initializing = False

    seeded.require_basic_auth("ksql", "right")
    denied = HTTP.get(f"{seeded.url}/info", auth=("ksql", "wrong"))
    assert denied.status_code == 401
    assert_matches_sample("ksqldb/generic_error_unauthorized.json", denied.json())


def test_double_query_stream_matches_contract(seeded):
    seeded.set_table_rows(
        "USER_AGGREGATE_EVENTS", [{"NAME": "jdoe", "WINDOWSTART": 1_700_000_040_000, "WINDOWEND": 1_700_000_100_000, "EVENT_COUNT": 2}]
    )
    resp = HTTP.post(f"{seeded.url}/query-stream", json={"sql": "SELECT * FROM USER_AGGREGATE_EVENTS;"})
    assert resp.status_code == 200
    assert resp.headers["transfer-encoding"] == "chunked"
    assert resp.headers["content-type"] == "application/vnd.ksqlapi.delimited.v1"
    header, *rows = [httpx.Response(200, content=line).json() for line in resp.text.splitlines()]
    assert_matches_sample("ksqldb/query_stream_header.json", header)
    sample = load_sample("ksqldb/query_stream_header.json")
    assert (header["columnNames"], header["columnTypes"]) == (sample["columnNames"], sample["columnTypes"])
    assert len(rows) == 1
    assert_matches_sample("ksqldb/query_stream_row.json", rows[0])


# ----------------------------------------------------------------------------- the resource


def test_execute_creates_sources_and_query(ksqldb_double):  # noqa: F811
    with KsqlDbResource(url=ksqldb_double.url).get_client() as client:
        entities = client.execute(SEED_DDL, EARLIEST)
        assert [type(e) for e in entities] == [CommandStatus] * 3
        table, stream, ctas = entities
        assert (table.message, stream.message) == ("Table created", "Stream created")
        assert table.command_id == "table/`POC_USERDATA_STREAM`/create" and table.query_id is None
        assert ctas.query_id.startswith("CTAS_USER_AGGREGATE_EVENTS_")
        assert ctas.message == f"Created query with ID {ctas.query_id}"
        assert ctas.status == "SUCCESS"
        assert ctas.command_sequence_number > stream.command_sequence_number > table.command_sequence_number
        # the per-query property reached the server with the statement
        assert ksqldb_double.queries[ctas.query_id].properties == EARLIEST
        client.list_streams()
    last = ksqldb_double.requests_to("POST", "/ksql")[-1].json()
    # read-your-writes: the follow-up read carries the last command's sequence number
    assert last["commandSequenceNumber"] == ctas.command_sequence_number
    assert last["ksql"] == "SHOW STREAMS;"


def test_duplicate_create_raises_typed_already_exists(seeded):
    client = client_for(seeded)
    with pytest.raises(KsqlStatementError) as err:
        client.execute(CLICKSTREAM)
    e = err.value
    assert (e.status, e.error_code) == (400, 40001)
    assert e.statement_text == CLICKSTREAM
    assert e.server_message == "Cannot add stream 'POC_CLICKSTREAM_STREAM': A stream with the same name already exists"
    assert "A stream with the same name already exists" in str(e)
    assert is_already_exists(e)
    assert isinstance(e, ResourceError)


def test_failing_statement_applies_nothing_from_its_request(seeded):
    writes = len(seeded.commands)
    new_stream = CLICKSTREAM.replace("POC_CLICKSTREAM_STREAM", "OTHER_STREAM")
    with pytest.raises(KsqlStatementError) as err:
        client_for(seeded).execute(new_stream + "\n" + USERDATA)  # second one already exists
    assert is_already_exists(err.value)
    assert "OTHER_STREAM" not in seeded.sources and len(seeded.commands) == writes


def test_if_not_exists_returns_warning_recognised_as_already_exists(seeded):
    client = client_for(seeded)
    entities = client.execute(USERDATA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1))
    assert len(entities) == 1 and isinstance(entities[0], WarningEntity)
    assert is_already_exists(entities) and is_already_exists(entities[0])
    created = client.execute(
        CLICKSTREAM.replace("POC_CLICKSTREAM_STREAM", "FRESH", 1).replace("CREATE STREAM", "CREATE STREAM IF NOT EXISTS", 1)
    )
    assert isinstance(created[0], CommandStatus) and not is_already_exists(created)


def test_create_validation_errors_are_statement_errors(ksqldb_double):  # noqa: F811
    client = client_for(ksqldb_double)
    client.execute(CLICKSTREAM)
    cases = {
        "CREATE TABLE T1 (ID STRING, V INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');": "require a PRIMARY KEY",
        "CREATE STREAM S1 (V INT) WITH (VALUE_FORMAT='JSON');": '"KAFKA_TOPIC"',
        "CREATE TABLE T2 AS SELECT NAME, COUNT(*) AS C FROM NOPE GROUP BY NAME;": "NOPE does not exist.",
        "CREATE TABLE T3 AS SELECT EVENTID FROM POC_CLICKSTREAM_STREAM;": "Please use CREATE STREAM AS SELECT",
        "CREATE TABLE T4 AS SELECT COUNT(*) AS C FROM POC_CLICKSTREAM_STREAM GROUP BY NAME;": "Key missing",
        "CREATE TABLE T5 AS SELECT NAME, COUNT(*) FROM POC_CLICKSTREAM_STREAM WINDOW TUMBLING (SIZE 1 FORTNIGHT) "
        "GROUP BY NAME;": "invalid duration",
        "SHOW CONNECTORS;": "does not implement",
    }
    for stmt, fragment in cases.items():
        with pytest.raises(KsqlStatementError) as err:
            client.execute(stmt)
        assert fragment in err.value.message, (stmt, err.value.message)
        assert (err.value.error_code, err.value.statement_text) == (40001, stmt)
        assert not is_already_exists(err.value)
    # like ksqlDB, the double insists on the terminating ';' (the client always adds it)
    resp = raw(ksqldb_double, "SHOW STREAMS")
    assert resp.status_code == 400 and "expecting ';'" in resp.json()["message"]
    assert client.execute("SHOW STREAMS")[0].type == "streams"
    assert set(ksqldb_double.sources) == {"POC_CLICKSTREAM_STREAM"}


def test_project_statements_run_idempotently(ksqldb_double):  # noqa: F811
    """The statements pipeline_defs derives from pipeline.yaml, sent twice: created, then no-ops. The
    deltas stream's INSERT INTO has no IF NOT EXISTS in ksqlDB (a second one is a second writer), so
    the CREATE statements alone are re-sent; provisioning runs the INSERT only with its CREATE."""
    from pipeline_defs.spec import load_spec
    from pipeline_defs.systems.ksqldb.statements import KsqlCompiler

    spec = load_spec()
    compiler = KsqlCompiler(spec)
    client = client_for(ksqldb_double)
    statements = compiler.statements()
    first = [client.execute(st.statement, compiler.properties())[0] for st in statements]
    assert all(isinstance(e, CommandStatus) and e.status == "SUCCESS" for e in first)
    writes = len(ksqldb_double.commands)
    creates = [st.statement.split(";\nINSERT INTO")[0] for st in statements]
    again = [client.execute(text, compiler.properties())[0] for text in creates]
    assert all(is_already_exists(e) for e in again) and len(ksqldb_double.commands) == writes
    for st in statements:
        d = client.describe(st.name)
        expected = compiler.object_columns(st.name)
        assert [(f.name, f.type if f.type != "STRUCT" else c.type, f.kind == "KEY") for f, c in zip(d.fields, expected, strict=True)] == [
            (c.name, c.type, c.key) for c in expected
        ]
        assert d.topic == compiler.output_topic(st.name)
        o = spec.engine.object(st.name)
        want_ts = o.timestamp or (compiler.base_stream(o).timestamp if o.deltas else "")
        assert d.raw["timestamp"] == (want_ts or "").upper()
    queries = client.list_queries()
    assert sorted(q.id.split("_")[0] for q in queries) == ["CSAS", "CTAS", "INSERTQUERY"]
    assert all(ksqldb_double.queries[q.id].properties == compiler.properties() for q in queries)


def test_list_and_describe(seeded):
    client = client_for(seeded)
    assert [(s.name, s.topic, s.key_format, s.is_windowed) for s in client.list_streams()] == [
        ("POC_CLICKSTREAM_STREAM", "ORCLCDB.C__MYUSER.POC_CLICKSTREAM", "AVRO", False)
    ]
    assert {t.name: t.is_windowed for t in client.list_tables()} == {"POC_USERDATA_STREAM": False, "USER_AGGREGATE_EVENTS": True}
    (q,) = client.list_queries()
    assert q.id.startswith("CTAS_USER_AGGREGATE_EVENTS_") and q.state == "RUNNING" and q.is_running
    assert (q.sinks, q.sink_kafka_topics, q.status_count) == (("USER_AGGREGATE_EVENTS",), ("USER_AGGREGATE_EVENTS",), {"RUNNING": 1})
    assert q.query_string == AGGREGATE

    d = client.describe("USER_AGGREGATE_EVENTS")
    assert (d.name, d.type, d.window_type, d.topic, d.key_format, d.value_format) == (
        "USER_AGGREGATE_EVENTS",
        "TABLE",
        "TUMBLING",
        "USER_AGGREGATE_EVENTS",
        "AVRO",
        "AVRO",
    )
    assert [(f.name, f.type, f.kind) for f in d.fields] == [("NAME", "STRING", "KEY"), ("EVENT_COUNT", "BIGINT", None)]
    assert [f.name for f in d.key_columns] == ["NAME"] and [f.name for f in d.value_columns] == ["EVENT_COUNT"]
    assert [w.id for w in d.write_queries] == [q.id] and d.extended and d.partitions == 1

    plain = client.describe("poc_userdata_stream", extended=False)
    assert plain.window_type is None and plain.write_queries == () and not plain.extended
    assert seeded.requests_to("POST", "/ksql")[-1].json()["ksql"] == "DESCRIBE poc_userdata_stream;"
    with pytest.raises(KsqlStatementError, match="Could not find STREAM/TABLE 'NOPE' in the Metastore"):
        client.describe("NOPE")


def test_failed_query_is_visible(seeded):
    client = client_for(seeded)
    (q,) = client.list_queries()
    seeded.fail_query(q.id)
    (q,) = client.list_queries()
    assert (q.state, q.status_count, q.is_running) == ("ERROR", {"ERROR": 1}, False)
    assert client.describe("USER_AGGREGATE_EVENTS").write_queries[0].state == "ERROR"


def test_terminate_and_drop(seeded):
    client = client_for(seeded)
    (q,) = client.list_queries()
    result = client.terminate(q.id)
    assert isinstance(result, CommandStatus) and result.message == "Query terminated."
    assert result.command_id == f"terminate/{q.id}/execute"
    assert client.list_queries() == []
    with pytest.raises(KsqlStatementError, match=f"Unknown queryId: {q.id}"):
        client.terminate(q.id)
    with pytest.raises(ValueError):
        client.terminate("x; DROP STREAM Y")

    # the CTAS table still reads from the stream, so the stream cannot go first
    with pytest.raises(KsqlStatementError, match="read from this source: \\[USER_AGGREGATE_EVENTS\\]"):
        client.drop("stream", "POC_CLICKSTREAM_STREAM")
    with pytest.raises(KsqlStatementError, match="Incompatible data source type is table"):
        client.drop("STREAM", "USER_AGGREGATE_EVENTS")
    dropped = client.drop("TABLE", "USER_AGGREGATE_EVENTS", delete_topic=True)
    assert dropped.message == "Source `USER_AGGREGATE_EVENTS` (topic: USER_AGGREGATE_EVENTS) was dropped."
    assert seeded.deleted_topics == ["USER_AGGREGATE_EVENTS"]
    assert client.drop("STREAM", "POC_CLICKSTREAM_STREAM").command_id == "stream/POC_CLICKSTREAM_STREAM/drop"
    again = client.drop("STREAM", "POC_CLICKSTREAM_STREAM")  # IF EXISTS by default
    assert again.message == "Source `POC_CLICKSTREAM_STREAM` does not exist."
    with pytest.raises(KsqlStatementError, match="Stream POC_CLICKSTREAM_STREAM does not exist."):
        client.drop("STREAM", "POC_CLICKSTREAM_STREAM", if_exists=False)
    with pytest.raises(ValueError):
        client.drop("TOPIC", "X")


def test_drop_terminates_the_creating_query(seeded):
    client = client_for(seeded)
    assert len(client.list_queries()) == 1
    client.drop("TABLE", "USER_AGGREGATE_EVENTS")
    assert client.list_queries() == [] and "USER_AGGREGATE_EVENTS" not in {t.name for t in client.list_tables()}


def test_create_or_replace_keeps_query_id(seeded):
    client = client_for(seeded)
    (q,) = client.list_queries()
    extended = CLICKSTREAM.replace("CREATE STREAM", "CREATE OR REPLACE STREAM", 1).replace(
        "EVENTTIMESTAMP BIGINT", "EVENTTIMESTAMP BIGINT,\nREFERRER STRING"
    )
    assert client.execute(extended)[0].message == "Stream created"
    assert [f.name for f in client.describe("POC_CLICKSTREAM_STREAM").fields][-1] == "REFERRER"
    with pytest.raises(KsqlStatementError, match="Cannot upgrade data source"):
        client.execute(CLICKSTREAM.replace("CREATE STREAM", "CREATE OR REPLACE STREAM", 1).replace("EVENTID STRING", "EVENTID INT"))
    assert [x.id for x in client.list_queries()] == [q.id]


def test_pull_query_parses_rows(seeded):
    seeded.set_table_rows(
        "USER_AGGREGATE_EVENTS",
        [
            {"NAME": "jdoe", "WINDOWSTART": 60_000, "WINDOWEND": 120_000, "EVENT_COUNT": 2},
            {"NAME": "rsmith", "WINDOWSTART": 60_000, "WINDOWEND": 120_000, "EVENT_COUNT": 2},
            {"NAME": "jdoe", "WINDOWSTART": 120_000, "WINDOWEND": 180_000, "EVENT_COUNT": 1},
        ],
    )
    client = client_for(seeded)
    result = client.pull_query("SELECT * FROM USER_AGGREGATE_EVENTS WHERE NAME = 'jdoe'", EARLIEST)
    assert result.column_names == ("NAME", "WINDOWSTART", "WINDOWEND", "EVENT_COUNT")
    assert result.column_types == ("STRING", "BIGINT", "BIGINT", "BIGINT")
    assert result.rows == (
        {"NAME": "jdoe", "WINDOWSTART": 60_000, "WINDOWEND": 120_000, "EVENT_COUNT": 2},
        {"NAME": "jdoe", "WINDOWSTART": 120_000, "WINDOWEND": 180_000, "EVENT_COUNT": 1},
    )
    assert result.query_id
    req = seeded.requests_to("POST", "/query-stream")[-1]
    assert req.headers["accept"] == "application/vnd.ksqlapi.delimited.v1"
    assert req.json() == {"sql": "SELECT * FROM USER_AGGREGATE_EVENTS WHERE NAME = 'jdoe';", "properties": EARLIEST}

    latest = client.pull_query("SELECT NAME, EVENT_COUNT FROM USER_AGGREGATE_EVENTS WHERE WINDOWSTART >= 120000;")
    assert latest.column_names == ("NAME", "EVENT_COUNT") and latest.rows == ({"NAME": "jdoe", "EVENT_COUNT": 1},)
    assert client.pull_query("SELECT * FROM USER_AGGREGATE_EVENTS WHERE NAME = 'nobody';").rows == ()

    with pytest.raises(KsqlStatementError, match="table isn't queryable") as err:
        client.pull_query("SELECT * FROM POC_USERDATA_STREAM;")
    assert err.value.statement_text == "SELECT * FROM POC_USERDATA_STREAM;"
    with pytest.raises(ValueError, match="push query"):
        client.pull_query("SELECT * FROM USER_AGGREGATE_EVENTS EMIT CHANGES;")
    client.terminate(client.list_queries()[0].id)
    with pytest.raises(KsqlStatementError, match="Materializing query has been stopped"):
        client.pull_query("SELECT * FROM USER_AGGREGATE_EVENTS;")


def test_in_band_stream_error_is_typed():
    body = (
        '{"queryId":"q","columnNames":["A"],"columnTypes":["STRING"]}\n["x"]\n'
        '{"@type":"generic_error","error_code":50000,"message":"boom"}\n'
    )
    client = KsqlDbClient("http://ksql", transport=httpx.MockTransport(lambda r: httpx.Response(200, text=body)))
    with pytest.raises(KsqlGenericError, match="boom") as err:
        client.pull_query("SELECT * FROM T;")
    assert err.value.error_code == 50000
    html = KsqlDbClient("http://ksql", transport=httpx.MockTransport(lambda r: httpx.Response(200, text="<html>")))
    with pytest.raises(KsqlGenericError, match="not the delimited format"):
        html.pull_query("SELECT * FROM T;")


def test_503_is_retried_then_succeeds(seeded):
    seeded.not_ready_responses = 2
    seeded.retry_after = None  # the Vert.x server-state path sends no Retry-After
    sleep = SleepRecorder()
    client = client_for(seeded, sleep=sleep, backoff=0.5, backoff_max=4.0)
    before = len(seeded.requests)
    assert [s.name for s in client.list_streams()] == ["POC_CLICKSTREAM_STREAM"]
    assert len(seeded.requests) - before == 3
    assert len(sleep.delays) == 2
    assert 0.25 <= sleep.delays[0] <= 0.5 and 0.5 <= sleep.delays[1] <= 1.0  # jittered exponential


def test_retry_after_is_respected_up_to_cap(seeded):
    seeded.not_ready_responses = 2
    seeded.retry_after = 3
    sleep = SleepRecorder()
    client_for(seeded, sleep=sleep, max_retry_after=30).info()
    assert sleep.delays == [3.0, 3.0]
    seeded.not_ready_responses, seeded.retry_after = 1, 600
    sleep.delays.clear()
    client_for(seeded, sleep=sleep, max_retry_after=5).info()
    assert sleep.delays == [5.0]


def test_503_exhausted_raises_server_not_ready(seeded):
    seeded.initializing = True
    sleep = SleepRecorder()
    before = len(seeded.requests)
    with pytest.raises(KsqlServerNotReady) as err:
        client_for(seeded, sleep=sleep, max_retries=2).execute(CLICKSTREAM)
    assert (err.value.status, err.value.error_code, err.value.server_message) == (503, 50302, NOT_READY_MESSAGE)
    assert NOT_READY_MESSAGE in str(err.value)
    assert len(seeded.requests) - before == 3 and len(sleep.delays) == 2
    with pytest.raises(KsqlServerNotReady):
        client_for(seeded, sleep=sleep).health(retry=False)
    assert len(seeded.requests) - before == 4


def test_command_queue_timeout_is_retried(seeded):
    seeded.command_queue_timeouts = 1
    sleep = SleepRecorder()
    entities = client_for(seeded, sleep=sleep).execute(CLICKSTREAM.replace("POC_CLICKSTREAM_STREAM", "S2", 1))
    assert entities[0].message == "Stream created" and len(sleep.delays) == 1
    assert "S2" in seeded.sources


def test_health_and_info(seeded):
    client = client_for(seeded)
    h = client.health()
    assert h.is_healthy and h.server_state == "RUNNING" and set(h.details) == {"metastore", "kafka", "commandRunner"}
    seeded.kafka_healthy = False
    h = client.health()
    assert not h.is_healthy and h.details["kafka"] == {"isHealthy": False}
    info = client.info()
    assert (info.version, info.ksql_service_id, info.server_status) == ("0.29.0", "default_", "RUNNING")
    assert info.kafka_cluster_id == seeded.kafka_cluster_id


def test_unreachable_is_typed_and_retried():
    double = KsqlDbDouble().start()
    url = double.url
    double.stop()
    sleep = SleepRecorder()
    with pytest.raises(KsqlDbUnreachable) as err:
        KsqlDbClient(url, max_retries=3, sleep=sleep, timeout=2).list_streams()
    assert isinstance(err.value, Unreachable) and isinstance(err.value, ResourceError)
    assert url in str(err.value) and len(sleep.delays) == 3


def test_writes_are_not_replayed_after_a_read_timeout():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.read().decode())
        raise httpx.ReadTimeout("timed out", request=request)

    client = KsqlDbClient("http://ksql", max_retries=3, sleep=SleepRecorder(), transport=httpx.MockTransport(handler))
    with pytest.raises(KsqlDbUnreachable):
        client.execute(CLICKSTREAM)
    assert len(calls) == 1  # the CREATE may have run: resending could double-apply it
    with pytest.raises(KsqlDbUnreachable):
        client.list_streams()
    assert len(calls) == 1 + 4  # a SHOW is safe to resend


def test_non_json_error_is_typed(seeded):
    client = KsqlDbClient(seeded.url + "/prefix", sleep=SleepRecorder())
    with pytest.raises(KsqlGenericError) as err:
        client.list_streams()
    assert err.value.status == 404 and "Not Found" in str(err.value)


def test_password_never_leaks(seeded, caplog):
    caplog.set_level(logging.DEBUG)
    seeded.require_basic_auth("ksql-user", SECRET)
    resource = KsqlDbResource(url=seeded.url, username="ksql-user", password=SECRET, backoff_seconds=0.001, max_retries=2)
    assert SECRET not in repr(resource) and SECRET not in str(resource)
    seen: list[BaseException] = []

    with resource.get_client() as client:  # success path, incl. a retried 503
        seeded.not_ready_responses = 1
        seeded.retry_after = None
        assert client.list_tables()
        client.pull_query("SELECT * FROM USER_AGGREGATE_EVENTS;")
        with pytest.raises(KsqlStatementError) as err:
            client.execute(USERDATA)
        seen.append(err.value)
        seeded.initializing = True
        with pytest.raises(KsqlServerNotReady) as err:
            client.info()
        seen.append(err.value)
        seeded.initializing = False
    assert seeded.requests_to("POST", "/ksql")[-1].basic_auth == ("ksql-user", SECRET)  # auth was really sent

    seeded.require_basic_auth("ksql-user", "another-password")
    with pytest.raises(KsqlAuthError) as err:  # wrong password
        resource.get_client().list_streams()
    assert err.value.status == 401 and err.value.error_code == 40100
    seen.append(err.value)

    # credentials embedded in the URL are moved into the auth header and kept out of messages
    host = seeded.url.removeprefix("http://")
    with pytest.raises(KsqlAuthError) as err:
        KsqlDbResource(url=f"http://ksql-user:{SECRET}@{host}", backoff_seconds=0.001).get_client().info()
    seen.append(err.value)
    assert seeded.requests[-1].basic_auth == ("ksql-user", SECRET)

    url = seeded.url
    seeded.stop()
    with pytest.raises(KsqlDbUnreachable) as err:  # unreachable path
        KsqlDbResource(
            url=f"http://ksql-user:{SECRET}@{url.removeprefix('http://')}",
            password=SECRET,
            username="ksql-user",
            backoff_seconds=0.001,
            max_retries=1,
        ).get_client().list_streams()
    seen.append(err.value)

    for exc in seen:
        text = " ".join([str(exc), repr(exc), *map(str, exc.args), str(exc.__cause__ or "")])
        assert SECRET not in text, text
    assert caplog.records, "logging was not captured; the check below would prove nothing"
    assert any("retry" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    assert SECRET not in caplog.text


def test_resource_config_and_dagster_run(seeded, monkeypatch):
    assert KsqlDbResource().url == KSQLDB_URL.default
    monkeypatch.setenv("KSQLDB_TEST_PASSWORD", SECRET)
    seeded.require_basic_auth("dagster", SECRET)

    @dg.asset
    def ksql_tables(ksqldb: KsqlDbResource) -> list[str]:
        with ksqldb.get_client() as client:
            return sorted(t.name for t in client.list_tables())

    result = dg.materialize(
        [ksql_tables],
        resources={"ksqldb": KsqlDbResource(url=seeded.url, username="dagster", password=dg.EnvVar("KSQLDB_TEST_PASSWORD"))},
    )
    assert result.success
    assert result.output_for_node("ksql_tables") == ["POC_USERDATA_STREAM", "USER_AGGREGATE_EVENTS"]


def test_helpers():
    assert quote_identifier("USER_AGGREGATE_EVENTS") == "USER_AGGREGATE_EVENTS"
    assert quote_identifier("my.topic") == "`my.topic`" and quote_identifier("`Mixed`") == "`Mixed`"
    assert quote_identifier("a`b") == "`a``b`"
    table_exists = KsqlStatementError("Cannot add table 'X': A table with the same name already exists", status=400, error_code=40001)
    assert is_already_exists(table_exists)
    assert not is_already_exists(KsqlStatementError("Unknown queryId: Q", status=400, error_code=40001))
    assert not is_already_exists(KsqlGenericError("x"))
    assert not is_already_exists([])
    entity = parse_entity(
        {
            "@type": "streams",
            "statementText": "LIST STREAMS;",
            "warnings": [{"message": "w"}],
            "streams": [{"type": "STREAM", "name": "A", "topic": "a", "format": "JSON"}],
        }
    )
    assert isinstance(entity, SourceList) and entity.warnings == ("w",)
    assert (entity.sources[0].key_format, entity.sources[0].value_format) == ("JSON", "JSON")  # legacy `format`
    unknown = parse_entity({"@type": "kafka_topics", "topics": []})
    assert unknown.type == "kafka_topics" and unknown.raw == {"@type": "kafka_topics", "topics": []}
