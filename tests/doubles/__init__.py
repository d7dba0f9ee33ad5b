"""Test doubles for systems that cannot run on this machine.

The ksqlDB and Schema Registry doubles are real HTTP servers on 127.0.0.1 that follow the documented
REST contracts; the JSON shapes they rely on are pinned in tests/contract_samples/ and checked
against the doubles by the unit tests. Their fixtures: the pytest plugin `tests.doubles.fixtures`.
"""
