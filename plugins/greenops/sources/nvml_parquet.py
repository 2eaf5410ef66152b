"""Our NVML collector's hourly Parquet dumps (``host=<name>/date=<YYYY-MM-DD>/*.parquet``).

The collector writes the raw telemetry schema's sample columns directly (``sample_ts_utc`` in UTC,
``power_w``, ``energy_counter_mj``, ...), so parsing is a column check and a range check.

Whole-file problems (unreadable, not Parquet, a required column missing, or a required column of the
wrong type: a timestamp that is not a timestamp, a power that is not a number) raise
``UnreadableFileError`` naming the file. Rows are rejected with their row number when they have no
timestamp, neither power nor energy counter, a negative power or energy counter, or a power above
2,000 W or 1.5 x the GPU's ``power_limit_w`` (the same rules as for nvidia-smi and dcgm).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from greenops.sources.common import (
    MAX_PLAUSIBLE_POWER_W, POWER_LIMIT_TOLERANCE, REJECT_SCHEMA, LandingFile, UnreadableFileError, fetch_arrow, sql_text,
)

REQUIRED = ("sample_ts_utc", "gpu_index", "power_w")
_NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
                 "FLOAT", "DOUBLE", "DECIMAL")
_INTEGER_TYPES = _NUMBER_TYPES[:9]


def _type_problem(column: str, type_: str) -> str | None:
    base = type_.split("(")[0].upper()
    if column == "sample_ts_utc" and not base.startswith("TIMESTAMP"):
        return f"column sample_ts_utc is {type_}, not a timestamp"
    if column == "gpu_index" and base not in _INTEGER_TYPES:
        return f"column gpu_index is {type_}, not an integer"
    if column in ("power_w", "energy_counter_mj", "power_limit_w") and base not in _NUMBER_TYPES:
        return f"column {column} is {type_}, not a number"
    return None


def parse(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    rows_sql, rejects_sql = stage(con, lf)
    return (fetch_arrow(con, rows_sql),
            fetch_arrow(con, f"SELECT * FROM ({rejects_sql}) ORDER BY _source_line").cast(REJECT_SCHEMA))


def stage(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[str, str]:
    """Check one file into a temp table of ``con``; returns the SELECTs of its samples and its rejects
    (valid until the next file is staged). Raises UnreadableFileError for a whole-file problem."""
    try:
        types = {r[0]: r[1] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(lf.path)]).fetchall()}
    except duckdb.Error as exc:
        raise UnreadableFileError(lf.rel, str(exc).splitlines()[0]) from exc
    missing = [c for c in REQUIRED if c not in types]
    if missing:
        raise UnreadableFileError(lf.rel, "Parquet file lacks column(s) " + ", ".join(missing))
    problems = [p for c, t in types.items() if (p := _type_problem(c, t))]
    if problems:
        raise UnreadableFileError(lf.rel, "; ".join(problems))
    energy = "energy_counter_mj" if "energy_counter_mj" in types else "NULL::DOUBLE"
    limit = "power_limit_w" if "power_limit_w" in types else "NULL::DOUBLE"
    # A view, not a copy: the ingestion reads the file straight into the warehouse (errors met while
    # reading it there name the file too: ingest._stage_file)
    host = sql_text(lf.host) if lf.host is not None else "NULL"
    host_value = f"coalesce({host}, host)" if "host" in types else host
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP VIEW pq_checked AS
            SELECT * {"EXCLUDE (host), " if "host" in types else ", "}{host_value} AS host,
                   {"" if "energy_counter_mj" in types else "NULL::DOUBLE AS energy_counter_mj, "}CASE
                WHEN sample_ts_utc IS NULL THEN 'sample_ts_utc is null'
                WHEN {host_value} IS NULL THEN 'no host: the file is not under host=<name>/ and has no host value'
                WHEN power_w IS NULL AND {energy} IS NULL THEN 'neither power nor energy counter'
                WHEN power_w < 0 THEN 'negative power: ' || power_w || ' W'
                WHEN power_w > {MAX_PLAUSIBLE_POWER_W} THEN 'power above any GPU''s limit: ' || power_w || ' W'
                WHEN {limit} > 0 AND power_w > {limit} * {POWER_LIMIT_TOLERANCE}
                    THEN 'power ' || power_w || ' W above the GPU''s limit of ' || {limit} || ' W'
                WHEN {energy} < 0 THEN 'negative energy counter'
            END AS reason
            FROM (SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _source_line
                  FROM read_parquet({sql_text(str(lf.path))}, file_row_number = true))
            """
        )
    except duckdb.Error as exc:
        raise UnreadableFileError(lf.rel, str(exc).splitlines()[0]) from exc
    rows = "SELECT * EXCLUDE (reason) FROM pq_checked WHERE reason IS NULL"
    rejects = """
        SELECT _source_line, reason,
               coalesce(CAST(sample_ts_utc AS VARCHAR), '(no time)') || ' gpu ' || coalesce(CAST(gpu_index AS VARCHAR), '?')
                   || ' power_w ' || coalesce(CAST(power_w AS VARCHAR), 'NULL') AS raw_record,
               sample_ts_utc::TIMESTAMP AS record_ts_utc
        FROM pq_checked WHERE reason IS NOT NULL"""
    return rows, rejects
