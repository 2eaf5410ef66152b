"""Publishing the marts as a read-only snapshot for analysts and BI tools.

DuckDB lets one process write a file, and a process holding it blocks the others, readers included.
So readers never open the warehouse the refresh writes: after each successful transformation the
marts are copied into a new DuckDB file, which then replaces the published one with an atomic rename.
A reader that has the old snapshot open keeps reading it (its open file is the old one) and sees a
consistent old version; the next connection sees the new one. A refresh never waits for a reader.
"""

from __future__ import annotations

import logging
import os
import re
import uuid

from greenops.settings import Settings, get_settings
import duckdb

from greenops.warehouse.duckdb_warehouse import SAFE_SETTINGS, retry_on_lock

log = logging.getLogger(__name__)

#: Schemas copied into the snapshot (the ones analysts and dashboards read).
PUBLISHED_SCHEMAS = ("marts", "reporting")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"unexpected object name in the warehouse: {name!r}")
    return f'"{name}"'


def publish_snapshot(settings: Settings | None = None) -> dict:
    """Copy the published schemas into a new file and swap it in. Returns what was copied."""
    s = settings or get_settings()
    target = s.published_path
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    copied: dict[str, int] = {}
    try:
        with duckdb.connect() as con:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(SAFE_SETTINGS)
            con.execute("ATTACH ? AS snapshot", [str(tmp)])
            retry_on_lock(lambda: con.execute("ATTACH ? AS warehouse (READ_ONLY)", [str(s.warehouse_path)]), s.warehouse_path)
            objects = con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_catalog = 'warehouse' AND table_schema IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1, 2",
                [list(PUBLISHED_SCHEMAS)],
            ).fetchall()
            for schema in sorted({o[0] for o in objects}):
                con.execute(f"CREATE SCHEMA snapshot.{_ident(schema)}")
            for schema, table in objects:
                name = f"{_ident(schema)}.{_ident(table)}"
                con.execute(f"CREATE TABLE snapshot.{name} AS SELECT * FROM warehouse.{name}")
                copied[f"{schema}.{table}"] = con.execute(f"SELECT count(*) FROM snapshot.{name}").fetchone()[0]
            con.execute("DETACH warehouse")
            con.execute("DETACH snapshot")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)  # atomic on one filesystem: readers see the old file or the new one
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    log.info("published %d tables to %s", len(copied), target)
    return {"path": str(target), "tables": len(copied), "rows": sum(copied.values())}
