"""Our NVML collector's Parquet parts (``host=<name>/date=<YYYY-MM-DD>/nvml-<HH>-<part>.parquet``, a part a
minute by default: 1,440 a host and day), read many at a time.

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

from greenops import raw_tables as rt
from greenops.collector.storage import superseded
from greenops.sources.common import (
    MAX_PLAUSIBLE_POWER_W, POWER_LIMIT_TOLERANCE, REJECT_SCHEMA, LandingFile, UnreadableFileError, fetch_arrow, files_name,
    short_error, sql_text,
)

REQUIRED = ("sample_ts_utc", "gpu_index", "power_w")
_NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
                 "FLOAT", "DOUBLE", "DECIMAL")
_INTEGER_TYPES = _NUMBER_TYPES[:9]

#: Files staged together up to this size (bytes, in all) are read once into a temp table, and the
#: load's statements (insert, rejects, dates) read that; larger ones are read where they lie. A
#: part a minute of 8 GPUs is 14 KB: 2,048 of them about 28 MB.
COPIED_BYTES = 64 * 1024**2

#: The raw table's sample columns, the only ones read from a file (the collector writes exactly these).
SAMPLE_COLUMNS = [c for c in rt.GPU_TELEMETRY.columns if c != rt.GPU_TELEMETRY.partition_column
                  and c not in {f.name for f in rt.FILE_LINEAGE}]
#: The column read_parquet names each row's file in (not a name a collector file has).
_FILE = "_greenops_file"


def _type_problem(column: str, type_: str) -> str | None:
    base = type_.split("(")[0].upper()
    if column == "sample_ts_utc" and not base.startswith("TIMESTAMP"):
        return f"column sample_ts_utc is {type_}, not a timestamp"
    if column == "gpu_index" and base not in _INTEGER_TYPES:
        return f"column gpu_index is {type_}, not an integer"
    if column in ("power_w", "energy_counter_mj", "power_limit_w") and base not in _NUMBER_TYPES:
        return f"column {column} is {type_}, not a number"
    return None


def superseded_files(files: list[LandingFile]) -> set[LandingFile]:
    """The parts among ``files`` that the collector's compacted hour file beside them covers (the same
    rows): the load reads the compacted file instead (``storage.superseded``)."""
    folders: dict[object, dict[str, LandingFile]] = {}
    for lf in files:
        folders.setdefault(lf.path.parent, {})[lf.path.name] = lf
    return {same[name] for same in folders.values() for name in superseded(same)}


def parse(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    rows_sql, rejects_sql = stage_files(con, [(1, lf)])
    return (fetch_arrow(con, f"SELECT * EXCLUDE (_file_id) FROM ({rows_sql})"),
            fetch_arrow(con, f"SELECT * EXCLUDE (_file_id) FROM ({rejects_sql}) ORDER BY _source_line").cast(REJECT_SCHEMA))


def stage_files(con: duckdb.DuckDBPyConnection, files: list[tuple[int, LandingFile]]) -> tuple[str, str]:
    """Check files (their ``_file_id`` and themselves) into a temp view of ``con``, read by one statement
    however many there are (a collector writes a part a minute: 1,440 a host and day); returns the
    SELECTs of their samples and their rejects, each with its file's ``_file_id`` (valid until the next
    files are staged). Raises UnreadableFileError for a whole-file problem, naming the file (or, when a
    statement over many files fails, the first of them: ingest then reads each alone to find it).

    The files are grouped by their columns (names and types, from their footers: one read of all of
    them), each group read by one ``read_parquet`` of its files; each file's host, from its
    ``host=<name>/`` folder, is joined to its rows by the file's name."""
    paths = [str(lf.path) for _, lf in files]
    try:
        footers = con.execute("""
            SELECT file_name, list((name, type, converted_type, logical_type, scale, precision, repetition_type,
                                    num_children) ORDER BY column_id)
            FROM parquet_schema(?) GROUP BY file_name""", [paths]).fetchall()
    except duckdb.Error as exc:
        raise UnreadableFileError(files_name([lf for _, lf in files]), short_error(exc)) from exc
    signature = dict(footers)
    groups: dict[str, list[str]] = {}
    for path in paths:
        groups.setdefault(str(signature[path]), []).append(path)
    con.execute("CREATE OR REPLACE TEMP TABLE pq_files (filename VARCHAR, _file_id INTEGER, path_host VARCHAR)")
    con.execute("INSERT INTO pq_files SELECT unnest($paths), unnest($ids), unnest($hosts)",
                {"paths": paths, "ids": [i for i, _ in files], "hosts": [lf.host for _, lf in files]})
    by_path = {str(lf.path): lf for _, lf in files}
    selects = [_checked_select(_file_types(con, by_path[group[0]]), group) for group in groups.values()]
    # small files (the collector's parts) are read once into memory and checked there; larger ones
    # are read where they lie, by the statements that use them
    checked = "\nUNION ALL BY NAME\n".join(selects)
    try:
        if sum(lf.path.stat().st_size for _, lf in files) <= COPIED_BYTES:
            con.execute(f"CREATE OR REPLACE TEMP TABLE pq_copied AS {checked}")
            checked = "SELECT * FROM pq_copied"
        con.execute(f"CREATE OR REPLACE TEMP VIEW pq_checked AS {checked}")
    except duckdb.Error as exc:
        raise UnreadableFileError(files_name([lf for _, lf in files]), short_error(exc)) from exc
    rows = "SELECT * EXCLUDE (reason, raw_record) FROM pq_checked WHERE reason IS NULL"
    rejects = """SELECT _file_id, _source_line, reason, raw_record, sample_ts_utc AS record_ts_utc
                 FROM pq_checked WHERE reason IS NOT NULL"""
    return rows, rejects


def _file_types(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> dict[str, str]:
    """A file's columns and their types; UnreadableFileError when it is not Parquet, lacks a required
    column or has one of the wrong type."""
    try:
        types = {r[0]: r[1] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false)",
                                                 [str(lf.path)]).fetchall()}
    except duckdb.Error as exc:
        raise UnreadableFileError(lf.rel, short_error(exc)) from exc
    missing = [c for c in REQUIRED if c not in types]
    if missing:
        raise UnreadableFileError(lf.rel, "Parquet file lacks column(s) " + ", ".join(missing))
    problems = [p for c, t in types.items() if (p := _type_problem(c, t))]
    if problems:
        raise UnreadableFileError(lf.rel, "; ".join(problems))
    return types


def _checked_select(types: dict[str, str], paths: list[str]) -> str:
    """The samples of files with these columns, each with its file's id and line and the reason it is
    rejected (NULL for a good one) with the row as read (``raw_record``, for a rejected one). Only the
    raw table's sample columns are kept, the timestamp as TIMESTAMP: the groups' unions never meet a
    file's other columns, and a nanosecond timestamp in one part does not widen the others'."""
    energy = "energy_counter_mj" if "energy_counter_mj" in types else "NULL::DOUBLE"
    limit = "power_limit_w" if "power_limit_w" in types else "NULL::DOUBLE"
    host = "coalesce(f.path_host, p.host)" if "host" in types else "f.path_host"
    kept = ", ".join(f"CAST(p.{c} AS TIMESTAMP) AS {c}" if c == "sample_ts_utc" else f"p.{c}"
                     for c in SAMPLE_COLUMNS if c in types and c not in ("host", "energy_counter_mj"))
    files = "[" + ", ".join(sql_text(p) for p in paths) + "]"
    return f"""
        SELECT * EXCLUDE (read_ts, read_index, read_power),
               CASE WHEN reason IS NOT NULL THEN coalesce(CAST(read_ts AS VARCHAR), '(no time)') || ' gpu '
                    || coalesce(CAST(read_index AS VARCHAR), '?') || ' power_w ' || coalesce(CAST(read_power AS VARCHAR), 'NULL')
               END AS raw_record
        FROM (
            SELECT {kept}, {host} AS host, {energy} AS energy_counter_mj, f._file_id, p.file_row_number + 1 AS _source_line,
                   p.sample_ts_utc AS read_ts, p.gpu_index AS read_index, p.power_w AS read_power,
                   CASE
                       WHEN p.sample_ts_utc IS NULL THEN 'sample_ts_utc is null'
                       WHEN {host} IS NULL THEN 'no host: the file is not under host=<name>/ and has no host value'
                       WHEN p.power_w IS NULL AND {energy} IS NULL THEN 'neither power nor energy counter'
                       WHEN p.power_w < 0 THEN 'negative power: ' || p.power_w || ' W'
                       WHEN p.power_w > {MAX_PLAUSIBLE_POWER_W} THEN 'power above any GPU''s limit: ' || p.power_w || ' W'
                       WHEN {limit} > 0 AND p.power_w > {limit} * {POWER_LIMIT_TOLERANCE}
                           THEN 'power ' || p.power_w || ' W above the GPU''s limit of ' || {limit} || ' W'
                       WHEN {energy} < 0 THEN 'negative energy counter'
                   END AS reason
            FROM read_parquet({files}, filename = '{_FILE}', file_row_number = true, hive_partitioning = false) p
            JOIN pq_files f ON f.filename = p.{_FILE})"""
