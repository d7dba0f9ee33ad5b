"""The specs the spec tests (tests/unit/test_spec_*.py) share, parsed once per run (session scope: they were
the module fixtures of the one module these tests came from; no test changes them).
"""

from __future__ import annotations

import pytest

from pipeline_defs.spec import load_spec
from tests.unit.spec_support import DEFAULT, NO_ENV, THREE


@pytest.fixture(scope="session")
def spec():
    return load_spec(DEFAULT, env=NO_ENV)


@pytest.fixture(scope="session")
def debezium_spec():
    return load_spec(DEFAULT, env={"CDC_SOURCE_FLAVOR": "debezium"})


@pytest.fixture(scope="session")
def three():
    return load_spec(THREE, env=NO_ENV)
