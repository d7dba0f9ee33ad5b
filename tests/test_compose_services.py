"""The services of compose/docker-compose.yml: healthchecks, dependencies that wait for health, named volumes and
the one named network, the seed's ports, pinned images each built once, the KRaft broker's listeners.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.compose_support import (
    COMPOSE_DIR,
    CP_VERSION,
    FAKE_ORACLE_IMAGE,
    ROOT,
    RUN_LAUNCHER_SERVICE,
    USER_CODE_SERVICE,
    _compose_config,
    _env_mapping,
    _filled_env_text,
)

pytestmark = pytest.mark.unit

KAFKA_VERSION = "3.9.0"
SEED_PORTS = {1521, 6379, 8081, 8083, 8088, 9021, 9092}
DAGSTER_UI_PORT = 3000


def _published_ports(service: dict) -> set[int]:
    out: set[int] = set()
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            out.add(int(p["published"]))
        else:
            parts = str(p).split("/")[0].split(":")
            out.add(int(parts[-2] if len(parts) >= 2 else parts[-1]))
    return out


def test_every_service_has_a_healthcheck(raw_compose):
    for name, service in raw_compose["services"].items():
        hc = service.get("healthcheck")
        assert hc and hc.get("test"), f"service {name} has no healthcheck"
        assert not hc.get("disable"), f"service {name} disables its healthcheck"
        assert hc["test"] != ["NONE"], f"service {name} disables its healthcheck"


def test_every_dependency_waits_for_health(raw_compose):
    services = raw_compose["services"]
    for name, service in services.items():
        deps = service.get("depends_on")
        if deps is None:
            continue
        assert isinstance(deps, dict), f"{name}: depends_on must be the long form with a condition"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            condition = (spec or {}).get("condition")
            allowed = {"service_healthy"}
            if services[dep].get("restart") in (None, "no"):
                allowed.add("service_completed_successfully")  # a one-shot init job
            assert condition in allowed, f"{name} -> {dep}: condition {condition!r}, expected service_healthy"


def test_named_volumes_and_explicitly_named_network(raw_compose, dagster_cfg):
    declared = raw_compose.get("volumes") or {}
    for name, service in raw_compose["services"].items():
        for v in service.get("volumes") or []:
            source = v["source"] if isinstance(v, dict) else str(v).split(":", 1)[0]
            if source.startswith((".", "/")):
                # bind mounts only for read-only config/scripts and the Docker socket
                assert source == "/var/run/docker.sock" or str(v).endswith(":ro"), f"{name}: bind mount {v}"
            else:
                assert source in declared, f"{name}: volume {source} is not a declared named volume"
        assert "network_mode" not in service, f"{name} leaves the compose network"
        assert "networks" not in service, f"{name} must stay on the default network (cdc_net)"

    networks = raw_compose["networks"]
    assert set(networks) == {"default"}
    net_name = networks["default"]["name"]
    assert dagster_cfg["run_launcher"]["config"]["network"] == net_name == "cdc_net"

    # the run containers mount the storage volume by its explicit name
    storage_volume = declared["dagster-storage"]["name"]
    mounts = dagster_cfg["run_launcher"]["config"]["container_kwargs"]["volumes"]
    assert any(m.split(":", 1)[0] == storage_volume for m in mounts)
    for svc in (RUN_LAUNCHER_SERVICE, USER_CODE_SERVICE, "dagster-webserver"):
        targets = [str(v).split(":")[1] for v in raw_compose["services"][svc]["volumes"] if "dagster-storage" in str(v)]
        assert targets == [m.split(":")[1] for m in mounts], f"{svc} mounts the storage volume elsewhere"


def test_ports_of_the_seed_plus_dagster_ui(resolved_compose):
    published = set()
    for service in resolved_compose["services"].values():
        published |= _published_ports(service)
    assert SEED_PORTS | {DAGSTER_UI_PORT} <= published
    assert 3000 in _published_ports(resolved_compose["services"]["dagster-webserver"])


def test_no_two_services_build_the_same_image_tag(resolved_compose):
    """Each locally built tag has exactly one `build:`; services that reuse it only name it, and never pull it."""
    services = resolved_compose["services"]
    builders: dict[str, list[str]] = {}
    for name, service in services.items():
        if "build" in service:
            assert service.get("image"), f"{name} builds an image without naming its tag"
            builders.setdefault(service["image"], []).append(name)
    assert builders, "no service builds anything: the check is vacuous"
    duplicated = {tag: names for tag, names in builders.items() if len(names) > 1}
    assert not duplicated, f"several services build the same tag: {duplicated}"
    # the control plane: one image, built once by the code server, reused by the webserver, the daemon and the runs
    dagster_image = services[USER_CODE_SERVICE]["image"]
    assert builders[dagster_image] == [USER_CODE_SERVICE]
    for svc in ("dagster-webserver", RUN_LAUNCHER_SERVICE):
        assert services[svc]["image"] == dagster_image and "build" not in services[svc]
        assert services[svc].get("pull_policy") == "never", f"{svc} would try to pull the local tag {dagster_image}"
    assert _env_mapping(services[USER_CODE_SERVICE])["DAGSTER_CURRENT_IMAGE"] == dagster_image
    assert not (COMPOSE_DIR / "Dockerfile_dagster").exists()


def test_images_are_pinned(raw_compose, resolved_compose):
    built_here = {s["image"] for s in raw_compose["services"].values() if "build" in s}
    for name, service in raw_compose["services"].items():
        image = service.get("image", "")
        if "build" in service or image in built_here:
            continue  # built here from pinned bases
        if name == "oracle":
            # heartu41/oracle19c publishes only `latest`: the user pins it by digest in .env (README.md)
            assert image.startswith("${ORACLE_IMAGE:?"), image
            assert resolved_compose["services"]["oracle"]["image"] == FAKE_ORACLE_IMAGE
            continue
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"{name}: image {image!r} is not pinned"
        if repo.startswith("confluentinc/"):
            assert tag == CP_VERSION, f"{name}: Confluent Platform must be {CP_VERSION}, got {tag}"


def test_confluent_platform_matches_the_local_kafka_version():
    pom = (ROOT / "stack" / "pom.xml").read_text()
    m = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    assert m and m.group(1) == KAFKA_VERSION, "the local stack's Kafka and CP 7.9.0 (Apache Kafka 3.9.0) diverge"


def test_kraft_broker_listeners(raw_compose):
    env = _env_mapping(raw_compose["services"]["broker"])
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "PLAINTEXT://broker:29092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "PLAINTEXT_HOST://${KAFKA_HOST_ADVERTISED_NAME:-localhost}:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")


def test_kafka_host_listener_advertises_the_configured_host(resolved_compose, tmp_path):
    env = _env_mapping(resolved_compose["services"]["broker"])
    assert "PLAINTEXT_HOST://localhost:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")  # .env.example default
    env_file = tmp_path / ".env"
    env_file.write_text(_filled_env_text(KAFKA_HOST_ADVERTISED_NAME="kafka.example.internal"))
    proc = _compose_config(env_file)
    assert proc.returncode == 0, proc.stderr
    listeners = _env_mapping(yaml.safe_load(proc.stdout)["services"]["broker"])["KAFKA_ADVERTISED_LISTENERS"]
    assert listeners.split(",") == ["PLAINTEXT://broker:29092", "PLAINTEXT_HOST://kafka.example.internal:9092"]
