"""The LOCAL profile's pipeline (pipeline.local.yaml) on the real session stack, under names of its own.

`LocalPipeline` copies pipeline.local.yaml with a tag in every name that other tests or the README's main job
could share: schema, topic prefix (so the CDC topics), CDC role, publication, slot prefix and slot names,
connector names, the aggregate (so its Flink job, consumer group, output topic and Redis keyspace) and the
sink. It builds the Definitions with resources pointing at the stack, runs jobs in-process on one ephemeral
instance, and on `close()` removes everything it created: connectors, Flink jobs, slots, publication, schema,
role, topics, consumer groups and Redis keys.

Nothing here is a double: every call reaches the stack's PostgreSQL, Kafka Connect (Debezium + our Redis
sink), Kafka, Flink (JobManager + SQL Gateway) and Redis.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from pipeline_defs.definitions import build_definitions
from pipeline_defs.spec import parse_spec
from pipeline_defs.systems.postgres.names import cdc_topic, heartbeat_topic
from pipeline_defs.systems.redis.config import offsets_key_of

REPO = Path(__file__).resolve().parents[2]
LOCAL_SPEC = REPO / "pipeline.local.yaml"
AGGREGATE = "USER_AGGREGATE_EVENTS"


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 90.0, every: float = 0.5) -> Any:
    """Poll `probe` until it returns something truthy; return it. On timeout raise, showing the last value.
    Callers assert on the returned state once, after the wait."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except Exception as e:  # a system still settling answers in many ways
            last = e
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f}s; last: {last!r}")
        time.sleep(every)


def renamed_spec(tag: str, *, fixed_initial_time: bool = True) -> dict:
    """pipeline.local.yaml with every shared name made unique by `tag` (lower-case letters and digits);
    `fixed_initial_time`: the initial click's CURRENT_TIMESTAMP becomes an hour back (see below)."""
    doc = yaml.safe_load(LOCAL_SPEC.read_text())
    src = doc["source"]
    src["schema"] = f"e2e_{tag}"
    src["topic_prefix"] = f"e2e{tag}"
    src["role"]["name"] = f"e2e_{tag}_reader"
    src["publication"] = f"e2e_{tag}_pub"
    src["slot_prefix"] = f"e2e_{tag}_"
    for c in src["connectors"]:
        c["name"] = f"e2e-{tag}-{c['name']}"
        c["slot_name"] = f"e2e_{tag}_{c['slot_name'].removeprefix('cdc_')}"
    agg = f"E2E_{tag.upper()}_EVENTS"
    for o in doc["engine"]["objects"]:
        if o["name"] == AGGREGATE:
            o["name"] = agg
    for s in doc["sinks"]:
        s["name"] = f"e2e-{tag}-{s['name']}"
        if s["object"] == AGGREGATE:
            s["object"] = agg
    # the initial click's event time is fixed an hour back, so the stream time (the largest event time
    # seen) starts there and the tests' rows a few minutes back are never late
    hour_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(tzinfo=None, microsecond=0)
    for t in src["tables"] if fixed_initial_time else []:
        for row in t.get("initial_rows", []):
            if row.get("EVENTTIMESTAMP") == "CURRENT_TIMESTAMP":
                row["EVENTTIMESTAMP"] = hour_ago
    return doc


def pg_admin(stack: dict[str, str], *, autocommit: bool = True):
    """A psycopg connection to the stack's PostgreSQL as its admin."""
    import psycopg

    return psycopg.connect(
        host=stack["POSTGRES_HOST"],
        port=int(stack["POSTGRES_PORT"]),
        dbname=stack["POSTGRES_DB"],
        user=stack["POSTGRES_ADMIN_USER"],
        password=stack["POSTGRES_ADMIN_PASSWORD"],
        autocommit=autocommit,
    )


class LocalPipeline:
    """One tagged copy of the local pipeline; `doc` is the YAML document of the current spec."""

    def __init__(self, stack: dict[str, str], tmp: Path, tag: str | None = None, doc: dict | None = None):
        self.stack = stack
        self.tag = tag or uuid.uuid4().hex[:6]
        self.tmp = tmp
        self.instance = dg.DagsterInstance.ephemeral()
        # every name any spec used here names, for close()
        self.created_connectors: set[str] = set()
        self.aggregates: set[str] = set()
        self.keyspaces: set[str] = set()
        self.sinks: set[str] = set()
        self.slots: set[str] = set()
        self.tables: set[tuple[str, str]] = set()  # (schema, table)
        self.topics: set[str] = set()
        self.roles: set[str] = set()
        self.publications: set[str] = set()
        self.use(doc if doc is not None else renamed_spec(self.tag))

    # ------------------------------------------------------------------ spec and definitions
    @property
    def schema(self) -> str:
        return self.doc["source"]["schema"]

    @property
    def aggregate(self) -> str:
        return next(o["name"] for o in self.doc["engine"]["objects"] if "aggregate" in o)

    def key(self, name: str, aggregate: str | None = None) -> str:
        return f"{aggregate or self.aggregate}:{name}"

    def edited(self, edit: Callable[[dict], None]) -> dict:
        doc = copy.deepcopy(self.doc)
        edit(doc)
        return doc

    def write(self, doc: dict, name: str) -> Path:
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def build(self, doc: dict, name: str, **resources: Any) -> tuple[Any, dg.Definitions]:
        """(spec, definitions) of `doc`, loaded like the product loads it (the stack's CDC_CONNECT_* overrides
        apply); `resources` replace the stack's. What it names is cleaned up by close()."""
        spec_file = self.write(doc, name)
        spec = parse_spec(spec_file.read_text(), str(spec_file), env=os.environ)
        self.created_connectors |= {c.name for c in spec.source.connectors} | {s.name for s in spec.sinks}
        self.aggregates |= {o.name for o in spec.engine.aggregates}
        self.keyspaces |= {o.output_topic for o in spec.engine.aggregates}
        self.sinks |= {s.name for s in spec.sinks}
        src = spec.source
        self.slots |= {c.slot_name for c in src.connectors}
        self.tables |= {(src.schema_name, t.name) for t in src.tables}
        self.topics |= {cdc_topic(src, t) for t in src.tables} | {heartbeat_topic(src)} | self.keyspaces
        self.roles.add(src.role.name)
        self.publications.add(src.publication)
        return spec, build_definitions(spec, self.resources(**resources))

    def use(self, doc: dict, name: str = "pipeline.local") -> dg.Definitions:
        """Make `doc` the current spec and rebuild the definitions."""
        self.doc = doc
        self.spec, self.defs = self.build(doc, name)
        return self.defs

    def resources(self, **override: Any) -> dict[str, Any]:
        from resources.connect import KafkaConnectResource
        from resources.flink import FlinkResource
        from resources.kafka import KafkaResource
        from resources.postgres import PostgresResource
        from resources.redis_json import RedisResource

        s = self.stack
        out = {
            "postgres": PostgresResource(
                host=s["POSTGRES_HOST"],
                port=int(s["POSTGRES_PORT"]),
                dbname=s["POSTGRES_DB"],
                user=s["POSTGRES_ADMIN_USER"],
                password=dg.EnvVar("POSTGRES_ADMIN_PASSWORD"),
            ),
            "connect": KafkaConnectResource(url=s["KAFKA_CONNECT_URL"], backoff_seconds=0.2),
            "kafka": KafkaResource(bootstrap_servers=s["KAFKA_BOOTSTRAP_SERVERS"]),
            "flink": FlinkResource(gateway_url=s["FLINK_GATEWAY_URL"], rest_url=s["FLINK_REST_URL"]),
            "redis": RedisResource(url=s["REDIS_URL"]),
        }
        out.update(override)
        return out

    # ------------------------------------------------------------------ running
    def run(
        self,
        job: str,
        defs: dg.Definitions | None = None,
        run_config: dict | None = None,
    ) -> dg.ExecuteInProcessResult:
        return (
            (defs or self.defs)
            .resolve_job_def(job)
            .execute_in_process(instance=self.instance, raise_on_error=False, run_config=run_config or {})
        )

    # ------------------------------------------------------------------ direct access to the systems
    def pg(self):
        return pg_admin(self.stack)

    def sql(self, *statements: tuple[str, list | tuple] | str) -> None:
        """Run statements in one transaction (placeholders %s)."""
        with self.pg() as conn, conn.transaction(), conn.cursor() as cur:
            for st in statements:
                q, p = (st, None) if isinstance(st, str) else st
                cur.execute(q, p)

    def redis(self):
        import redis

        return redis.Redis.from_url(self.stack["REDIS_URL"], decode_responses=True)

    def docs(self, aggregate: str | None = None) -> dict[str, dict]:
        """Every document of a keyspace, by group value."""
        import json

        r = self.redis()
        prefix = f"{aggregate or self.aggregate}:"
        keys = sorted(r.scan_iter(match=prefix + "*", count=1000))
        return {k[len(prefix) :]: json.loads(r.execute_command("JSON.GET", k)) for k in keys}

    def connect(self):
        from resources.connect import KafkaConnectClient

        return KafkaConnectClient(self.stack["KAFKA_CONNECT_URL"])

    def flink_jobs(self):
        from resources.flink_jobs import FlinkJobsClient

        return FlinkJobsClient(self.stack["FLINK_REST_URL"])

    def our_jobs(self, aggregate: str | None = None, states: tuple[str, ...] = ("RUNNING",)) -> list:
        from pipeline_defs.systems.flink.sql import parse_job_name

        with self.flink_jobs() as jobs:
            return [
                j
                for j in jobs.overview()
                if (p := parse_job_name(j.name)) is not None
                and p.object_name == (aggregate or self.aggregate)
                and (not states or j.state in states)
            ]

    def sink_lag(self, sink: str | None = None) -> int | None:
        from resources.kafka import KafkaClient

        name = sink or next(s["name"] for s in self.doc["sinks"])
        with KafkaClient(self.stack["KAFKA_BOOTSTRAP_SERVERS"]) as kc:
            lag = kc.consumer_group_lag(f"connect-{name}")
            return lag.total if lag.per_partition else None

    # ------------------------------------------------------------------ clean-up
    def close(self) -> list[str]:
        """Remove everything this pipeline created; returns what could not be removed (for the report)."""
        problems: list[str] = []

        def attempt(what: str, fn: Callable[[], Any]) -> None:
            try:
                fn()
            except Exception as e:  # clean-up goes on; the caller reports what was left
                problems.append(f"{what}: {e}")

        with self.connect() as c:
            for name in sorted(self.created_connectors):
                attempt(f"connector {name}", lambda n=name: c.delete(n))
        with self.flink_jobs() as jobs:
            for agg in sorted(self.aggregates):
                for j in self.our_jobs(agg, states=("RUNNING", "CREATED", "INITIALIZING", "RESTARTING")):
                    attempt(f"Flink job {j.jid}", lambda jid=j.jid: jobs.cancel(jid))

        def drop_postgres() -> None:
            with self.pg() as conn:
                slots = sorted(self.slots)
                # the connectors are gone; a walsender may take a moment to notice
                wait_until(
                    "slots released",
                    lambda: not conn.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = ANY(%s) AND active", [slots]).fetchall(),
                    timeout=30,
                )
                for (slot,) in conn.execute("SELECT slot_name FROM pg_replication_slots WHERE slot_name = ANY(%s)", [slots]).fetchall():
                    conn.execute("SELECT pg_drop_replication_slot(%s)", [slot])
                for pub in self.publications:
                    conn.execute(f'DROP PUBLICATION IF EXISTS "{pub}"')
                for schema, table in sorted(self.tables):
                    conn.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')
                for schema in {sc for sc, _ in self.tables} - {"public"}:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                for role in self.roles:
                    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                        conn.execute(f'DROP OWNED BY "{role}"')
                        conn.execute(f'DROP ROLE "{role}"')

        attempt("PostgreSQL objects", drop_postgres)

        def drop_kafka() -> None:
            from confluent_kafka.admin import AdminClient

            admin = AdminClient({"bootstrap.servers": self.stack["KAFKA_BOOTSTRAP_SERVERS"]})
            topics = [t for t in admin.list_topics(timeout=10).topics if t in self.topics]
            if topics:
                for f in admin.delete_topics(topics, operation_timeout=30).values():
                    f.result()
            groups = [f"connect-{s}" for s in self.sinks] + [f"cdc-flink-{a}" for a in self.aggregates]
            for f in admin.delete_consumer_groups(groups, request_timeout=15).values():
                # a group never created (or still settling) is no leftover of ours
                with contextlib.suppress(Exception):
                    f.result()

        attempt("Kafka topics", drop_kafka)

        def drop_redis() -> None:
            r = self.redis()
            for space in self.keyspaces:
                for k in list(r.scan_iter(match=f"{space}:*", count=1000)):
                    r.delete(k)
                r.delete(offsets_key_of(space))  # the sink's replay guard

        attempt("Redis keys", drop_redis)
        return problems
