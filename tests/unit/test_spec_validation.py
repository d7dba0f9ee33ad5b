"""Invalid specs are rejected before anything runs, each problem with the file name, the field path and the reason."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from pipeline_defs.spec import SpecError, load_spec, parse_spec
from tests.unit.spec_support import DEFAULT, NO_ENV, _doc

pytestmark = pytest.mark.unit


def _set(path: str, value):
    def mutate(d):
        parts = re.findall(r"[^.\[\]]+", path)
        cur = d
        for p in parts[:-1]:
            cur = cur[int(p)] if p.isdigit() else cur[p]
        last = parts[-1]
        if last.isdigit():
            cur[int(last)] = value
        else:
            cur[last] = value

    return mutate


def _del(path: str):
    def mutate(d):
        parts = re.findall(r"[^.\[\]]+", path)
        cur = d
        for p in parts[:-1]:
            cur = cur[int(p)] if p.isdigit() else cur[p]
        del cur[parts[-1]]

    return mutate


def _append_table_copy(d):
    d["source"]["tables"].append(copy.deepcopy(d["source"]["tables"][0]))


BAD_CASES = [
    # (id, mutation, expected field path, expected reason fragment)
    (
        "semicolon-ksql-name",
        _set("engine.objects[2].name", "USER;DROP"),
        "engine.objects[2].name",
        "'USER;DROP' is not a valid ksqlDB identifier (letters, digits, _; must start with a letter)",
    ),
    ("semicolon-oracle-table", _set("source.tables[0].name", "POC;DROP"), "source.tables[0].name", "is not a valid Oracle identifier"),
    (
        "quote-in-column",
        _set("source.tables[1].columns[2].name", "NAME'"),
        "source.tables[1].columns[2].name",
        '"NAME\'" is not a valid Oracle identifier',
    ),
    (
        "comment-in-privilege",
        _set("source.role.system_privileges[0]", "ALTER SESSION --"),
        "source.role.system_privileges[0]",
        "is not a valid Oracle system privilege",
    ),
    (
        "comment-in-ksql-type",
        _set("engine.objects[1].columns[0].type", "STRING -- x"),
        "engine.objects[1].columns[0].type",
        "is not an allowed ksqlDB column type",
    ),
    ("unknown-key", _set("engine.objects[0].colums", []), "engine.objects[0].colums", "unknown key 'colums' (allowed: name, kind"),
    ("missing-field", _del("source.user.name"), "source.user.name", "required field is missing"),
    (
        "bad-oracle-type",
        _set("source.tables[0].columns[1].type", "VARCHAR2(50); DROP TABLE X"),
        "source.tables[0].columns[1].type",
        "is not an allowed Oracle column type",
    ),
    (
        "bad-ksql-type-for-column",
        _set("engine.objects[1].columns[6].type", "BOOLEAN"),
        "engine.objects[1].columns[6].type",
        "BOOLEAN does not fit source column POC_CLICKSTREAM.EVENTTIMESTAMP TIMESTAMP",
    ),
    ("duplicate-table", _append_table_copy, "source.tables[2].name", "duplicate table 'POC_USERDATA' (also at source.tables[0].name)"),
    (
        "unknown-table-in-connector",
        _set("source.connectors[0].tables", ["POC_USERS"]),
        "source.connectors[0].tables[0]",
        "unknown table 'POC_USERS'",
    ),
    (
        "unknown-table-in-ksql",
        _set("engine.objects[0].source.table", "POC_NOPE"),
        "engine.objects[0].source.table",
        "unknown table 'POC_NOPE'",
    ),
    (
        "aggregate-from-unknown-stream",
        _set("engine.objects[3].aggregate.from", "CLICKS"),
        "engine.objects[3].aggregate.from",
        "unknown ksqlDB object 'CLICKS'",
    ),
    (
        "aggregate-from-table",
        _set("engine.objects[3].aggregate.from", "POC_USERDATA_STREAM"),
        "engine.objects[3].aggregate.from",
        "a windowed aggregate reads a stream",
    ),
    (
        "wrong-flavor",
        _set("source.flavor", "striim"),
        "source.flavor",
        "'striim' is not allowed: input should be 'confluent' or 'debezium'",
    ),
    (
        "negative-window",
        _set("engine.objects[3].aggregate.window.size", "-1 MINUTE"),
        "engine.objects[3].aggregate.window.size",
        "is not a valid duration",
    ),
    (
        "zero-window",
        _set("engine.objects[3].aggregate.window.size", "0 MINUTES"),
        "engine.objects[3].aggregate.window.size",
        "must be a positive duration",
    ),
    (
        "sink-reads-nothing",
        _set("sinks[0].object", "USER_TOTALS"),
        "sinks[0].object",
        "'USER_TOTALS' is not an aggregate of the engine (aggregates: USER_AGGREGATE_EVENTS): nothing produces the topic it would read",
    ),
    ("sink-reads-non-aggregate", _set("sinks[0].object", "POC_CLICKSTREAM_STREAM"), "sinks[0].object", "is not an aggregate"),
    (
        "table-not-captured",
        _set("source.connectors", [{"name": "userdata_avro", "tables": ["POC_USERDATA"]}]),
        "source.tables[1].capture",
        "no source.connectors entry includes it",
    ),
    (
        "ksql-reads-uncaptured",
        lambda d: (_set("source.tables[1].capture", False)(d), _set("source.connectors", [{"name": "u", "tables": ["POC_USERDATA"]}])(d)),
        "engine.objects[1].source.table",
        "its CDC topic is never produced",
    ),
    ("reserved-oracle-word", _set("source.tables[0].columns[1].name", "USER"), "source.tables[0].columns[1].name", "Oracle reserved word"),
    ("reserved-ksql-word", _set("engine.objects[0].name", "SELECT"), "engine.objects[0].name", "ksqlDB reserved word"),
    ("lower-case-identifier", _set("source.tables[0].name", "poc_userdata"), "source.tables[0].name", "must be upper case"),
    (
        "timestamp-not-a-column",
        _set("engine.objects[1].timestamp", "CREATED"),
        "engine.objects[1].timestamp",
        "not one of the object's columns",
    ),
    (
        "value-key-equals-group-by",
        _set("engine.objects[3].aggregate.value_key_column", "NAME"),
        "engine.objects[3].aggregate.value_key_column",
        "already used by group_by",
    ),
    (
        "duplicate-primary-key-row",
        _set("source.tables[0].demo_rows[0].ID", "101"),
        "source.tables[0].demo_rows[0]",
        "duplicate primary key '101'",
    ),
    (
        "row-unknown-column",
        _set("source.tables[0].initial_rows[0].EMAIL", "x@y"),
        "source.tables[0].initial_rows[0].EMAIL",
        "table POC_USERDATA has no column 'EMAIL'",
    ),
    (
        "row-value-too-long",
        _set("source.tables[0].initial_rows[0].NAME", "x" * 51),
        "source.tables[0].initial_rows[0].NAME",
        "longer than VARCHAR2(50) allows",
    ),
    ("bad-port-type", _set("source.port", "fifteen"), "source.port", "'fifteen'"),
    ("duplicate-connector", _set("sinks[0].name", "userdata_avro"), "sinks[0].name", "duplicate connector name 'userdata_avro'"),
    (
        "avro-without-registry",
        lambda d: (_set("source.format", "json")(d), _set("engine.objects[2].value_format", "AVRO")(d)),
        "engine.objects[2].value_format",
        "AVRO needs Schema Registry",
    ),
    ("table-key-not-pk", _set("engine.objects[0].columns[0].key", False), "engine.objects[0].columns", "needs its primary key column"),
]


@pytest.mark.parametrize("case_id,mutate,path,reason", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_invalid_spec_is_rejected_with_file_path_and_reason(tmp_path, case_id, mutate, path, reason):
    doc = _doc()
    mutate(doc)
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(SpecError) as e:
        load_spec(f, env=NO_ENV)
    msg = str(e.value)
    line = next((ln for ln in msg.splitlines() if f"{f}: {path}: " in ln), None)
    assert line is not None, f"no line for {path!r} in:\n{msg}"
    assert reason in line, f"{reason!r} not in {line!r}"
    assert "bad.yaml" in line


def test_the_message_format_of_the_issue(tmp_path):
    doc = _doc()
    doc["engine"]["objects"][2]["name"] = "USER;DROP"
    f = tmp_path / "pipeline.yaml"
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(SpecError) as e:
        load_spec(f, env=NO_ENV)
    assert str(e.value).splitlines()[0] == (
        f"{f}: engine.objects[2].name: 'USER;DROP' is not a valid ksqlDB identifier (letters, digits, _; must start with a letter)"
    )
    assert e.value.problems[0] == ("engine.objects[2].name", e.value.problems[0][1])


def test_yaml_syntax_error_reports_the_line(tmp_path):
    text = DEFAULT.read_text().replace("  database: ORCLCDB ", "  database: [ORCLCDB ", 1)
    f = tmp_path / "broken.yaml"
    f.write_text(text)
    with pytest.raises(SpecError) as e:
        load_spec(f, env=NO_ENV)
    msg = str(e.value)
    assert msg.startswith(f"{f}: line ") and "invalid YAML" in msg
    lineno = int(re.search(r"line (\d+)", msg).group(1))
    assert abs(lineno - next(i for i, ln in enumerate(text.splitlines(), 1) if "[ORCLCDB" in ln)) <= 1


def test_duplicate_yaml_key_is_an_error(tmp_path):
    text = DEFAULT.read_text().replace("  flavor: confluent", "  flavor: confluent\n  flavor: debezium", 1)
    with pytest.raises(SpecError, match=r"dup\.yaml: line \d+, column \d+: invalid YAML: found duplicate key 'flavor'"):
        parse_spec(text, "dup.yaml")


def test_non_mapping_and_empty_files():
    with pytest.raises(SpecError, match=r"x\.yaml: the top level must be a mapping"):
        parse_spec("- a\n- b\n", "x.yaml")
    with pytest.raises(SpecError) as e:
        parse_spec("", "empty.yaml")
    assert "empty.yaml: source: required field is missing" in str(e.value)
    assert "empty.yaml: engine: required field is missing" in str(e.value)


def test_all_problems_are_reported_at_once(tmp_path):
    doc = _doc()
    doc["source"]["tables"][0]["name"] = "A B"
    doc["engine"]["objects"][0]["kind"] = "view"
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "two.yaml")
    paths = [p for p, _ in e.value.problems]
    assert "source.tables[0].name" in paths and "engine.objects[0].kind" in paths


def test_identifiers_cannot_smuggle_sql():
    from pipeline_defs.systems.ksqldb.spec import _ksql_ident
    from pipeline_defs.systems.oracle.names import _oracle_ident

    for bad in ("A;B", "A'B", 'A"B', "A--B", "A B", "A/*B", "1ABC", "", "A\nB", "A`B"):
        with pytest.raises(ValueError):
            _ksql_ident(bad)
        with pytest.raises(ValueError):
            _oracle_ident(bad)
    assert _oracle_ident("C##CDC_PRIVS") == "C##CDC_PRIVS"
    with pytest.raises(ValueError, match="128 bytes"):
        _oracle_ident("A" * 129)


@pytest.mark.parametrize("section,known", [("source", "'oracle', 'postgres'"), ("engine", "'flink', 'ksqldb'"), ("sinks[0]", "'redis'")])
def test_unknown_kind_names_the_known_kinds(section, known):
    doc = _doc()
    target = doc["sinks"][0] if section == "sinks[0]" else doc[section]
    target["kind"] = "nope"
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "kind.yaml")
    assert e.value.problems == [(f"{section}.kind", f"'nope' is not a known kind (known: {known})")]
    assert str(e.value) == f"kind.yaml: {section}.kind: 'nope' is not a known kind (known: {known})"


def test_missing_kind_is_reported_at_the_kind_field():
    doc = _doc()
    del doc["source"]["kind"]
    with pytest.raises(SpecError) as e:
        parse_spec(yaml.safe_dump(doc), "nokind.yaml")
    assert [p for p, _ in e.value.problems] == ["source.kind"] and "required field is missing" in e.value.problems[0][1]
