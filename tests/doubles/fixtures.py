"""pytest plugin: fixtures for the HTTP test doubles. Enable with
`pytest_plugins = ["tests.doubles.fixtures"]` in the root conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.doubles.ksqldb_server import KsqlDbDouble
from tests.doubles.schema_registry_server import SchemaRegistryDouble


@pytest.fixture
def ksqldb_double() -> Iterator[KsqlDbDouble]:
    """A fresh, ready ksqlDB double (empty metastore) per test."""
    with KsqlDbDouble() as double:
        yield double


@pytest.fixture
def schema_registry_double() -> Iterator[SchemaRegistryDouble]:
    """A fresh Schema Registry double (no subjects, global BACKWARD) per test."""
    with SchemaRegistryDouble() as double:
        yield double
