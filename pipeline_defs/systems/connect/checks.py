"""Connector checks: plugins installed at a compatible version, RUNNING, config equal to the spec,
sink lag within bound. Each reads ``node.desired`` (ConnectorProps), never the spec."""

import dagster as dg

from pipeline_defs.core.nodes import LineageNode
from pipeline_defs.systems.connect.props import ConnectorProps
from pipeline_defs.systems.connect.provision import connector_metadata
from resources.connect import config_diff, connector_health
from resources.kafka import KafkaClient


def _vtuple(v: str) -> tuple[int, ...]:
    out = []
    for part in v.replace("-", ".").split("."):
        if not part.isdigit():
            break
        out.append(int(part))
    return tuple(out)


def version_compatible(version: str, bounds: tuple[str, str | None] | None) -> bool:
    lo, hi = bounds or ("0", None)
    v = _vtuple(version)
    return v >= _vtuple(lo) and (hi is None or v < _vtuple(hi))


def _plugins_result(props: ConnectorProps, installed: dict[str, str]) -> dg.AssetCheckResult:
    rows, ok = [], True
    for c in props.plugin_classes:
        version = installed.get(c)
        good = version is not None and version_compatible(version, props.compatible.get(c))
        ok &= good
        rows.append(dg.TableRecord({"class": c, "installed": version or "(missing)", "compatible": good}))
    return dg.AssetCheckResult(
        passed=ok,
        metadata={
            "plugins": dg.MetadataValue.table(
                rows,
                schema=dg.TableSchema(columns=[dg.TableColumn("class"), dg.TableColumn("installed"), dg.TableColumn("compatible", "bool")]),
            )
        },
    )


def _running_result(name: str, entry: dict | None) -> dg.AssetCheckResult:
    status = (entry or {}).get("status")
    if not status:  # a missing connector is a failed check, not a crashed run
        return dg.AssetCheckResult(passed=False, metadata={"error": f"connector {name} does not exist"})
    md = connector_metadata(status)
    traces = [f"{f['instance']}:\n{f['trace'][:2000]}" for f in connector_health(status)[1]]
    if traces:
        md["traces"] = dg.MetadataValue.md("\n\n".join(f"```\n{t}\n```" for t in traces))
    md["failed_traces"] = dg.MetadataValue.json(md["failed_traces"])
    return dg.AssetCheckResult(passed=md["state"] == "RUNNING", metadata=md)


def _drift_result(props: ConnectorProps, entry: dict | None) -> dg.AssetCheckResult:
    live = ((entry or {}).get("info") or {}).get("config")
    if live is None:
        return dg.AssetCheckResult(passed=False, metadata={"problem": "connector does not exist"})
    diff = config_diff(props.config, live)
    return dg.AssetCheckResult(passed=not diff, metadata={"drifted_keys": dg.MetadataValue.json(diff), "drifted": len(diff)})


def connectors_checks(nodes: list[LineageNode]) -> dg.AssetChecksDefinition:
    """Every connector's checks in ONE definition that reads Connect once per run: one listing
    (connectors_expanded: status and config of all) and one plugin list, not three requests per connector.
    One definition instead of ~4 per connector also keeps the code location's load time flat: at 400
    connectors the separate definitions took longer to build than everything else together."""
    specs, props_of = [], {}
    for node in nodes:
        key = dg.AssetKey(list(node.key))
        props: ConnectorProps = node.desired
        props_of[key] = props
        specs += [
            dg.AssetCheckSpec(
                "plugins_installed",
                asset=key,
                description="the connector, converter and transform classes it uses are installed at a compatible version",
            ),
            dg.AssetCheckSpec("running", asset=key, description="the connector and every task are RUNNING"),
            dg.AssetCheckSpec(
                "config_matches_spec", asset=key, description="the live config equals the spec (drift); secrets compare as placeholders"
            ),
        ]
        if props.role == "sink":
            specs.append(
                dg.AssetCheckSpec(
                    "consumer_lag",
                    asset=key,
                    description=f"the sink's consumer group connect-{props.name} has no lag past the bound (the health sensor also watches its growth)",
                )
            )
        specs += [
            dg.AssetCheckSpec(
                "redo_log_topic_single_partition", asset=key, description=f"the redo-log topic {pre.name} exists with exactly one partition"
            )
            for pre in props.pre_topics
            if pre.partitions == 1
        ]

    @dg.multi_asset_check(specs=specs, name="connector_checks", can_subset=True, required_resource_keys={"connect", "kafka"})
    def connector_checks(context: dg.AssetCheckExecutionContext):
        wanted = context.selected_asset_check_keys
        names = {k.name for k in wanted}
        client = context.resources.connect.get_client()
        listing = client.connectors_expanded() if names & {"running", "config_matches_spec"} else {}
        installed = (
            {p["class"]: p.get("version", "") for p in client.plugins(connectors_only=False)} if "plugins_installed" in names else {}
        )
        kafka = context.resources.kafka.get_client() if names & {"consumer_lag", "redo_log_topic_single_partition"} else None
        for k in sorted(wanted, key=lambda k: (k.asset_key.path, k.name)):
            props, key = props_of[k.asset_key], k.asset_key
            if k.name == "plugins_installed":
                res = _plugins_result(props, installed)
            elif k.name == "running":
                res = _running_result(props.name, listing.get(props.name))
            elif k.name == "config_matches_spec":
                res = _drift_result(props, listing.get(props.name))
            elif k.name == "consumer_lag":
                res = _lag_result(props.name, kafka)
            else:
                topic = next(p.name for p in props.pre_topics if p.partitions == 1)
                info = kafka.describe_topic(topic)
                parts = info.partitions if info else 0
                res = dg.AssetCheckResult(passed=parts == 1, metadata={"topic": topic, "partitions": parts})
            yield dg.AssetCheckResult(asset_key=key, check_name=k.name, passed=res.passed, metadata=res.metadata, severity=res.severity)

    return connector_checks


def _lag_result(name: str, kafka: KafkaClient) -> dg.AssetCheckResult:
    from pipeline_defs.systems.connect.healing import HealthPolicy

    bound = HealthPolicy.from_env().lag_restart_bound
    lag = kafka.consumer_group_lag(f"connect-{name}")
    return dg.AssetCheckResult(
        passed=lag.total <= bound,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"lag": lag.total, "bound": bound, "partitions": len(lag.per_partition)},
    )
