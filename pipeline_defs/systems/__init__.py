"""Every external system, one package each. Importing a package registers it (core/registry.py);
a new source, engine or sink is one package plus one line here."""

from pipeline_defs.systems import connect, flink, kafka, ksqldb, oracle, postgres, redis  # noqa: F401
