"""Plugging the Oracle double into OracleResource: FakeOracleDatabase instances registered by key,
DoubleOracleResource (its pool comes from the registered database), double_resource() and the
passwords tests give the CDC user and SYS.
"""

from __future__ import annotations

import uuid
from typing import Any

import oracledb

from resources.oracle import OracleResource
from tests.doubles.oracle_database import FakeOracleDatabase
from tests.doubles.oracle_dbapi import FakePool

_DATABASES: dict[str, FakeOracleDatabase] = {}


def register_database(db: FakeOracleDatabase, key: str | None = None) -> str:
    key = key or f"oracle-double-{uuid.uuid4().hex[:8]}"
    _DATABASES[key] = db
    return key


def unregister_database(key: str) -> None:
    _DATABASES.pop(key, None)


def registered_database(key: str) -> FakeOracleDatabase:
    try:
        return _DATABASES[key]
    except KeyError:
        raise AssertionError(f"no FakeOracleDatabase registered under {key!r} (use the oracle_db fixture)") from None


class DoubleOracleResource(OracleResource):
    """OracleResource whose pool comes from a registered FakeOracleDatabase (survives Dagster's re-init,
    unlike a PrivateAttr, because the key is plain config)."""

    database_key: str = "default"

    def _create_pool(self, params: oracledb.PoolParams, password: str) -> FakePool:
        return registered_database(self.database_key).create_pool(params=params, password=password)


TEST_USER_PASSWORD = "Cdc-User-Pw-7f3c19"
TEST_ADMIN_PASSWORD = "Sys-Admin-Pw-88b2e4"


def double_resource(db: FakeOracleDatabase, key: str, **overrides: Any) -> DoubleOracleResource:
    config: dict[str, Any] = dict(
        database_key=key,
        host=db.host,
        port=db.port,
        service_name=sorted(db.services)[0],
        user="C##MYUSER",
        password=TEST_USER_PASSWORD,
        admin_user="SYS",
        admin_password=TEST_ADMIN_PASSWORD,
        as_sysdba=True,
        timeout_seconds=1.0,
    )
    config.update(overrides)
    return DoubleOracleResource(**config)
