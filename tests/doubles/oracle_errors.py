"""Errors of the Oracle double, built exactly as python-oracledb (Thin mode) builds them.

Errors are real driver exceptions: ``oracledb.errors._Error(message, code=...)`` wrapped in the
exception class the driver picks (``_Error.exc_type``), as Thin mode does for server errors; DPY
errors come from ``oracledb.errors._create_exception`` (the driver's own constructor), including the
Thin-mode wrapping of DPY-6001/DPY-6003 inside DPY-6005.

SQL the double does not model raises UnmodelledStatement (an AssertionError, not a driver error) so the
double never silently accepts SQL.
"""

from __future__ import annotations

from typing import Any

import oracledb
from oracledb import errors as _driver_errors

# 19c server message texts (see tests/contract_samples/oracle/errors.json for sources)
ORA_MESSAGES: dict[int, str] = {
    1: "unique constraint ({constraint}) violated",
    904: '"{name}": invalid identifier',
    911: "invalid character",
    922: "missing or invalid option",
    937: "not a single-group group function",
    942: "table or view does not exist",
    955: "name is already used by an existing object",
    957: "duplicate column name",
    959: "tablespace '{name}' does not exist",
    979: "not a GROUP BY expression",
    990: "missing or invalid privilege",
    1017: "invalid username/password; logon denied",
    1027: "bind variables not allowed for data definition operations",
    1031: "insufficient privileges",
    1045: "user {name} lacks CREATE SESSION privilege; logon denied",
    1400: 'cannot insert NULL into ("{owner}"."{table}"."{column}")',
    1407: 'cannot update ("{owner}"."{table}"."{column}") to NULL',
    1430: "column being added already exists in table",
    1722: "invalid number",
    1917: "user or role '{name}' does not exist",
    1918: "user '{name}' does not exist",
    1919: "role '{name}' does not exist",
    1920: "user name '{name}' conflicts with another user or role name",
    1921: "role name '{name}' conflicts with another user or role name",
    1950: "no privileges on tablespace '{name}'",
    2224: "EXECUTE privilege not allowed for tables",
    2225: "only EXECUTE and DEBUG privileges are valid for procedures",
    2260: "table can have only one primary key",
    2261: "such unique or primary key already exists in the table",
    4042: "procedure, function, package, or package body does not exist",
    12899: 'value too large for column "{owner}"."{table}"."{column}" (actual: {actual}, maximum: {maximum})',
    28000: "The account is locked.",
    28009: "connection as SYS should be as SYSDBA or SYSOPER",
    32588: "supplemental logging attribute {name} exists",
    65030: "one may not grant a Common Privilege to a Local User or Role",
    65096: "invalid common user or role name",
    65235: "cannot create common user, role or profile with the same name as existing common user, role or profile",
}


class UnmodelledStatement(AssertionError):
    """The double does not model this SQL (a test/code bug, never a simulated database error)."""


def ora_error(code: int, **args: Any) -> oracledb.Error:
    """A server error as Thin mode raises it: _Error(message, code) in the class _Error picks."""
    err = _driver_errors._Error(f"ORA-{code:05d}: {ORA_MESSAGES[code].format(**args)}", code=code, offset=0)
    return err.exc_type(err)


def raw_ora_error(code: int, text: str) -> oracledb.Error:
    """A server error with free text (e.g. to simulate a message that echoes SQL)."""
    err = _driver_errors._Error(f"ORA-{code:05d}: {text}", code=code, offset=0)
    return err.exc_type(err)


def dpy_error(num: int, cause: BaseException | None = None, **args: Any) -> oracledb.Error:
    return _driver_errors._create_exception(num, cause=cause, **args)
