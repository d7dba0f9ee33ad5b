"""A connector's desired state, computed once per lineage node, and the config fragments every
connector shares (converters, secret placeholders)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_defs.core.nodes import LineageNode, asset_key_component

AVRO_CONVERTER = "io.confluent.connect.avro.AvroConverter"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
_PLACEHOLDER = re.compile(r"\$\{env:([A-Z_][A-Z0-9_]*)\}")


def env_placeholder(env_name: str) -> str:
    """The value a config holds for a secret: the worker's EnvVarConfigProvider resolves it, so the
    secret never travels through the REST API, the config topic or this control plane."""
    return "${env:" + env_name + "}"


def placeholder_vars(config: Mapping[str, Any]) -> dict[str, str]:
    """{config key: environment variable} for every value that is a provider placeholder."""
    out = {}
    for k, v in config.items():
        m = _PLACEHOLDER.fullmatch(str(v))
        if m:
            out[k] = m.group(1)
    return out


def converter_config(spec: Any, side: str, fmt: str) -> dict[str, str]:
    """Converter settings for ``side`` ('key' or 'value') writing/reading format ``fmt``
    (AVRO, JSON or KAFKA)."""
    if fmt == "AVRO":
        return {
            f"{side}.converter": AVRO_CONVERTER,
            f"{side}.converter.schema.registry.url": spec.endpoints.schema_registry_url,
        }
    if fmt == "JSON":
        return {f"{side}.converter": JSON_CONVERTER, f"{side}.converter.schemas.enable": "false"}
    return {f"{side}.converter": STRING_CONVERTER}


@dataclass(frozen=True)
class PreTopic:
    """A topic the connector needs before its first record (e.g. a one-partition redo log)."""

    name: str
    partitions: int
    replication: int
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectorProps:
    """Everything the control plane knows about one connector, from the spec."""

    name: str
    role: str  # source | sink
    config: Mapping[str, str]  # as Connect stores it, ``name`` included; secrets as placeholders
    topics: tuple[str, ...]  # what it writes (source) or reads (sink)
    # plugin classes with the versions the config is written for: {class: (min, below)}
    compatible: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    pre_topics: tuple[PreTopic, ...] = ()
    initial_state: str | None = None  # RUNNING | STOPPED (KIP-980), only when creating

    @property
    def secret_keys(self) -> frozenset[str]:
        return frozenset(placeholder_vars(self.config))

    @property
    def secret_env(self) -> frozenset[str]:
        return frozenset(placeholder_vars(self.config).values())

    @property
    def plugin_classes(self) -> list[str]:
        return sorted(
            {
                v
                for k, v in self.config.items()
                if k in ("connector.class", "key.converter", "value.converter", "header.converter")
                or re.fullmatch(r"(transforms|predicates)\.[^.]+\.type", k)
            }
        )


def connector_node(props: ConnectorProps, *, description: str, metadata: Mapping[str, Any], code_version: str) -> LineageNode:
    """The lineage node of a connector (asset key ``connect/<name>``)."""
    return LineageNode(
        key=("connect", asset_key_component(props.name)),
        kind=f"{props.role}_connector",
        name=props.name,
        group="connect",
        system="connect",
        desired=props,
        metadata={
            "connector": props.name,
            "connector_class": props.config.get("connector.class"),
            **metadata,
            "config": dict(props.config),
        },
        code_version=code_version,
        description=description,
        kinds=frozenset({"kafka", "connect"}),
    )
