"""The work behind each ingestion task: plain functions, callable without a scheduler.

Each function loads one UTC day (the DAG run's data interval) of one source: it finds the files that
may hold that day's rows, parses them, keeps the day's rows, sends bad rows to ``raw.quarantine``
with file, line and reason, and replaces the day's partition of the raw table and of the quarantine
in one transaction. Running a day twice leaves the same rows (only ``_load_id``/``_loaded_at`` say
when). A file that cannot be read at all raises ``UnreadableFileError`` naming it, and nothing of
that day is changed.

A dated file is read by the runs of its date and the days either side, so its rows more than a day
away from its date would never be loaded by any run: they are quarantined instead ('timestamp in the
future' / 'timestamp in the past', in the partition of the file's date), so that every row of every
file is either loaded or in quarantine. The rule uses the file's date, never the wall clock.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from greenops import raw_tables as rt
from greenops.settings import Settings, get_settings
from greenops.sources import dcgm, grid_intensity, inference_logs, inventory, nvidia_smi, nvml_parquet
from greenops.sources.common import fetch_arrow, REJECT_SCHEMA, LandingFile, files_for_day, new_connection
from greenops.warehouse import PartitionWrite, get_warehouse

log = logging.getLogger(__name__)

Parser = Callable[[duckdb.DuckDBPyConnection, LandingFile], tuple[pa.Table, pa.Table]]


@dataclass(frozen=True)
class FileSource:
    table: rt.RawTable
    subdir: str  # under the landing folder
    ts_column: str  # the UTC timestamp that decides a row's day
    key: tuple[str, ...]  # a row's identity: later duplicates are quarantined
    duplicate_reason: str


TELEMETRY = FileSource(rt.GPU_TELEMETRY, "gpu_telemetry", "sample_ts_utc",
                       ("host", "gpu_index", "mig_instance", "sample_ts_utc"), "duplicate sample (same GPU and timestamp)")
REQUESTS = FileSource(rt.INFERENCE_REQUESTS, "inference_logs", "request_ts_utc", ("request_id",), "duplicate request_id")
GRID = FileSource(rt.GRID_INTENSITY, "grid_intensity", "hour_utc", ("zone", "hour_utc"), "duplicate zone and hour")


def new_load_id(prefix: str = "manual") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _utcnow() -> datetime:
    # Lineage only (when the row was loaded); never used to decide what to load.
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _ingest(source: FileSource, day: date, parsers: dict[str, Parser], load_id: str, settings: Settings) -> dict:
    files = files_for_day(settings.landing_dir, source.subdir, day, tuple(parsers))
    con = new_connection()
    row_parts, reject_parts = [], []
    for lf in files:
        if lf.is_empty:
            log.warning("skipping empty file %s", lf.rel)
            continue
        parser = next(p for suffix, p in parsers.items() if lf.path.name.endswith(suffix))
        rows, rejects = parser(con, lf)
        rows = rt.conform(source.table, rows.append_column("_source_file", pa.array([lf.rel] * rows.num_rows, pa.string()))) if rows.num_rows else rt.empty(source.table)
        far_rejects = REJECT_SCHEMA.empty_table()
        if rows.num_rows and lf.file_date is not None:
            rows, far_rejects = _outside_file_window(con, source, lf, rows)
        first_day = None
        if rows.num_rows:
            first_day = pc.min(rows.column(source.ts_column)).as_py().date()
        # a reject without its own timestamp belongs to the file's day (folder/name, else its first row's);
        # so does one whose timestamp is a day or more from a dated file's date (no run of its own day
        # reads that file)
        fallback = lf.file_date or first_day or day
        rejects = pa.concat_tables([rejects.cast(REJECT_SCHEMA), far_rejects])
        reject_days = [ts.date() if ts and (lf.file_date is None or abs((ts.date() - lf.file_date).days) <= FILE_DATE_TOLERANCE_DAYS)
                       else fallback for ts in rejects.column("record_ts_utc").to_pylist()]
        rejects = rejects.append_column("partition_date", pa.array(reject_days, pa.date32()))
        rejects = rejects.append_column("_source_file", pa.array([lf.rel] * rejects.num_rows, pa.string()))
        row_parts.append(rows)
        reject_parts.append(rejects)
        log.info("%s: %d rows, %d rejected", lf.rel, rows.num_rows, rejects.num_rows)

    reject_schema = REJECT_SCHEMA.append(pa.field("partition_date", pa.date32())).append(pa.field("_source_file", pa.string()))
    con.register("all_rows", pa.concat_tables(row_parts) if row_parts else rt.empty(source.table))
    con.register("all_rejects", pa.concat_tables(reject_parts) if reject_parts else reject_schema.empty_table())
    key = ", ".join(source.key)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE day_rows AS
        SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY _source_file, _source_line) AS _copy
        FROM all_rows WHERE CAST({source.ts_column} AS DATE) = ?
        """,
        [day],
    )
    loaded_at = _utcnow()
    data = fetch_arrow(con, f"SELECT * EXCLUDE (_copy, {source.table.partition_column}, _load_id, _loaded_at), CAST({source.ts_column} AS DATE) AS {source.table.partition_column}, ? AS _load_id, ? AS _loaded_at FROM day_rows WHERE _copy = 1 ORDER BY {source.ts_column}, _source_file, _source_line",
        [load_id, loaded_at],)
    quarantine = fetch_arrow(con, f"""
        SELECT ? AS source, partition_date, reason, raw_record, _source_file, _source_line, ? AS _load_id, ? AS _loaded_at
        FROM all_rejects WHERE partition_date = ?
        UNION ALL
        SELECT ?, CAST({source.ts_column} AS DATE), ?, 'duplicate of ' || first_value(_source_file || ':' || _source_line) OVER (PARTITION BY {key} ORDER BY _copy),
               _source_file, _source_line, ?, ?
        FROM day_rows QUALIFY _copy > 1
        ORDER BY _source_file, _source_line
        """,
        [source.table.name, load_id, loaded_at, day, source.table.name, source.duplicate_reason, load_id, loaded_at],)
    get_warehouse(settings).replace_partitions([
        PartitionWrite(source.table, rt.conform(source.table, data), (day,)),
        PartitionWrite(rt.QUARANTINE, rt.conform(rt.QUARANTINE, quarantine), (day,), {"source": source.table.name}),
    ])
    summary = {"day": day.isoformat(), "files": len(files), "rows": data.num_rows, "quarantined": quarantine.num_rows}
    log.info("%s %s: %s", source.table.name, day, summary)
    return summary


#: How far (days) a dated file's rows may be from its date: the runs of those days read the file.
FILE_DATE_TOLERANCE_DAYS = 1


def _outside_file_window(con: duckdb.DuckDBPyConnection, source: FileSource, lf: LandingFile,
                         rows: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Split off the rows of a dated file whose UTC day is more than a day from the file's date.

    Only the runs of the file's date and the days either side read the file, so such a row would
    silently never be loaded. It is rejected instead, with no timestamp of its own so that it lands in
    the quarantine partition of the file's date (whose run reads the file), and its parsed values as
    the record. Returns (rows kept, rejects).
    """
    days = pc.cast(rows.column(source.ts_column), pa.date32())
    lo = lf.file_date - timedelta(days=FILE_DATE_TOLERANCE_DAYS)
    hi = lf.file_date + timedelta(days=FILE_DATE_TOLERANCE_DAYS)
    outside = pc.fill_null(pc.or_(pc.less(days, pa.scalar(lo, pa.date32())), pc.greater(days, pa.scalar(hi, pa.date32()))), False)
    if not pc.any(outside).as_py():
        return rows, REJECT_SCHEMA.empty_table()
    con.register("far_rows", rows.filter(outside))
    skip = {source.table.partition_column} | {f.name for f in rt.LINEAGE}
    values = ", ".join(f"{c} := {c}" for c in source.table.columns if c not in skip)  # the parsed row, as JSON
    rejects = fetch_arrow(con, f"""
        SELECT _source_line,
               CASE WHEN CAST({source.ts_column} AS DATE) > ? THEN 'timestamp in the future: ' || {source.ts_column}
                        || ' UTC is more than a day after the file''s date ' || ?
                    ELSE 'timestamp in the past: ' || {source.ts_column}
                        || ' UTC is more than a day before the file''s date ' || ? END AS reason,
               CAST(to_json(struct_pack({values})) AS VARCHAR) AS raw_record,
               NULL::TIMESTAMP AS record_ts_utc
        FROM far_rows ORDER BY _source_line
        """, [hi, lf.file_date.isoformat(), lf.file_date.isoformat()])
    con.unregister("far_rows")
    return rows.filter(pc.invert(outside)), rejects.cast(REJECT_SCHEMA)


def load_inventory(load_id: str | None = None, settings: Settings | None = None) -> dict:
    """Replace the inventory snapshot tables from the fleet file."""
    s = settings or get_settings()
    inv = inventory.load(s.fleet_file)
    load_id = load_id or new_load_id()
    loaded_at = _utcnow()
    writes = []
    for spec, table in [(rt.INVENTORY_SITES, inv.sites), (rt.INVENTORY_HOSTS, inv.hosts), (rt.INVENTORY_MODELS, inv.models),
                        (rt.INVENTORY_PROJECTS, inv.projects), (rt.INVENTORY_DEPLOYMENTS, inv.deployments)]:
        n = table.num_rows
        table = table.drop_columns(["_source_file", "_load_id", "_loaded_at", "_source_line"])
        table = table.append_column("_source_file", pa.array([s.fleet_file.name] * n, pa.string()))
        table = table.append_column("_load_id", pa.array([load_id] * n, pa.string()))
        table = table.append_column("_loaded_at", pa.array([loaded_at] * n, pa.timestamp("us")))
        writes.append(PartitionWrite(spec, rt.conform(spec, table)))
    get_warehouse(s).replace_partitions(writes)
    return {"sites": inv.sites.num_rows, "hosts": inv.hosts.num_rows, "deployments": len(inv.deployment_names())}


def ingest_gpu_telemetry(day: date, load_id: str | None = None, settings: Settings | None = None) -> dict:
    """Load one UTC day of GPU telemetry (nvidia-smi CSV, dcgm-exporter scrapes, collector Parquet)."""
    s = settings or get_settings()
    host_tz = inventory.load(s.fleet_file).host_timezones()

    def smi(con, lf):
        return nvidia_smi.parse(con, lf, host_tz.get(lf.host, "UTC"))

    parsers: dict[str, Parser] = {".csv": smi, ".csv.gz": smi, ".prom": dcgm.parse, ".prom.gz": dcgm.parse,
                                  ".parquet": nvml_parquet.parse}
    return _ingest(TELEMETRY, day, parsers, load_id or new_load_id(), s)


def ingest_inference_logs(day: date, load_id: str | None = None, settings: Settings | None = None) -> dict:
    """Load one UTC day of inference request logs (JSON Lines, plain or gzip)."""
    s = settings or get_settings()
    known = inventory.load(s.fleet_file).deployment_names()

    def parse(con, lf):
        return inference_logs.parse(con, lf, known)

    return _ingest(REQUESTS, day, {".jsonl": parse, ".jsonl.gz": parse}, load_id or new_load_id(), s)


def ingest_grid_intensity(day: date, load_id: str | None = None, settings: Settings | None = None) -> dict:
    """Load one UTC day of hourly grid carbon intensity drops."""
    s = settings or get_settings()
    return _ingest(GRID, day, {".csv": grid_intensity.parse}, load_id or new_load_id(), s)
