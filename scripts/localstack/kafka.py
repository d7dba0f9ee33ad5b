"""Kafka 3.9 in KRaft mode: one process that is broker and controller."""

from __future__ import annotations

import base64
import subprocess
import uuid

from . import jvm
from .config import HOST, PORTS, RUN, StackError, endpoints
from .procs import Service, port_open, spawn


def ready() -> bool:
    if not port_open(PORTS["kafka"]):
        return False
    try:
        from confluent_kafka.admin import AdminClient
    except ImportError:  # run outside the venv: an open port is the best we can tell
        return True
    md = AdminClient({"bootstrap.servers": endpoints(secrets=False)["KAFKA_BOOTSTRAP_SERVERS"]}).list_topics(timeout=3)
    return bool(md.brokers)


def _cluster_id() -> str:
    # Kafka's base64 UUID form, as `kafka-storage random-uuid` prints it; like Kafka's Uuid.randomUuid,
    # never one starting with '-' (the storage tool's argument parser would take it for an option)
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def launch() -> None:
    data = RUN / "kafka-data"
    props = RUN / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{HOST}:{PORTS['controller']}",
                f"listeners=PLAINTEXT://{HOST}:{PORTS['kafka']},CONTROLLER://{HOST}:{PORTS['controller']}",
                f"advertised.listeners=PLAINTEXT://{HOST}:{PORTS['kafka']}",
                "inter.broker.listener.name=PLAINTEXT",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={data}",
                "num.partitions=1",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=3",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=true",
                "",
            ]
        )
    )
    if not (data / "meta.properties").exists():
        proc = subprocess.run(
            jvm.java("256m", "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(props), "--ignore-formatted"),
            check=False,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{proc.stdout}\n{proc.stderr}")
    spawn(SERVICE, jvm.java("768m", "kafka.Kafka", str(props)))


SERVICE = Service(
    "kafka", probe=ready, launch=launch, timeout=90, what=f"metadata from {HOST}:{PORTS['kafka']}", ports=("kafka", "controller")
)
