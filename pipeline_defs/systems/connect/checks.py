"""Connector checks: plugins installed at a compatible version, RUNNING, config equal to the spec,
sink lag within bound. Each reads ``node.desired`` (ConnectorProps), never the spec."""


import dagster as dg

from pipeline_defs.core.nodes import LineageNode
from pipeline_defs.systems.connect.props import ConnectorProps
from pipeline_defs.systems.connect.provision import connector_metadata
from resources.connect import KafkaConnectResource, config_diff, connector_health
from resources.kafka import KafkaResource


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


def connector_checks(node: LineageNode) -> list[dg.AssetChecksDefinition]:
    key = dg.AssetKey(list(node.key))
    props: ConnectorProps = node.desired
    name = props.name
    classes = props.plugin_classes
    checks = []

    @dg.asset_check(asset=key, name="plugins_installed", description="the connector, converter and transform classes it uses are installed at a compatible version")
    def plugins(connect: KafkaConnectResource) -> dg.AssetCheckResult:
        installed = {p["class"]: p.get("version", "") for p in connect.get_client().plugins(connectors_only=False)}
        rows, ok = [], True
        for c in classes:
            version = installed.get(c)
            good = version is not None and version_compatible(version, props.compatible.get(c))
            ok &= good
            rows.append(dg.TableRecord({"class": c, "installed": version or "(missing)", "compatible": good}))
        return dg.AssetCheckResult(passed=ok, metadata={"plugins": dg.MetadataValue.table(
            rows, schema=dg.TableSchema(columns=[dg.TableColumn("class"), dg.TableColumn("installed"), dg.TableColumn("compatible", "bool")]))})
    checks.append(plugins)

    @dg.asset_check(asset=key, name="running", description="the connector and every task are RUNNING")
    def running(connect: KafkaConnectResource) -> dg.AssetCheckResult:
        client = connect.get_client()
        try:
            status = client.status(name)
        except Exception as e:  # a missing connector is a failed check, not a crashed run
            return dg.AssetCheckResult(passed=False, metadata={"error": str(e)})
        md = connector_metadata(status)
        traces = [f"{f['instance']}:\n{f['trace'][:2000]}" for f in connector_health(status)[1]]
        if traces:
            md["traces"] = dg.MetadataValue.md("\n\n".join(f"```\n{t}\n```" for t in traces))
        md["failed_traces"] = dg.MetadataValue.json(md["failed_traces"])
        return dg.AssetCheckResult(passed=md["state"] == "RUNNING", metadata=md)
    checks.append(running)

    @dg.asset_check(asset=key, name="config_matches_spec", description="the live config equals the spec (drift); secrets compare as placeholders")
    def drift(connect: KafkaConnectResource) -> dg.AssetCheckResult:
        live = connect.get_client().get_config(name)
        if live is None:
            return dg.AssetCheckResult(passed=False, metadata={"problem": "connector does not exist"})
        diff = config_diff(props.config, live)
        return dg.AssetCheckResult(passed=not diff, metadata={"drifted_keys": dg.MetadataValue.json(diff), "drifted": len(diff)})
    checks.append(drift)

    if props.role == "sink":
        @dg.asset_check(asset=key, name="consumer_lag",
                        description=f"the sink's consumer group connect-{name} has no lag past the bound (the health sensor also watches its growth)")
        def lag_check(kafka: KafkaResource) -> dg.AssetCheckResult:
            from pipeline_defs.systems.connect.healing import HealthPolicy

            bound = HealthPolicy.from_env().lag_restart_bound
            lag = kafka.get_client().consumer_group_lag(f"connect-{name}")
            return dg.AssetCheckResult(passed=lag.total <= bound, severity=dg.AssetCheckSeverity.WARN,
                                       metadata={"lag": lag.total, "bound": bound, "partitions": len(lag.per_partition)})
        checks.append(lag_check)

    checks += [_single_partition_check(key, pre.name) for pre in props.pre_topics if pre.partitions == 1]
    return checks


def _single_partition_check(key: dg.AssetKey, topic: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=key, name="redo_log_topic_single_partition",
                    description=f"the redo-log topic {topic} exists with exactly one partition")
    def redo_check(kafka: KafkaResource) -> dg.AssetCheckResult:
        info = kafka.get_client().describe_topic(topic)
        parts = info.partitions if info else 0
        return dg.AssetCheckResult(passed=parts == 1, metadata={"topic": topic, "partitions": parts})
    return redo_check
