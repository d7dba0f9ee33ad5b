"""SchemaRegistryResource / SchemaRegistryClient against the real-HTTP Schema Registry double, and
the double against the recorded contract samples (tests/contract_samples/schema_registry)."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from resources.endpoints import SCHEMA_REGISTRY_URL
from resources.errors import ResourceError, Unreachable
from resources.schema_registry import (
    Compatibility,
    CompatibilityNotConfigured,
    SchemaNotFound,
    SchemaRegistryAuthError,
    SchemaRegistryClient,
    SchemaRegistryResource,
    SchemaRegistryServerError,
    SchemaRegistryUnreachable,
    SubjectNotFound,
    VersionNotFound,
)
from tests.doubles.contract import assert_matches_sample, load_sample
from tests.doubles.fixtures import schema_registry_double  # noqa: F401  (until conftest loads the plugin)
from tests.doubles.schema_registry_server import SchemaRegistryDouble

pytestmark = pytest.mark.unit

VALUE_SUBJECT = "ORCLCDB.C__MYUSER.POC_CLICKSTREAM-value"
KEY_SUBJECT = "ORCLCDB.C__MYUSER.POC_CLICKSTREAM-key"
CLICK_V1 = {
    "type": "record",
    "name": "ConnectDefault",
    "namespace": "io.confluent.connect.avro",
    "fields": [{"name": "EVENTID", "type": ["null", "string"], "default": None}],
}
CLICK_V2 = {**CLICK_V1, "fields": [*CLICK_V1["fields"], {"name": "NAME", "type": ["null", "string"], "default": None}]}
SECRET = "Sr-pa55word-XYZ"
HTTP = httpx.Client(timeout=10)


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def registry(schema_registry_double: SchemaRegistryDouble) -> SchemaRegistryDouble:  # noqa: F811
    schema_registry_double.register(KEY_SUBJECT, '"string"')
    schema_registry_double.register(VALUE_SUBJECT, CLICK_V1)
    schema_registry_double.register(VALUE_SUBJECT, CLICK_V2)
    schema_registry_double.register("clicks-json-value", {"type": "object"}, schema_type="JSON")
    return schema_registry_double


def client_for(double: SchemaRegistryDouble, **kw) -> SchemaRegistryClient:
    kw.setdefault("sleep", SleepRecorder())
    return SchemaRegistryClient(double.url, **kw)


def get(double: SchemaRegistryDouble, path: str) -> httpx.Response:
    return HTTP.get(double.url + path)


# ----------------------------------------------------------------------------- double vs contract


def test_double_success_replies_match_contract(registry):
    assert_matches_sample("schema_registry/subjects.json", get(registry, "/subjects").json())
    assert_matches_sample("schema_registry/versions.json", get(registry, f"/subjects/{VALUE_SUBJECT}/versions").json())
    avro = get(registry, f"/subjects/{VALUE_SUBJECT}/versions/latest")
    assert avro.headers["content-type"] == "application/vnd.schemaregistry.v1+json"
    assert_matches_sample("schema_registry/subject_version_avro.json", avro.json())  # no schemaType for AVRO
    assert json.loads(avro.json()["schema"]) == CLICK_V2
    as_json = get(registry, "/subjects/clicks-json-value/versions/1").json()
    assert_matches_sample("schema_registry/subject_version_json_schema.json", as_json)
    assert_matches_sample("schema_registry/schema_by_id.json", get(registry, "/schemas/ids/1").json())
    assert_matches_sample("schema_registry/config.json", get(registry, "/config").json())
    registry.set_compatibility("FULL", VALUE_SUBJECT)
    assert_matches_sample("schema_registry/config.json", get(registry, f"/config/{VALUE_SUBJECT}").json())


def test_double_error_replies_match_contract(registry):
    cases = [
        ("/subjects/nope-value/versions/latest", 404, "error_subject_not_found.json", "Subject 'nope-value' not found."),
        (f"/subjects/{VALUE_SUBJECT}/versions/9", 404, "error_version_not_found.json", "Version 9 not found."),
        ("/schemas/ids/99", 404, "error_schema_not_found.json", "Schema 99 not found"),
        (
            "/config/nope-value",
            404,
            "error_subject_compatibility_not_configured.json",
            "Subject 'nope-value' does not have subject-level compatibility configured",
        ),
    ]
    for path, status, sample, message in cases:
        resp = get(registry, path)
        assert resp.status_code == status
        assert_matches_sample(f"schema_registry/{sample}", resp.json())
        assert resp.json() == {"error_code": load_sample(f"schema_registry/{sample}")["error_code"], "message": message}
    registry.fail_next()
    store = get(registry, "/subjects")
    assert store.status_code == 500
    assert_matches_sample("schema_registry/error_store.json", store.json())
    registry.legacy_config_errors = True
    assert_matches_sample("schema_registry/error_subject_not_found.json", get(registry, "/config/nope-value").json())


# ----------------------------------------------------------------------------- the resource


def test_subjects_and_latest_schema(registry):
    client = client_for(registry)
    assert client.subjects() == sorted([KEY_SUBJECT, VALUE_SUBJECT, "clicks-json-value"])
    assert client.versions(VALUE_SUBJECT) == [1, 2]
    latest = client.latest_schema(VALUE_SUBJECT)
    assert (latest.subject, latest.version, latest.schema_type) == (VALUE_SUBJECT, 2, "AVRO")
    assert latest.id == 3 and json.loads(latest.schema) == CLICK_V2
    assert latest.as_dict() == {"subject": VALUE_SUBJECT, "id": 3, "version": 2, "schema": latest.schema, "schemaType": "AVRO"}
    first = client.schema_version(VALUE_SUBJECT, 1)
    assert (first.version, first.id) == (1, 2)
    assert client.latest_schema("clicks-json-value").schema_type == "JSON"
    assert client.latest_schema(KEY_SUBJECT).schema == '"string"'


def test_not_found_errors_are_typed(registry):
    client = client_for(registry)
    with pytest.raises(SubjectNotFound) as err:
        client.latest_schema("nope-value")
    assert (err.value.status, err.value.error_code) == (404, 40401)
    assert err.value.server_message == "Subject 'nope-value' not found." and isinstance(err.value, ResourceError)
    assert "Subject 'nope-value' not found." in str(err.value)
    with pytest.raises(VersionNotFound) as err:
        client.schema_version(VALUE_SUBJECT, 9)
    assert err.value.error_code == 40402
    with pytest.raises(SubjectNotFound):
        client.versions("nope-value")
    assert client.subjects(deleted=True)
    assert registry.requests[-1].query == {"deleted": ["true"]}  # soft-deleted subjects are asked for
    with pytest.raises(SchemaNotFound):
        client._get("/schemas/ids/99")


def test_subject_names_are_url_encoded(schema_registry_double):  # noqa: F811
    schema_registry_double.register("odd/name value", '"string"')
    client = client_for(schema_registry_double)
    assert client.latest_schema("odd/name value").subject == "odd/name value"
    assert schema_registry_double.requests[-1].raw_path == "/subjects/odd%2Fname%20value/versions/latest"


def test_compatibility_subject_level_then_global_fallback(registry):
    client = client_for(registry)
    assert client.compatibility(VALUE_SUBJECT) == Compatibility("BACKWARD", "global")
    assert [r.path for r in registry.requests[-2:]] == [f"/config/{VALUE_SUBJECT}", "/config"]
    registry.set_compatibility("FULL_TRANSITIVE", VALUE_SUBJECT)
    assert client.compatibility(VALUE_SUBJECT) == Compatibility("FULL_TRANSITIVE", "subject")
    registry.set_compatibility("NONE")
    assert client.compatibility() == Compatibility("NONE", "global")
    assert client.compatibility(KEY_SUBJECT) == Compatibility("NONE", "global")
    registry.legacy_config_errors = True  # pre-7.0 registries answer 40401 there
    assert client.compatibility(KEY_SUBJECT) == Compatibility("NONE", "global")


def test_compatibility_other_errors_propagate(registry):
    registry.fail_next(count=10, status=500, error_code=50002, message="Register operation timed out")
    with pytest.raises(SchemaRegistryServerError) as err:
        client_for(registry, max_retries=1).compatibility(VALUE_SUBJECT)
    assert err.value.error_code == 50002 and not isinstance(err.value, CompatibilityNotConfigured)


def test_server_errors_are_retried_then_succeed(registry):
    registry.fail_next(2)
    sleep = SleepRecorder()
    assert client_for(registry, sleep=sleep, backoff=0.5, backoff_max=4).subjects()
    assert len(sleep.delays) == 2 and 0 <= sleep.delays[0] <= 0.5 and 0 <= sleep.delays[1] <= 1.0
    registry.fail_next(5)
    with pytest.raises(SchemaRegistryServerError) as err:
        client_for(registry, max_retries=2).subjects()
    assert (err.value.status, err.value.error_code) == (500, 50001)
    assert "Error while reading from the backend data store" in str(err.value)


def test_client_errors_are_not_retried(registry):
    sleep = SleepRecorder()
    before = len(registry.requests)
    with pytest.raises(SubjectNotFound):
        client_for(registry, sleep=sleep).latest_schema("nope-value")
    assert len(registry.requests) - before == 1 and sleep.delays == []


def test_unreachable_is_typed():
    double = SchemaRegistryDouble().start()
    url = double.url
    double.stop()
    sleep = SleepRecorder()
    with pytest.raises(SchemaRegistryUnreachable) as err:
        SchemaRegistryClient(url, max_retries=2, sleep=sleep, timeout=2).subjects()
    assert isinstance(err.value, Unreachable) and url in str(err.value) and len(sleep.delays) == 2


def test_resource_conveniences_and_defaults(registry):
    assert SchemaRegistryResource().url == SCHEMA_REGISTRY_URL.default
    resource = SchemaRegistryResource(url=registry.url)
    assert VALUE_SUBJECT in resource.subjects()
    assert resource.latest_schema(VALUE_SUBJECT).version == 2
    assert resource.compatibility(VALUE_SUBJECT).source == "global"


def test_password_never_leaks(registry, caplog):
    caplog.set_level(logging.DEBUG)
    registry.require_basic_auth("sr-user", SECRET)
    resource = SchemaRegistryResource(url=registry.url, username="sr-user", password=SECRET, backoff_seconds=0.001, max_retries=1)
    assert SECRET not in repr(resource) and SECRET not in str(resource)
    seen: list[BaseException] = []
    with resource.get_client() as client:
        registry.fail_next(1)
        assert client.subjects()  # success after a logged retry
        assert registry.requests[-1].basic_auth == ("sr-user", SECRET)
        with pytest.raises(SubjectNotFound) as err:
            client.latest_schema("nope-value")
        seen.append(err.value)
        registry.fail_next(5)
        with pytest.raises(SchemaRegistryServerError) as err:
            client.subjects()
        seen.append(err.value)

    registry.require_basic_auth("sr-user", "rotated")
    with pytest.raises(SchemaRegistryAuthError) as err:
        resource.get_client().subjects()
    assert err.value.status == 401
    seen.append(err.value)

    host = registry.url.removeprefix("http://")
    with pytest.raises(SchemaRegistryAuthError) as err:
        SchemaRegistryClient(f"http://sr-user:{SECRET}@{host}").subjects()
    seen.append(err.value)
    assert registry.requests[-1].basic_auth == ("sr-user", SECRET)

    registry.stop()
    with pytest.raises(SchemaRegistryUnreachable) as err:
        SchemaRegistryClient(f"http://sr-user:{SECRET}@{host}", max_retries=1, sleep=SleepRecorder()).subjects()
    seen.append(err.value)

    for exc in seen:
        text = " ".join([str(exc), repr(exc), *map(str, exc.args), str(exc.__cause__ or "")])
        assert SECRET not in text, text
    assert caplog.records and any("retry" in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text
