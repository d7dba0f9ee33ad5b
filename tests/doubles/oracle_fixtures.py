"""pytest plugin of the Oracle double: fixtures ``oracle_db``, ``oracle_resource``, ``oracle_seed_spec``,
``provisioned_oracle``; ``oracle_redo_db`` is in ``tests.doubles.fixtures``. Enabled by
``pytest_plugins`` in the root conftest.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest

# pytest rewrites asserts in this plugin module only; the double's modules assert too (set_log_mode), so
# they are marked before their first import
pytest.register_assert_rewrite(
    "tests.doubles.oracle_archived_logs",
    "tests.doubles.oracle_catalog",
    "tests.doubles.oracle_database",
    "tests.doubles.oracle_dbapi",
    "tests.doubles.oracle_errors",
    "tests.doubles.oracle_redo",
    "tests.doubles.oracle_registry",
    "tests.doubles.oracle_seed",
    "tests.doubles.oracle_sql_conditions",
    "tests.doubles.oracle_sql_context",
    "tests.doubles.oracle_sql_ddl",
    "tests.doubles.oracle_sql_dml",
    "tests.doubles.oracle_sql_executor",
    "tests.doubles.oracle_sql_select",
    "tests.doubles.oracle_sql_views",
    "tests.doubles.oracle_statements",
)

from tests.doubles.oracle_database import FakeOracleDatabase
from tests.doubles.oracle_registry import TEST_ADMIN_PASSWORD, DoubleOracleResource, double_resource, register_database, unregister_database
from tests.doubles.oracle_seed import seed_oracle_spec


@pytest.fixture
def oracle_db() -> Iterator[FakeOracleDatabase]:
    """A fresh CDB root: ARCHIVELOG, minimal supplemental logging off, no CDC objects; SYS password
    TEST_ADMIN_PASSWORD. Registered for DoubleOracleResource as `oracle_db.key`."""
    db = FakeOracleDatabase(sys_password=TEST_ADMIN_PASSWORD)
    key = register_database(db)
    db.key = key  # type: ignore[attr-defined]
    yield db
    unregister_database(key)


@pytest.fixture
def oracle_resource(oracle_db: FakeOracleDatabase) -> DoubleOracleResource:
    """DoubleOracleResource for C##MYUSER (TEST_USER_PASSWORD) with SYS AS SYSDBA as admin."""
    return double_resource(oracle_db, oracle_db.key)  # type: ignore[attr-defined]


@pytest.fixture(name="oracle_seed_spec")
def _oracle_seed_spec() -> SimpleNamespace:
    """seed_oracle_spec() as a fixture."""
    return seed_oracle_spec()


@pytest.fixture
def provisioned_oracle(oracle_db: FakeOracleDatabase, oracle_resource: DoubleOracleResource) -> FakeOracleDatabase:
    """oracle_db after a provisioning run of the seed spec (the "good catalog")."""
    from pipeline_defs.systems.oracle import catalog, plan

    spec = seed_oracle_spec()
    with oracle_resource.admin_client() as admin:
        state = catalog.read_catalog(spec, admin.query)
        admin.apply(plan.plan(spec, state, user_password=oracle_resource.password))
    return oracle_db
