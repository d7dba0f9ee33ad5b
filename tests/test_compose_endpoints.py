"""The wiring between resources/endpoints.py, compose/docker-compose.yml and compose/.env.example: every endpoint
default names a compose service exposing that port, and the compose defaults are the endpoint defaults.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from resources import endpoints
from tests.compose_support import RUN_LAUNCHER_SERVICE, _env_mapping

pytestmark = pytest.mark.unit


def _container_ports(service: dict) -> set[int]:
    """Container-side ports a service publishes (`ports`) or exposes (`expose`), any syntax."""
    ports: set[int] = set()
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            ports.add(int(p["target"]))
        else:
            ports.add(int(str(p).split("/")[0].rsplit(":", 1)[-1]))
    for p in service.get("expose") or []:
        ports.add(int(str(p).split("/")[0]))
    return ports


def _endpoint_defaults() -> dict[str, tuple[str, int]]:
    """setting env name -> (host, port) for every endpoints.py default that names a host and port."""
    out: dict[str, tuple[str, int]] = {}
    for s in endpoints.ALL_SETTINGS:
        d = s.default
        if "://" in d:
            u = urlsplit(d)
            port = u.port or {"http": 80, "https": 443, "redis": 6379}[u.scheme]
            out[s.env] = (u.hostname, port)
        elif re.fullmatch(r"[A-Za-z0-9_.-]+:\d+", d):
            host, port = d.rsplit(":", 1)
            out[s.env] = (host, int(port))
    out["ORACLE_HOST"] = (endpoints.ORACLE_HOST.default, int(endpoints.ORACLE_PORT.default))
    return out


def test_every_endpoint_default_is_a_compose_service_exposing_that_port(raw_compose):
    services = raw_compose["services"]
    defaults = _endpoint_defaults()
    # not vacuous: every system of the pipeline is covered
    assert {
        "KAFKA_BOOTSTRAP_SERVERS",
        "KAFKA_CONNECT_URL",
        "KSQLDB_URL",
        "SCHEMA_REGISTRY_URL",
        "REDIS_URL",
        "ORACLE_HOST",
    } <= set(defaults)
    for env_name, (host, port) in defaults.items():
        assert host in services, f"{env_name}: default host {host!r} is not a compose service"
        service = services[host]
        exposed = _container_ports(service)
        env = _env_mapping(service)
        listeners = ",".join(filter(None, [env.get("KAFKA_ADVERTISED_LISTENERS"), env.get("KAFKA_LISTENERS")]))
        advertised = {int(p) for h, p in re.findall(r"//([^:,]+):(\d+)", listeners) if h == host}
        assert port in exposed or port in advertised, (
            f"{env_name}: service {host} does not expose port {port} (ports {sorted(exposed)}, listeners {listeners!r})"
        )
    # Kafka clients inside the network use the internal listener
    broker_env = _env_mapping(services["broker"])
    assert f"PLAINTEXT://{endpoints.KAFKA_BOOTSTRAP_SERVERS.default}" in broker_env["KAFKA_ADVERTISED_LISTENERS"]
    # the Oracle service name is the database's SID/CDB service
    assert _env_mapping(services["oracle"])["ORACLE_SID"] == endpoints.ORACLE_SERVICE_NAME.default


def test_env_example_and_compose_defaults_equal_the_endpoint_defaults(resolved_compose, env_example):
    daemon_env = _env_mapping(resolved_compose["services"][RUN_LAUNCHER_SERVICE])
    for s in endpoints.ALL_SETTINGS:
        assert env_example.get(s.env) == s.default, f".env.example {s.env} != endpoints.py default {s.default!r}"
        assert daemon_env.get(s.env) == s.default, f"daemon {s.env}={daemon_env.get(s.env)!r}, expected {s.default!r}"
