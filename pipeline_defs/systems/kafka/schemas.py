"""Avro topics: the connectors register their schemas in Schema Registry (TopicNameStrategy:
subjects ``<topic>-key`` / ``<topic>-value``); a consumer such as ksqlDB can only read the topic
when they are there and the subject's compatibility lets the connector evolve its schema."""

from __future__ import annotations

import dagster as dg

from pipeline_defs.core.nodes import LineageNode
from resources.schema_registry import SchemaRegistryResource, SubjectNotFound

# levels under which an added nullable column (the usual table change) keeps readers working
EVOLVABLE = {"BACKWARD", "BACKWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}


def schema_checks(node: LineageNode) -> list[dg.AssetChecksDefinition]:
    sides = node.desired.avro_sides
    if not sides:
        return []
    topic = node.name
    subjects = [f"{topic}-{side}" for side in sides]

    @dg.asset_check(
        asset=dg.AssetKey(list(node.key)),
        name="schemas_registered",
        description=f"Schema Registry holds {', '.join(subjects)} (Avro) at an evolvable compatibility level",
    )
    def schemas_registered(schema_registry: SchemaRegistryResource) -> dg.AssetCheckResult:
        client = schema_registry.get_client()
        rows, problems = [], []
        for subject in subjects:
            try:
                latest = client.latest_schema(subject)
            except SubjectNotFound:
                problems.append(f"{subject} is not registered (has the connector written a record yet?)")
                rows.append(dg.TableRecord({"subject": subject, "version": 0, "compatibility": ""}))
                continue
            level = client.compatibility(subject).level
            if level not in EVOLVABLE:
                problems.append(f"{subject} compatibility is {level}; an added column would be refused or break readers")
            rows.append(dg.TableRecord({"subject": subject, "version": latest.version, "compatibility": level}))
        md = {
            "subjects": dg.MetadataValue.table(
                rows,
                schema=dg.TableSchema(
                    columns=[dg.TableColumn("subject"), dg.TableColumn("version", "int"), dg.TableColumn("compatibility")]
                ),
            )
        }
        if problems:
            md["problem"] = "; ".join(problems)
        return dg.AssetCheckResult(passed=not problems, metadata=md)

    return [schemas_registered]
