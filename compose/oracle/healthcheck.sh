#!/usr/bin/env bash
# Oracle container healthcheck (docker-compose.yml service `oracle`). Healthy only when
#   - the database is OPEN READ WRITE and at least one PDB is open READ WRITE (what the image's checkDBStatus.sh tests),
#   - LOG_MODE = ARCHIVELOG and SUPPLEMENTAL_LOG_DATA_MIN in (YES, IMPLICIT): the conditions the Dagster Oracle asset
#     checks verify, turned on by init/01_archivelog_supplemental_logging.sql.
# During the first start the database is created and then restarted by the init script; start_period covers that.
# If that first start was interrupted the init script never runs; the messages below point to the recovery.
set -uo pipefail

export ORACLE_SID="${ORACLE_SID:-ORCLCDB}"
command -v sqlplus > /dev/null || export PATH="${ORACLE_HOME:-/opt/oracle/product/19c/dbhome_1}/bin:$PATH"

out="$(sqlplus -s -L / as sysdba <<'SQL'
WHENEVER SQLERROR EXIT FAILURE
SET HEADING OFF FEEDBACK OFF PAGESIZE 0 LINESIZE 200 TRIMSPOOL ON
SELECT 'DB=' || OPEN_MODE FROM V$DATABASE;
SELECT 'PDB=' || OPEN_MODE FROM V$PDBS WHERE NAME <> 'PDB$SEED';
SELECT 'LOG_MODE=' || LOG_MODE FROM V$DATABASE;
SELECT 'SUPPLEMENTAL_LOG_DATA_MIN=' || SUPPLEMENTAL_LOG_DATA_MIN FROM V$DATABASE;
EXIT
SQL
)" || { echo "sqlplus failed: $out"; exit 1; }

fail=0
grep -q '^DB=READ WRITE$' <<< "$out" || { echo "database not open READ WRITE"; fail=1; }
grep -q '^PDB=READ WRITE$' <<< "$out" || { echo "no PDB open READ WRITE"; fail=1; }
# both are set by the setup script, which the image runs only on the first boot
recovery="init/01_archivelog_supplemental_logging.sql has not run; see compose/README.md \"Oracle's first boot was interrupted\""
grep -q '^LOG_MODE=ARCHIVELOG$' <<< "$out" || { echo "not in ARCHIVELOG mode: $recovery"; fail=1; }
grep -Eq '^SUPPLEMENTAL_LOG_DATA_MIN=(YES|IMPLICIT)$' <<< "$out" || { echo "minimal supplemental logging off: $recovery"; fail=1; }
[ "$fail" -eq 0 ] && echo "oracle ready for CDC"
exit "$fail"
