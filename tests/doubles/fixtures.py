"""pytest plugin: fixtures for the HTTP test doubles. Enable with
`pytest_plugins = ["tests.doubles.fixtures"]` in the root conftest."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.doubles.ksqldb_server import KsqlDbDouble
from tests.doubles.schema_registry_server import SchemaRegistryDouble


@pytest.fixture
def ksqldb_double() -> Iterator[KsqlDbDouble]:
    """A fresh, ready ksqlDB double (empty metastore) per test."""
    with KsqlDbDouble() as double:
        yield double


@pytest.fixture
def ksqldb_kafka_double(stack) -> Iterator[KsqlDbDouble]:
    """A fresh ksqlDB double in Kafka-backed mode against the local stack's broker: real topics,
    the windowed count aggregate runs on a thread (see tests/doubles/ksql_windowed_aggregation.py). Its
    threads are stopped at the end of the test."""
    with KsqlDbDouble(kafka_bootstrap=stack["KAFKA_BOOTSTRAP_SERVERS"]) as double:
        yield double


@pytest.fixture
def schema_registry_double() -> Iterator[SchemaRegistryDouble]:
    """A fresh Schema Registry double (no subjects, global BACKWARD) per test."""
    with SchemaRegistryDouble() as double:
        yield double


@pytest.fixture
def oracle_redo_dir(tmp_path: Path) -> Path:
    """Where the Oracle double appends redo.jsonl: $CDC_ORACLE_DOUBLE_DIR when set (the directory the
    Connect worker's CDC source double tails), else a fresh temporary directory."""
    configured = os.environ.get("CDC_ORACLE_DOUBLE_DIR", "").strip()
    path = Path(configured) if configured else tmp_path / "oracle-redo"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def oracle_redo_db(oracle_redo_dir: Path) -> Iterator[Any]:
    """Like `oracle_db` (SYS password TEST_ADMIN_PASSWORD, registered as `.key` for
    DoubleOracleResource), but every commit appends its row changes to `oracle_redo_dir`/redo.jsonl.
    SCNs continue after the ones already in the file."""
    # imported here: the pytest plugin tests.doubles.oracle_fixtures marks the Oracle double's modules
    # for assertion rewriting, which must happen before their first import
    from tests.doubles.oracle_database import FakeOracleDatabase
    from tests.doubles.oracle_registry import TEST_ADMIN_PASSWORD, register_database, unregister_database

    db = FakeOracleDatabase(sys_password=TEST_ADMIN_PASSWORD, redo_dir=oracle_redo_dir)
    key = register_database(db)
    db.key = key  # type: ignore[attr-defined]
    yield db
    unregister_database(key)
