"""Bad input in the LOCAL profile's spec (pipeline.local.yaml: PostgreSQL -> Debezium -> Flink -> Redis) is
refused by load_spec, before any resource is built or any system touched: every error line names the file,
the field path and the reason."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pipeline_defs.spec import SpecError, load_spec

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "pipeline.local.yaml"
NO_ENV: dict[str, str] = {}
BASE = yaml.safe_load(LOCAL.read_text())


def _set(path: str, value) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        *head, last = _parts(path)
        node = doc
        for p in head:
            node = node[p]
        node[last] = value

    return mutate


def _parts(path: str) -> list:
    out: list = []
    for part in path.replace("]", "").split("."):
        name, *idx = part.split("[")
        out.append(name)
        out += [int(i) for i in idx]
    return out


def _both(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        for m in mutations:
            m(doc)

    return mutate


INJECTION = 'X";DROP TABLE t;--'

# (id, mutation, field path, words the reason must contain)
BAD = [
    # PostgreSQL identifiers: every name reaching SQL must pass its rule (quoting alone is not relied on)
    ("pg-table-injection", _set("source.tables[1].name", INJECTION), "source.tables[1].name", "is not a valid table or column name"),
    (
        "pg-column-injection",
        _set("source.tables[1].columns[1].name", INJECTION),
        "source.tables[1].columns[1].name",
        "is not a valid table or column name",
    ),
    ("pg-schema-injection", _set("source.schema", INJECTION), "source.schema", "is not a valid schema name"),
    ("pg-role-injection", _set("source.role.name", INJECTION), "source.role.name", "is not a valid role name"),
    ("pg-publication-injection", _set("source.publication", INJECTION), "source.publication", "is not a valid publication name"),
    ("pg-database-injection", _set("source.database", INJECTION), "source.database", "is not a valid database name"),
    (
        "pg-slot-injection",
        _set("source.connectors[0].slot_name", INJECTION),
        "source.connectors[0].slot_name",
        "is not a valid replication slot name",
    ),
    (
        "pg-reserved-word",
        _set("source.tables[0].columns[1].name", "SELECT"),
        "source.tables[0].columns[1].name",
        "PostgreSQL reserved word",
    ),
    ("pg-lower-case-table", _set("source.tables[0].name", "poc_userdata"), "source.tables[0].name", "must be upper case"),
    ("pg-type-not-allowed", _set("source.tables[1].columns[6].type", "TIMESTAMP; DROP TABLE t"), "source.tables[1].columns[6].type", ""),
    (
        "slot-without-prefix",
        _set("source.connectors[1].slot_name", "other_clickstream"),
        "source.connectors[1].slot_name",
        "must start with source.slot_prefix 'cdc_'",
    ),
    (
        "publication-misses-a-table",
        _set("source.publication_tables", ["POC_USERDATA"]),
        "source.publication_tables",
        "captured table 'POC_CLICKSTREAM' is missing from the publication",
    ),
    (
        "publication-unknown-table",
        _set("source.publication_tables", ["POC_USERDATA", "POC_CLICKSTREAM", "POC_OTHER"]),
        "source.publication_tables[2]",
        "'POC_OTHER' is not a captured table",
    ),
    (
        "secret-in-connector-config",
        _set("source.connectors[0].config", {"database.password": "hunter2-secret"}),
        "source.connectors[0].config.database.password",
        "a secret cannot be written in the spec",
    ),
    # Flink identifiers and durations
    (
        "flink-object-injection",
        _set("engine.objects[1].name", "AGG`; DROP TABLE x; --"),
        "engine.objects[1].name",
        "is not a valid Flink SQL identifier",
    ),
    (
        "flink-group-by-injection",
        _set("engine.objects[1].aggregate.group_by", "NAME) --"),
        "engine.objects[1].aggregate.group_by",
        "is not a valid Flink SQL identifier",
    ),
    (
        "flink-reserved-prefix",
        _set("engine.objects[1].aggregate.count_as", "__deleted"),
        "engine.objects[1].aggregate.count_as",
        "reserved for CDC metadata",
    ),
    (
        "flink-bad-window",
        _set("engine.objects[1].aggregate.window.size", "1 FORTNIGHT"),
        "engine.objects[1].aggregate.window.size",
        "is not a valid duration",
    ),
    (
        "flink-zero-window",
        _set("engine.objects[1].aggregate.window.size", "0 MINUTES"),
        "engine.objects[1].aggregate.window.size",
        "must be a positive duration",
    ),
    (
        "flink-numeric-grace",
        _set("engine.objects[1].aggregate.window.grace", 60),
        "engine.objects[1].aggregate.window.grace",
        "is not a valid duration",
    ),
    (
        "flink-property-quote",
        _set("engine.settings", {"properties": {"table.exec.state.ttl": "1 h'; DROP"}}),
        "engine.settings.properties['table.exec.state.ttl']",
        "is not a valid Flink configuration value",
    ),
    (
        "flink-timestamp-not-a-column",
        _set("engine.objects[0].timestamp", "CREATED_AT"),
        "engine.objects[0].timestamp",
        "'CREATED_AT' is not a column of POC_CLICKSTREAM_STREAM",
    ),
    (
        "flink-group-by-not-a-column",
        _set("engine.objects[1].aggregate.group_by", "USERNAME"),
        "engine.objects[1].aggregate.group_by",
        "'USERNAME' is not a column of POC_CLICKSTREAM_STREAM",
    ),
    (
        "flink-reads-unknown-table",
        _set("engine.objects[0].source.table", "POC_NOPE"),
        "engine.objects[0].source.table",
        "'POC_NOPE' is not a captured table of the source",
    ),
    # kinds
    ("unknown-source-kind", _set("source.kind", "mysql"), "source.kind", "'mysql' is not a known kind"),
    ("unknown-engine-kind", _set("engine.kind", "spark"), "engine.kind", "'spark' is not a known kind"),
    ("unknown-sink-kind", _set("sinks[0].kind", "memcached"), "sinks[0].kind", "'memcached' is not a known kind"),
    # the sink
    ("sink-reads-nothing", _set("sinks[0].object", "NOT_AN_AGGREGATE"), "sinks[0].object", "is not an aggregate"),
    ("sink-keyspace-injection", _set("sinks[0].keyspace", 'X" ; FLUSHALL'), "sinks[0].keyspace", "Redis keyspace"),
]


@pytest.mark.parametrize("case_id,mutate,path,reason", BAD, ids=[c[0] for c in BAD])
def test_invalid_local_spec_names_file_field_and_reason(tmp_path, case_id, mutate, path, reason):
    doc = copy.deepcopy(BASE)
    mutate(doc)
    f = tmp_path / "pipeline.local.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(SpecError) as e:
        load_spec(f, env=NO_ENV)
    msg = str(e.value)
    line = next((ln for ln in msg.splitlines() if ln.startswith(f"{f}: {path}: ")), None)
    assert line is not None, f"no line for {path!r} in:\n{msg}"
    assert reason in line, f"{reason!r} not in {line!r}"
    assert "hunter2-secret" not in msg


def test_the_local_spec_itself_is_valid():
    spec = load_spec(LOCAL, env=NO_ENV)
    assert spec.source.kind == "postgres" and spec.engine.kind == "flink"
    assert [c.slot_name for c in spec.source.connectors] == ["cdc_userdata", "cdc_clickstream"]


def test_env_override_with_a_bad_value_names_the_variable(tmp_path):
    with pytest.raises(SpecError) as e:
        load_spec(LOCAL, env={"CDC_CONNECT_POSTGRES_HOST": "db;rm -rf /"})
    assert str(e.value).startswith(f"{LOCAL}: source.host (from env CDC_CONNECT_POSTGRES_HOST): ")
    assert "is not a valid host name" in str(e.value)


def test_every_problem_is_reported_at_once(tmp_path):
    doc = copy.deepcopy(BASE)
    _both(_set("source.connectors[1].slot_name", "x_clicks"), _set("source.publication_tables", ["POC_USERDATA"]))(doc)
    f = tmp_path / "two.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(SpecError) as e:
        load_spec(f, env=NO_ENV)
    paths = {p for p, _ in e.value.problems}
    assert {"source.connectors[1].slot_name", "source.publication_tables"} <= paths, e.value.problems
