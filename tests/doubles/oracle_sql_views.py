"""The data dictionary and V$ views the Oracle double answers (DUAL, DBA_ROLES, DBA_USERS / ALL_USERS,
DBA_TS_QUOTAS, DBA_TABLES / ALL_TABLES, DBA_SYS_PRIVS, DBA_TAB_PRIVS, DBA_ROLE_PRIVS, V$DATABASE,
V$ARCHIVED_LOG, V$LOG, DBA_LOG_GROUPS / ALL_LOG_GROUPS) and user tables as row sources, computed from
the catalog on every query. DBA_ and V$ views need dictionary access (ORA-00942 otherwise, as in
Oracle); any other dictionary view is UnmodelledStatement.
"""

from __future__ import annotations

from typing import Any

from tests.doubles.oracle_errors import UnmodelledStatement, ora_error
from tests.doubles.oracle_sql_context import SqlContext


def _yes(flag: bool) -> str:
    return "YES" if flag else "NO"


class DictionaryViews(SqlContext):
    """Column lists and rows of the modelled views and of user tables."""

    _VIEW_COLUMNS: dict[str, tuple[str, ...]] = {
        "DUAL": ("DUMMY",),
        "DBA_ROLES": (
            "ROLE",
            "ROLE_ID",
            "PASSWORD_REQUIRED",
            "AUTHENTICATION_TYPE",
            "COMMON",
            "ORACLE_MAINTAINED",
            "INHERITED",
            "IMPLICIT",
        ),
        "DBA_USERS": ("USERNAME", "USER_ID", "ACCOUNT_STATUS", "DEFAULT_TABLESPACE", "TEMPORARY_TABLESPACE", "COMMON", "ORACLE_MAINTAINED"),
        "ALL_USERS": ("USERNAME", "USER_ID", "COMMON", "ORACLE_MAINTAINED"),
        "DBA_TS_QUOTAS": ("TABLESPACE_NAME", "USERNAME", "BYTES", "MAX_BYTES", "BLOCKS", "MAX_BLOCKS", "DROPPED"),
        "DBA_TABLES": ("OWNER", "TABLE_NAME", "TABLESPACE_NAME", "LOGGING"),
        "ALL_TABLES": ("OWNER", "TABLE_NAME", "TABLESPACE_NAME", "LOGGING"),
        "DBA_SYS_PRIVS": ("GRANTEE", "PRIVILEGE", "ADMIN_OPTION", "COMMON", "INHERITED"),
        "DBA_TAB_PRIVS": (
            "GRANTEE",
            "OWNER",
            "TABLE_NAME",
            "GRANTOR",
            "PRIVILEGE",
            "GRANTABLE",
            "HIERARCHY",
            "COMMON",
            "TYPE",
            "INHERITED",
        ),
        "DBA_ROLE_PRIVS": ("GRANTEE", "GRANTED_ROLE", "ADMIN_OPTION", "DELEGATE_OPTION", "DEFAULT_ROLE", "COMMON", "INHERITED"),
        "V$DATABASE": (
            "DBID",
            "NAME",
            "LOG_MODE",
            "OPEN_MODE",
            "CDB",
            "FORCE_LOGGING",
            "SUPPLEMENTAL_LOG_DATA_MIN",
            "SUPPLEMENTAL_LOG_DATA_PK",
            "SUPPLEMENTAL_LOG_DATA_UI",
            "SUPPLEMENTAL_LOG_DATA_ALL",
            "CURRENT_SCN",
            "RESETLOGS_CHANGE#",
        ),
        # Oracle Database Reference 19c, V$ARCHIVED_LOG and V$LOG
        "V$ARCHIVED_LOG": (
            "RECID",
            "STAMP",
            "NAME",
            "DEST_ID",
            "THREAD#",
            "SEQUENCE#",
            "RESETLOGS_CHANGE#",
            "RESETLOGS_TIME",
            "RESETLOGS_ID",
            "FIRST_CHANGE#",
            "FIRST_TIME",
            "NEXT_CHANGE#",
            "NEXT_TIME",
            "BLOCKS",
            "BLOCK_SIZE",
            "CREATOR",
            "REGISTRAR",
            "STANDBY_DEST",
            "ARCHIVED",
            "APPLIED",
            "DELETED",
            "STATUS",
            "COMPLETION_TIME",
            "DICTIONARY_BEGIN",
            "DICTIONARY_END",
            "END_OF_REDO",
            "BACKUP_COUNT",
            "ARCHIVAL_THREAD#",
            "ACTIVATION#",
            "IS_RECOVERY_DEST_FILE",
            "COMPRESSED",
            "FAL",
            "END_OF_REDO_TYPE",
            "BACKED_BY_VSS",
            "CON_ID",
        ),
        "V$LOG": (
            "GROUP#",
            "THREAD#",
            "SEQUENCE#",
            "BYTES",
            "BLOCKSIZE",
            "MEMBERS",
            "ARCHIVED",
            "STATUS",
            "FIRST_CHANGE#",
            "FIRST_TIME",
            "NEXT_CHANGE#",
            "NEXT_TIME",
            "CON_ID",
        ),
        "DBA_LOG_GROUPS": ("OWNER", "LOG_GROUP_NAME", "TABLE_NAME", "LOG_GROUP_TYPE", "ALWAYS", "GENERATED"),
        "ALL_LOG_GROUPS": ("OWNER", "LOG_GROUP_NAME", "TABLE_NAME", "LOG_GROUP_TYPE", "ALWAYS", "GENERATED"),
    }

    def _columns_of(self, src: str) -> tuple[str, ...]:
        if src in self._VIEW_COLUMNS:
            return self._VIEW_COLUMNS[src]
        owner, name = self._resolve(src)
        return tuple(c.name for c in self.db.tables[(owner, name)].columns)

    def _source(self, src: str) -> list[dict[str, Any]]:
        db = self.db
        if src.startswith(("DBA_", "V$")) and src in self._VIEW_COLUMNS:
            if not (
                self._can_read_dictionary() or (src.startswith("V$") and db.has_object_priv(self.user, "SYS", "V_" + src[1:], "SELECT"))
            ):
                raise ora_error(942)
        if src == "DUAL":
            return [{"DUMMY": "X"}]
        if src == "DBA_ROLES":
            return [
                {
                    "ROLE": r.name,
                    "ROLE_ID": i,
                    "PASSWORD_REQUIRED": "NO",
                    "AUTHENTICATION_TYPE": "NONE",
                    "COMMON": _yes(r.common),
                    "ORACLE_MAINTAINED": _yes(r.oracle_maintained),
                    "INHERITED": "NO",
                    "IMPLICIT": "NO",
                }
                for i, r in enumerate(db.roles.values(), 100)
            ]
        if src in ("DBA_USERS", "ALL_USERS"):
            return [
                {
                    "USERNAME": u.name,
                    "USER_ID": i,
                    "ACCOUNT_STATUS": "LOCKED" if u.locked else "OPEN",
                    "DEFAULT_TABLESPACE": u.default_tablespace,
                    "TEMPORARY_TABLESPACE": "TEMP",
                    "COMMON": _yes(u.common),
                    "ORACLE_MAINTAINED": _yes(u.oracle_maintained),
                }
                for i, u in enumerate(db.users.values())
            ]
        if src == "DBA_TS_QUOTAS":
            return [
                {
                    "TABLESPACE_NAME": ts,
                    "USERNAME": u,
                    "BYTES": 65536 * len(db.tables),
                    "MAX_BYTES": q,
                    "BLOCKS": 8,
                    "MAX_BLOCKS": -1 if q == -1 else q // 8192,
                    "DROPPED": "NO",
                }
                for (u, ts), q in db.quotas.items()
            ]
        if src in ("DBA_TABLES", "ALL_TABLES"):
            visible = db.tables.values() if src == "DBA_TABLES" else [t for t in db.tables.values() if self._can_access_table(t, "SELECT")]
            return [{"OWNER": t.owner, "TABLE_NAME": t.name, "TABLESPACE_NAME": t.tablespace, "LOGGING": "YES"} for t in visible]
        if src == "DBA_SYS_PRIVS":
            return [{"GRANTEE": g, "PRIVILEGE": p, "ADMIN_OPTION": "NO", "COMMON": _yes(c), "INHERITED": "NO"} for g, p, c in db.sys_privs]
        if src == "DBA_TAB_PRIVS":
            return [
                {
                    "GRANTEE": g,
                    "OWNER": o,
                    "TABLE_NAME": n,
                    "GRANTOR": gr,
                    "PRIVILEGE": p,
                    "GRANTABLE": "NO",
                    "HIERARCHY": "NO",
                    "COMMON": _yes(c),
                    "TYPE": db.objects.get((o, n), "TABLE"),
                    "INHERITED": "NO",
                }
                for g, o, n, p, c, gr in db.tab_privs
            ]
        if src == "DBA_ROLE_PRIVS":
            return [
                {
                    "GRANTEE": g,
                    "GRANTED_ROLE": r,
                    "ADMIN_OPTION": "NO",
                    "DELEGATE_OPTION": "NO",
                    "DEFAULT_ROLE": "YES",
                    "COMMON": _yes(c),
                    "INHERITED": "NO",
                }
                for g, r, c in db.role_privs
            ]
        if src == "V$DATABASE":
            return [
                {
                    "DBID": 2718281828,
                    "NAME": "ORCLCDB",
                    "LOG_MODE": db.log_mode,
                    "OPEN_MODE": "READ WRITE",
                    "CDB": "YES",
                    "FORCE_LOGGING": "NO",
                    "SUPPLEMENTAL_LOG_DATA_MIN": db.supplemental_log_data_min,
                    "SUPPLEMENTAL_LOG_DATA_PK": "NO",
                    "SUPPLEMENTAL_LOG_DATA_UI": "NO",
                    "SUPPLEMENTAL_LOG_DATA_ALL": db.supplemental_log_data_all,
                    "CURRENT_SCN": db.current_scn,
                    "RESETLOGS_CHANGE#": 1,  # one incarnation: the archived logs' RESETLOGS_CHANGE#
                }
            ]
        if src == "V$ARCHIVED_LOG":
            return [dict(r) for r in db.archived_logs]
        if src == "V$LOG":
            return db.online_logs()
        if src in ("DBA_LOG_GROUPS", "ALL_LOG_GROUPS"):
            tables = (
                db.tables.values() if src == "DBA_LOG_GROUPS" else [t for t in db.tables.values() if self._can_access_table(t, "SELECT")]
            )
            return [
                {
                    "OWNER": t.owner,
                    "LOG_GROUP_NAME": g,
                    "TABLE_NAME": t.name,
                    "LOG_GROUP_TYPE": ty,
                    "ALWAYS": "ALWAYS",
                    "GENERATED": "GENERATED NAME",
                }
                for t in tables
                for g, ty in t.log_groups.items()
            ]
        if src.startswith(("DBA_", "ALL_", "V$", "GV$", "USER_")):
            raise UnmodelledStatement(f"dictionary view not modelled by the Oracle double: {src}")
        return [dict(r) for r in self._table(src).rows]
