"""The seed recipe's Oracle objects for tests: the CDC role's privileges, every GRANT of the recipe
verbatim, and spec.oracle in the spec shape (SimpleNamespace).
"""

from __future__ import annotations

from types import SimpleNamespace

SEED_ROLE_SYSTEM_PRIVILEGES = [
    "ALTER SESSION",
    "SET CONTAINER",
    "SELECT ANY TRANSACTION",
    "SELECT ANY DICTIONARY",
    "CREATE SESSION",
    "LOGMINING",
    "SELECT ANY TABLE",
]
SEED_ROLE_OBJECT_PRIVILEGES = [
    ("SELECT", "SYSTEM.LOGMNR_COL$"),
    ("SELECT", "SYSTEM.LOGMNR_OBJ$"),
    ("SELECT", "SYSTEM.LOGMNR_USER$"),
    ("SELECT", "SYSTEM.LOGMNR_UID$"),
    ("EXECUTE", "SYS.DBMS_LOGMNR"),
    ("SELECT", "V_$LOGMNR_CONTENTS"),
    ("SELECT", "V_$DATABASE"),
    ("SELECT", "V_$THREAD"),
    ("SELECT", "V_$PARAMETER"),
    ("SELECT", "V_$NLS_PARAMETERS"),
    ("SELECT", "V_$TIMEZONE_NAMES"),
    ("SELECT", "ALL_INDEXES"),
    ("SELECT", "ALL_OBJECTS"),
    ("SELECT", "ALL_USERS"),
    ("SELECT", "ALL_CATALOG"),
    ("SELECT", "ALL_CONSTRAINTS"),
    ("SELECT", "ALL_CONS_COLUMNS"),
    ("SELECT", "ALL_TAB_COLS"),
    ("SELECT", "ALL_IND_COLUMNS"),
    ("SELECT", "ALL_ENCRYPTED_COLUMNS"),
    ("SELECT", "ALL_LOG_GROUPS"),
    ("SELECT", "ALL_TAB_PARTITIONS"),
    ("SELECT", "SYS.DBA_REGISTRY"),
    ("SELECT", "SYS.OBJ$"),
    ("SELECT", "DBA_TABLESPACES"),
    ("SELECT", "DBA_OBJECTS"),
    ("SELECT", "SYS.ENC$"),
    ("SELECT", "V_$ARCHIVED_LOG"),
    ("SELECT", "V_$LOG"),
    ("SELECT", "V_$LOGFILE"),
    ("SELECT", "V_$INSTANCE"),
]


# Every GRANT of the seed recipe, verbatim (case, 'to', 'container=all' as written there), without ';'.
SEED_GRANT_STATEMENTS = """
GRANT EXECUTE_CATALOG_ROLE TO C##CDC_PRIVS
GRANT ALTER SESSION TO C##CDC_PRIVS
GRANT SET CONTAINER TO C##CDC_PRIVS
GRANT SELECT ANY TRANSACTION TO C##CDC_PRIVS
GRANT SELECT ANY DICTIONARY TO C##CDC_PRIVS
GRANT SELECT ON SYSTEM.LOGMNR_COL$ TO C##CDC_PRIVS
GRANT SELECT ON SYSTEM.LOGMNR_OBJ$ TO C##CDC_PRIVS
GRANT SELECT ON SYSTEM.LOGMNR_USER$ TO C##CDC_PRIVS
GRANT SELECT ON SYSTEM.LOGMNR_UID$ TO C##CDC_PRIVS
GRANT CREATE SESSION TO C##CDC_PRIVS
GRANT EXECUTE ON SYS.DBMS_LOGMNR TO C##CDC_PRIVS
GRANT LOGMINING TO C##CDC_PRIVS
GRANT SELECT ON V_$LOGMNR_CONTENTS TO C##CDC_PRIVS
GRANT SELECT ON V_$DATABASE TO C##CDC_PRIVS
GRANT SELECT ON V_$THREAD TO C##CDC_PRIVS
GRANT SELECT ON V_$PARAMETER TO C##CDC_PRIVS
GRANT SELECT ON V_$NLS_PARAMETERS TO C##CDC_PRIVS
GRANT SELECT ON V_$TIMEZONE_NAMES TO C##CDC_PRIVS
GRANT SELECT ON ALL_INDEXES TO C##CDC_PRIVS
GRANT SELECT ON ALL_OBJECTS TO C##CDC_PRIVS
GRANT SELECT ON ALL_USERS TO C##CDC_PRIVS
GRANT SELECT ON ALL_CATALOG TO C##CDC_PRIVS
GRANT SELECT ON ALL_CONSTRAINTS TO C##CDC_PRIVS
GRANT SELECT ON ALL_CONS_COLUMNS TO C##CDC_PRIVS
GRANT SELECT ON ALL_TAB_COLS TO C##CDC_PRIVS
GRANT SELECT ON ALL_IND_COLUMNS TO C##CDC_PRIVS
GRANT SELECT ON ALL_ENCRYPTED_COLUMNS TO C##CDC_PRIVS
GRANT SELECT ON ALL_LOG_GROUPS TO C##CDC_PRIVS
GRANT SELECT ON ALL_TAB_PARTITIONS TO C##CDC_PRIVS
GRANT SELECT ON SYS.DBA_REGISTRY TO C##CDC_PRIVS
GRANT SELECT ON SYS.OBJ$ TO C##CDC_PRIVS
GRANT SELECT ON DBA_TABLESPACES TO C##CDC_PRIVS
GRANT SELECT ON DBA_OBJECTS TO C##CDC_PRIVS
GRANT SELECT ON SYS.ENC$ TO C##CDC_PRIVS
GRANT SELECT ON V_$ARCHIVED_LOG TO C##CDC_PRIVS
GRANT SELECT ON V_$LOG TO C##CDC_PRIVS
GRANT SELECT ON V_$LOGFILE TO C##CDC_PRIVS
GRANT SELECT ON V_$INSTANCE to C##CDC_PRIVS
GRANT SELECT ANY TABLE TO C##CDC_PRIVS
GRANT C##CDC_PRIVS to C##MYUSER CONTAINER=ALL
GRANT CONNECT TO C##MYUSER CONTAINER=ALL
GRANT CREATE TABLE TO C##MYUSER CONTAINER=ALL
GRANT CREATE SEQUENCE TO C##MYUSER CONTAINER=ALL
GRANT CREATE TRIGGER TO C##MYUSER CONTAINER=ALL
GRANT SELECT ON GV_$ARCHIVED_LOG TO C##MYUSER CONTAINER=ALL
GRANT SELECT ON GV_$DATABASE TO C##MYUSER CONTAINER=ALL
GRANT FLASHBACK ANY TABLE TO C##MYUSER
GRANT FLASHBACK ANY TABLE TO C##MYUSER container=all
GRANT SELECT ON C##MYUSER.POC_USERDATA TO C##CDC_PRIVS
GRANT SELECT ON C##MYUSER.POC_CLICKSTREAM TO C##CDC_PRIVS
"""


def seed_oracle_spec() -> SimpleNamespace:
    """spec.oracle of the seed recipe (C##CDC_PRIVS, C##MYUSER, POC_USERDATA, POC_CLICKSTREAM)."""
    ns = SimpleNamespace
    v50 = "VARCHAR2(50)"
    role = ns(
        name="C##CDC_PRIVS",
        system_privileges=list(SEED_ROLE_SYSTEM_PRIVILEGES),
        object_privileges=[ns(privilege=p, object=o) for p, o in SEED_ROLE_OBJECT_PRIVILEGES],
        granted_roles=["EXECUTE_CATALOG_ROLE"],
    )
    user = ns(
        name="C##MYUSER",
        default_tablespace="USERS",
        quota="UNLIMITED",
        container_all=True,
        roles=[ns(name="C##CDC_PRIVS", container_all=True), ns(name="CONNECT", container_all=True)],
        system_privileges=[
            ns(privilege="CREATE TABLE", container_all=True),
            ns(privilege="CREATE SEQUENCE", container_all=True),
            ns(privilege="CREATE TRIGGER", container_all=True),
            ns(privilege="FLASHBACK ANY TABLE", container_all=False),
            ns(privilege="FLASHBACK ANY TABLE", container_all=True),
        ],
        object_privileges=[
            ns(privilege="SELECT", object="GV_$ARCHIVED_LOG", container_all=True),
            ns(privilege="SELECT", object="GV_$DATABASE", container_all=True),
        ],
    )
    userdata = ns(
        name="POC_USERDATA",
        columns=[ns(name="ID", type=v50, primary_key=True), ns(name="NAME", type=v50, primary_key=False)],
        initial_rows=[{"ID": "101", "NAME": "jdoe"}],
    )
    clickstream = ns(
        name="POC_CLICKSTREAM",
        columns=[
            ns(name="EVENTID", type=v50, primary_key=True),
            ns(name="ID", type=v50, primary_key=False),
            ns(name="NAME", type=v50, primary_key=False),
            ns(name="SESSIONID", type=v50, primary_key=False),
            ns(name="EVENTTYPE", type=v50, primary_key=False),
            ns(name="PAGEURL", type="VARCHAR2(255)", primary_key=False),
            ns(name="EVENTTIMESTAMP", type="TIMESTAMP", primary_key=False),
        ],
        initial_rows=[
            {
                "EVENTID": 1,
                "ID": "101",
                "NAME": "jdoe",
                "SESSIONID": "sess456",
                "EVENTTYPE": "page_view",
                "PAGEURL": "https://example.com/home",
                "EVENTTIMESTAMP": "CURRENT_TIMESTAMP",
            },
        ],
    )
    return ns(role=role, user=user, tables=[userdata, clickstream])
