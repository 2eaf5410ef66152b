"""The embedded default: a DuckDB file with schemas raw, staging, intermediate and marts."""

from __future__ import annotations

import logging
import os
import re
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from greenops.raw_tables import ALL_TABLES, RawTable, empty
from greenops.sources.common import fetch_arrow, sql_text
from greenops.warehouse import PartitionWrite, SelectPartitionWrite

log = logging.getLogger(__name__)

RAW_SCHEMA = "raw"
#: duckdb 2.0.0 can return wrong sums from its compressed-materialization optimizer in some
#: GROUP BY + ORDER BY plans (found by our reporting tests); off on every connection we open.
SAFE_SETTINGS = "SET disabled_optimizers = 'compressed_materialization'"
_LOCK_PID = re.compile(r"PID (\d+)")
#: The name the warehouse file is attached under to a parsing connection.
_WAREHOUSE_ALIAS = "greenops_warehouse"


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB file."""


def retry_on_lock(open_fn, path: Path, max_wait_s: float | None = None, first_wait_s: float = 0.5):
    """Call ``open_fn`` (which opens or attaches ``path``), retrying with backoff while another
    process holds the file's lock.

    DuckDB allows one writing process per file, and a writer blocks readers too. We wait (doubling
    the pause up to 15 s) for at most ``max_wait_s`` (setting GREENOPS_LOCK_WAIT_S, default 600 s),
    then fail with a message naming the process that holds the file (DuckDB's error has its PID).
    """
    if max_wait_s is None:
        max_wait_s = float(os.environ.get("GREENOPS_LOCK_WAIT_S", "600"))
    deadline = time.monotonic() + max_wait_s
    wait, attempt = first_wait_s, 0
    while True:
        attempt += 1
        try:
            return open_fn()
        except (duckdb.IOException, duckdb.BinderException) as exc:
            if "lock" not in str(exc).lower():
                raise
            pid = _LOCK_PID.search(str(exc))
            holder = f"process {pid.group(1)}" if pid else "another process"
            msg = f"warehouse {path} is locked by {holder} (attempt {attempt})"
            if time.monotonic() + wait > deadline:
                raise WarehouseLockedError(f"{msg}; gave up after {max_wait_s:.0f} s: {exc}") from exc
            log.warning("%s; retrying in %.1f s", msg, wait)
            time.sleep(wait)
            wait = min(wait * 2, 15.0)


@contextmanager
def connect(path: Path, read_only: bool = False, max_wait_s: float | None = None, first_wait_s: float = 0.5):
    """Open the warehouse (waiting out another process's lock, see ``retry_on_lock``); UTC session."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = retry_on_lock(lambda: duckdb.connect(str(path), read_only=read_only), path, max_wait_s, first_wait_s)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(SAFE_SETTINGS)
        yield con
    finally:
        con.close()


def _quote(identifier: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", identifier):
        raise ValueError(f"not a valid identifier: {identifier!r}")
    return f'"{identifier}"'


class DuckDBWarehouse:
    def __init__(self, path: Path):
        self.path = Path(path)

    def ensure_raw_tables(self) -> None:
        with connect(self.path) as con:
            self._ensure(con)

    @staticmethod
    def _ensure(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> None:
        """Create the raw tables that are missing and add the columns a newer release added (one
        catalog query for all tables: this runs before every write)."""
        prefix = f"{_quote(catalog)}." if catalog else ""
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {prefix}{RAW_SCHEMA}")
        have: dict[str, set[str]] = {}
        for table_name, column in con.execute(
                "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = ? AND database_name = "
                + ("?" if catalog else "current_database()"), [RAW_SCHEMA, catalog] if catalog else [RAW_SCHEMA]).fetchall():
            have.setdefault(table_name, set()).add(column)
        for table in ALL_TABLES:
            columns = have.get(table.name)
            if columns is not None and set(table.columns) <= columns:
                continue
            con.register("template", empty(table))
            target = f"{prefix}{RAW_SCHEMA}.{_quote(table.name)}"
            if columns is None:
                con.execute(f"CREATE TABLE {target} AS SELECT * FROM template")
            else:
                # a newer release may add columns: add them to a warehouse made by an older one
                for column, type_ in con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM template)").fetchall():
                    if column not in columns:
                        con.execute(f"ALTER TABLE {target} ADD COLUMN {_quote(column)} {type_}")
            con.unregister("template")

    @staticmethod
    def _replace(con: duckdb.DuckDBPyConnection, writes: list, prefix: str = "") -> None:
        """Delete and insert every write's partitions in one transaction: all or nothing. A write's
        rows are its Arrow ``data`` or its ``select_sql`` on ``con``."""
        con.execute("BEGIN TRANSACTION")
        try:
            DuckDBWarehouse.write(con, writes, prefix)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    @staticmethod
    def write(con: duckdb.DuckDBPyConnection, writes: list, prefix: str = "") -> None:
        """``_replace``'s deletes and inserts, in the transaction that is open on ``con``."""
        for w in writes:
            target = f"{prefix}{RAW_SCHEMA}.{_quote(w.table.name)}"
            where, params = [], []
            if w.table.partition_column is not None:
                if not w.partitions:
                    raise ValueError(f"write to {target} names no partition")
                marks = ", ".join("?" for _ in w.partitions)
                where.append(f"{_quote(w.table.partition_column)} IN ({marks})")
                params.extend(w.partitions)
            for column, value in w.scope.items():
                where.append(f"{_quote(column)} = ?")
                params.append(value)
            con.execute(f"DELETE FROM {target}" + (f" WHERE {' AND '.join(where)}" if where else ""), params)
            if isinstance(w, SelectPartitionWrite):
                con.execute(f"INSERT INTO {target} BY NAME {w.select_sql}")
            else:
                con.register("incoming", w.data)
                con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM incoming")
                con.unregister("incoming")

    def replace_partitions(self, writes: list[PartitionWrite]) -> None:
        """Delete and insert every write's partitions in one transaction: all or nothing."""
        with connect(self.path) as con:
            self._ensure(con)
            self._replace(con, writes)

    def replace_partitions_from(self, con: duckdb.DuckDBPyConnection, writes: list[SelectPartitionWrite]) -> None:
        """``replace_partitions`` with each write's rows from a SELECT on ``con`` (the caller's DuckDB
        connection, e.g. the parsers' temp tables): the warehouse file is attached to ``con`` for the
        write (waiting out another process's lock), so the rows go from DuckDB to DuckDB directly."""
        with self.transaction_on(con) as prefix:
            self.write(con, writes, prefix)

    @contextmanager
    def transaction_on(self, con: duckdb.DuckDBPyConnection):
        """Attach the warehouse file to ``con`` (waiting out another process's lock) and open one
        transaction; yields the prefix of the attached raw schema's catalog. Commits when the block
        ends, rolls back if it raises (nothing changes), and detaches the file either way."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        retry_on_lock(lambda: con.execute(f"ATTACH {sql_text(str(self.path))} AS {_WAREHOUSE_ALIAS}"), self.path)
        try:
            self._ensure(con, _WAREHOUSE_ALIAS)
            con.execute("BEGIN TRANSACTION")
            try:
                yield f"{_WAREHOUSE_ALIAS}."
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        finally:
            con.execute(f"DETACH {_WAREHOUSE_ALIAS}")

    def delete_partitions_before(self, table: RawTable, cutoff: date) -> None:
        """Retention: delete a day-partitioned raw table's partitions before ``cutoff``."""
        with connect(self.path) as con:
            self._ensure(con)
            con.execute(f"DELETE FROM {RAW_SCHEMA}.{_quote(table.name)} WHERE {_quote(table.partition_column)} < ?", [cutoff])

    def query(self, sql: str, params: list | None = None) -> pa.Table:
        with connect(self.path, read_only=True) as con:
            return fetch_arrow(con, sql, params)
