"""Which failures a restart can fix: a table of known causes, matched against a task's trace.

A user-actionable cause (bad password, missing grant, wal_level or supplemental logging wrong,
the change log purged below the connector's position, publication missing, invalid config, a column type the connector cannot read) fails again on
every restart: the health sensor raises the incident at once, with the cause and the fix in words,
and runs no restart loop. A transient cause (network, broker unavailable, rebalance, timeout)
keeps the backoff. An unknown cause is treated as transient, and the incident names it unknown.

Patterns are the messages the systems themselves write (PostgreSQL SQLSTATE texts, Oracle ORA
codes, Kafka/Connect exception names), matched case-insensitively on the whole trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    name: str
    restartable: bool
    fix: str  # what a person does, in words
    patterns: tuple[str, ...]


CAUSES: tuple[Cause, ...] = (
    Cause(
        "authentication_failed",
        False,
        "the connector's database password is wrong or the user is locked: set the secret the ${env:...} placeholder "
        "names in the Connect worker's environment and restart the worker, or fix the user",
        (
            r"password authentication failed",
            r"ORA-01017",
            r"ORA-28000",
            r"authentication failed",
            r"invalid username/password",
            r"WRONGPASS",
            r"NOAUTH",
        ),
    ),
    Cause(
        "missing_privilege",
        False,
        "the CDC user lacks a grant: run provision_pipeline (it grants what the spec lists) or grant it by hand",
        (
            r"permission denied",
            r"must be superuser or replication role",
            r"ORA-01031",
            r"ORA-00942",
            r"ORA-01950",
            r"insufficient privilege",
            r"must have REPLICATION",
        ),
    ),
    Cause(
        "log_settings",
        False,
        "the database does not write the change log the connector reads: set wal_level=logical (PostgreSQL, restart "
        "needed) or turn on ARCHIVELOG and supplemental logging (Oracle); the source checks say which",
        (r"wal_level", r"logical decoding requires", r"supplemental logging", r"ORA-01325", r"archive ?log mode", r"ORA-00257"),
    ),
    Cause(
        "change_log_purged",
        False,
        "the change log the connector must resume from is gone (Oracle archived redo logs deleted, PostgreSQL WAL "
        "removed): restore the logs from backup, or take a new snapshot (reset_connector_offsets); the source's "
        "log_retention / wal_retention check shows the horizon",
        (
            r"ORA-01291",
            r"missing logfile",
            r"None of (the )?log files contains offset SCN",
            r"re-snapshot is required",
            r"requested WAL segment \S+ has already been removed",
            r"can no longer get changes from replication slot",
        ),
    ),
    Cause(
        "publication_missing",
        False,
        "the PostgreSQL publication the connector reads is missing or does not hold the table: run provision_pipeline "
        "to recreate it. Changes written while it was missing cannot be decoded through the slot (PostgreSQL looks the "
        "publication up as of each change), so the task fails on them again until the slot is moved past them "
        "(pg_replication_slot_advance, those changes are skipped) or dropped for a new snapshot",
        # Debezium PostgreSQL 3.6.1 with publication.autocreate.mode=disabled, on the restart after the walsender
        # said 'publication "x" does not exist': "Publication autocreation is disabled, please create one ..."
        (r"publication \S+ does not exist", r"publication .* not found", r"Publication autocreation is disabled"),
    ),
    Cause(
        "invalid_config",
        False,
        "the connector config is invalid: compare it with the spec (plan) and run reregister_connectors",
        (
            r"ConfigException",
            r"Invalid value .* for configuration",
            r"Missing required configuration",
            r"Connector configuration is invalid",
        ),
    ),
    Cause(
        "unknown_column_type",
        False,
        "a captured column has a type the connector or engine cannot read: change the column type or leave it out",
        (r"unsupported (column|data) ?type", r"unknown (column|data) ?type", r"Unexpected type", r"cannot be converted"),
    ),
    Cause(
        "network",
        True,
        "a network path was down; restarts with backoff",
        (
            r"Connection refused",
            r"UnknownHostException",
            r"No route to host",
            r"Connection reset",
            r"connection .* closed",
            r"SocketTimeoutException",
            r"ORA-12541",
            r"ORA-12170",
            r"ORA-03113",
            r"could not connect to server",
            r"JedisConnectionException",
        ),
    ),
    Cause(
        "broker_unavailable",
        True,
        "the Kafka broker was unavailable; restarts with backoff",
        (
            r"NotEnoughReplicas",
            r"LEADER_NOT_AVAILABLE",
            r"NetworkException",
            r"DisconnectException",
            r"Broker may not be available",
            r"NotLeaderOrFollower",
        ),
    ),
    Cause(
        "rebalance",
        True,
        "the Connect group was rebalancing; restarts with backoff",
        (r"rebalance", r"RebalanceInProgress", r"CommitFailedException"),
    ),
    Cause("timeout", True, "an operation timed out; restarts with backoff", (r"TimeoutException", r"timed out", r"Timeout expired")),
)
UNKNOWN = Cause("unknown", True, "the cause is not in the table of known causes; restarts with backoff, read the trace", ())
_COMPILED = [(c, [re.compile(p, re.I) for p in c.patterns]) for c in CAUSES]


def classify(trace: str) -> Cause:
    """The first known cause whose pattern occurs in the trace (user-actionable causes are listed
    first: a wrong password often also shows a closed connection), else UNKNOWN."""
    text = trace or ""
    for cause, patterns in _COMPILED:
        if any(p.search(text) for p in patterns):
            return cause
    return UNKNOWN
