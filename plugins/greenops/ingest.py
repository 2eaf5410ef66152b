"""The work behind each ingestion task: plain functions, callable without a scheduler.

Each function loads one UTC day (the DAG run's data interval) of one source: it finds the files that
may hold that day's rows, parses them, keeps the day's rows, sends bad rows to ``raw.quarantine``
with file, line and reason, and replaces the day's partition of the raw table and of the quarantine
in one transaction, with the files it read in ``raw.loaded_files`` (each row carries its file's id and
its line). Running a day twice leaves the same rows (only ``_load_id``/``_loaded_at`` say when). A
file that cannot be read at all raises ``UnreadableFileError`` naming it, and nothing of that day is
changed.

A dated file is read by the runs of its date and the days either side, so its rows more than a day
away from its date would never be loaded by any run: they are quarantined instead ('timestamp in the
future' / 'timestamp in the past', in the partition of the file's date), so that every row of every
file is either loaded or in quarantine. A format whose dates are UTC (the collector's Parquet parts)
is read by the run of its date only, and its rows of other days are quarantined the same way. The
rule uses the file's date, never the wall clock. A file whose rows another file beside it holds (a
collector part and its compacted hour, ``Format.superseded``) is not read, nor is a file of another
date that an earlier load found, unchanged, to hold none of the day's rows (``_known_elsewhere``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable, Iterable, Iterator

import duckdb
import pyarrow as pa

from greenops import raw_tables as rt
from greenops.settings import Settings, get_settings
from greenops.sources import dcgm, grid_intensity, inference_logs, inventory, nvidia_smi, nvml_parquet
from greenops.sources.common import (
    LandingFile, UnreadableFileError, files_for_day, files_name, new_connection, short_error, side_connection, sql_text,
)
from greenops.warehouse import PartitionWrite, SelectPartitionWrite, get_warehouse, replace_partitions_from
from greenops.warehouse.duckdb_warehouse import RAW_SCHEMA

log = logging.getLogger(__name__)

Parser = Callable[[duckdb.DuckDBPyConnection, LandingFile], tuple[pa.Table, pa.Table]]
#: Parses one file into temp tables of the connection; returns the SELECTs of its rows and its rejects.
FileStager = Callable[[duckdb.DuckDBPyConnection, LandingFile], tuple[str | None, str | None]]
#: Parses files, given with their ids, into temp tables or views of the connection; returns the SELECTs
#: of their rows and rejects, each with its file's ``_file_id`` (valid until the next files are staged).
Stager = Callable[[duckdb.DuckDBPyConnection, list[tuple[int, LandingFile]]], tuple[str | None, str | None]]


@dataclass(frozen=True)
class Format:
    """A format a FileSource reads: its stager, its name in ``loaded_files.source_format``, how many
    files of one date its stager reads at once (the collector's small Parquet parts: thousands), and
    whether a file's date (folder or name) is the UTC date of all its rows (the collector's parts: it
    starts a new file at each UTC hour) rather than a local date."""
    stage: Stager
    name: str
    files_per_read: int = 1
    utc_dated: bool = False
    #: The files of this format found for the day that are not read: another file holds their rows
    #: (the collector's compacted hour and its parts).
    superseded: Callable[[list[LandingFile]], set[LandingFile]] = lambda files: set()
    #: Its rows' timestamps give their UTC instant by themselves (an offset, epoch milliseconds): a
    #: file's UTC span, once a load has taken it, holds as long as the file is unchanged, and the runs
    #: of other days need not read it again (_known_elsewhere).
    absolute_timestamps: bool = False
    #: Or the time zone its local timestamps are read in (nvidia-smi: the host's, from the fleet file):
    #: a span taken in that zone holds while the file and the zone are unchanged.
    time_zone: Callable[[LandingFile], str] | None = None
    #: Its stager copies each file into tables (request logs and dcgm scrapes their text, nvidia-smi CSV
    #: its checked rows), replaced file after file. A transaction keeps every table it replaced until it
    #: commits, so under the load's transaction (the DuckDB warehouse) a day's tables filled the load's
    #: memory and spilled: 5 GB for the reference day's request logs, 5.1-5.9 GB for its nvidia-smi CSV.
    #: Such a stager runs on a side connection of its own, from which the checked rows are streamed to
    #: the load's insert (docs/benchmarks.md, rounds 18 and 19). The collector's Parquet is read where
    #: it lies (a view): nothing to free.
    stage_apart: bool = False

    def zone_of(self, lf: LandingFile) -> str | None:
        return self.time_zone(lf) if self.time_zone else None

    @property
    def span_reusable(self) -> bool:
        """Whether a file's UTC span taken by one load can spare the runs of other days its reading."""
        return self.absolute_timestamps or self.time_zone is not None

    @property
    def date_tolerance_days(self) -> int:
        """How far (days) a dated file's rows may be from its date: the runs of those days read the file."""
        return 0 if self.utc_dated else FILE_DATE_TOLERANCE_DAYS


def one_at_a_time(stage: FileStager, name: str, absolute_timestamps: bool = False,
                  time_zone: Callable[[LandingFile], str] | None = None, stage_apart: bool = False) -> Format:
    """A format whose stager parses one file: its rows and rejects get the file's id."""
    def stage_files(con: duckdb.DuckDBPyConnection, files: list[tuple[int, LandingFile]]) -> tuple[str | None, str | None]:
        (file_id, lf), = files
        return tuple(None if sql is None else f"SELECT *, {file_id} AS _file_id FROM ({sql})" for sql in stage(con, lf))
    return Format(stage_files, name, absolute_timestamps=absolute_timestamps, time_zone=time_zone, stage_apart=stage_apart)


#: The ending of a file's name -> its format.
Formats = dict[str, Format]


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


#: DuckDB memory for one ingestion run. Beyond it DuckDB spills to a temporary folder, so a large
#: fleet's day (86 million samples at 1,000 GPUs x 1 Hz) loads within a few GB of RAM.
INGEST_MEMORY_LIMIT = "2GB"

#: Collector Parquet parts read by one statement. A part a minute is 1,440 files a host and day; read
#: one at a time, the parts of one host's day took 22.2 s to load, read together 1.3 s (the reference
#: day's 180,000: about 80 minutes -> 163 s; docs/benchmarks.md, round 12).
PARQUET_FILES_PER_READ = 2048

#: How far (days) a dated file's rows may be from its date, unless the date is UTC (Format.utc_dated):
#: local dates differ from UTC dates by up to a day.
FILE_DATE_TOLERANCE_DAYS = 1


def _staged(parser: Parser) -> FileStager:
    """A parser that returns Arrow tables, as a stager: its tables are registered on the connection."""
    def stage(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[str | None, str | None]:
        rows, rejects = parser(con, lf)
        con.register("parsed_rejects", rejects)
        if not rows.num_columns:
            return None, "SELECT * FROM parsed_rejects"
        con.register("parsed_rows", rows)
        return "SELECT * FROM parsed_rows", "SELECT * FROM parsed_rejects"
    return stage


def load_connection(spill: str) -> duckdb.DuckDBPyConnection:
    """The parsing connection of one load: at most INGEST_MEMORY_LIMIT of memory, spilling beyond it
    to ``spill`` (a temporary folder the caller removes)."""
    con = new_connection()
    con.execute(f"SET memory_limit = {sql_text(INGEST_MEMORY_LIMIT)}")
    con.execute(f"SET temp_directory = {sql_text(spill)}")
    return con


def raw_column_types(con: duckdb.DuckDBPyConnection, table: rt.RawTable) -> dict[str, str]:
    """A raw table's columns and their DuckDB types, in order."""
    con.register("raw_template", rt.empty(table))
    try:
        return dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM raw_template)").fetchall())
    finally:
        con.unregister("raw_template")


def conformed_columns(types: dict[str, str], have: Iterable[str], computed: dict[str, str]) -> str:
    """The SELECT list that puts a parsed file's rows into a raw table's columns and types: the lineage
    columns from the load's parameters ($file, $load_id, $loaded_at; a FILE_TABLES row's ``_file_id`` is parsed),
    ``computed`` columns from their expressions, the parsed columns (``have``) cast, absent columns NULL."""
    special = {"_source_file": "$file", "_load_id": "$load_id", "_loaded_at": "$loaded_at::TIMESTAMP", **computed}
    have = set(have)
    return ", ".join(f"{special[c]} AS {c}" if c in special else f"CAST({c} AS {t}) AS {c}" if c in have else f"NULL::{t} AS {c}"
                     for c, t in types.items())


def _ingest(source: FileSource, day: date, formats: Formats, load_id: str, settings: Settings) -> dict:
    """Parse the day's files into one DuckDB connection, keep the day's rows, quarantine the rest with
    their reasons, and replace the day's partitions. The rows stay in DuckDB from file to warehouse:
    a DuckDB warehouse is attached first and each file's rows go straight into the raw table, in one
    transaction (the day's partition deleted first) that commits after the last file (a format that
    copies each file into tables is staged beside it and its rows streamed in: Format.stage_apart); other
    warehouses receive the day from a temp table as Arrow. The files read are numbered in path order
    (``_file_id``) and written to ``raw.loaded_files`` with the day."""
    def format_of(lf: LandingFile) -> Format:
        return next(f for suffix, f in formats.items() if lf.path.name.endswith(suffix))

    # files_for_day: a dated file is read by the runs of its date and the days either side; a file
    # dated in UTC (Format.utc_dated) by the run of its date only
    files = [lf for lf in files_for_day(settings.landing_dir, source.subdir, day, tuple(formats))
             if lf.file_date in (None, day) or not format_of(lf).utc_dated]
    # each file's size and modification time, taken once: emptiness here, lineage and _known_elsewhere below
    stat = {lf: lf.path.stat() for lf in files}
    empty = {lf for lf in files if stat[lf].st_size == 0}
    for lf in sorted(empty, key=lambda lf: lf.path):
        log.warning("skipping empty file %s", lf.rel)
    files = [lf for lf in files if lf not in empty]
    # after the empty files: an empty compacted file (a copy cut short) hides no part
    skipped = set().union(*(f.superseded([lf for lf in files if format_of(lf) is f]) for f in set(formats.values())))
    if skipped:
        log.info("%d files not read: a compacted file beside them holds their rows", len(skipped))
        files = [lf for lf in files if lf not in skipped]
    table, ts, key, part = source.table, source.ts_column, ", ".join(source.key), source.table.partition_column
    loaded_at = _utcnow()
    warehouse = get_warehouse(settings)
    # numbered in path order before any is left unread, so a file's id does not depend on what an
    # earlier load found (a rerun gives the same ids)
    numbered = list(enumerate(files, start=1))
    fmt = {file_id: format_of(lf) for file_id, lf in numbered}
    stats = {file_id: stat[lf] for file_id, lf in numbered}
    zones = {i: fmt[i].zone_of(lf) for i, lf in numbered}
    elsewhere = _known_elsewhere(warehouse, table, day, [(i, lf, stats[i], zones[i]) for i, lf in numbered
                                                         if lf.file_date != day and fmt[i].span_reusable])
    if elsewhere:
        log.info("%d files not read: unchanged since a load found all their rows outside %s", len(elsewhere), day)
    direct = getattr(warehouse, "transaction_on", None)
    with tempfile.TemporaryDirectory(prefix="greenops-ingest-") as spill:
        con = load_connection(spill)
        try:
            types = raw_column_types(con, table)
            con.execute("""CREATE TEMP TABLE day_rejects (_source_line BIGINT, reason VARCHAR, raw_record VARCHAR,
                                                         partition_date DATE, _source_file VARCHAR)""")
            con.execute("""CREATE TEMP TABLE day_files (_file_id INTEGER, _source_file VARCHAR, source_format VARCHAR,
                                                       file_size_bytes BIGINT, file_modified_utc TIMESTAMP,
                                                       first_ts_utc TIMESTAMP, last_ts_utc TIMESTAMP, time_zone VARCHAR)""")
            with direct(con) if direct else nullcontext(None) as catalog:
                if catalog is None:
                    target = "day_rows"
                    con.execute("CREATE TEMP TABLE day_rows (" + ", ".join(f"{c} {t}" for c, t in types.items()) + ")")
                else:
                    target = f"{catalog}{RAW_SCHEMA}.{table.name}"
                    con.execute(f"DELETE FROM {target} WHERE {part} = ?", [day])
                day_sql = f"SELECT * FROM {target} WHERE {part} = DATE {sql_text(day.isoformat())}"
                if numbered:
                    con.execute("""INSERT INTO day_files SELECT unnest($ids), unnest($files), unnest($formats), unnest($sizes),
                                          unnest($modified::TIMESTAMP[]), unnest($firsts::TIMESTAMP[]), unnest($lasts::TIMESTAMP[]),
                                          unnest($zones::VARCHAR[])""",
                                {"ids": list(fmt), "files": [lf.rel for _, lf in numbered], "formats": [f.name for f in fmt.values()],
                                 "sizes": [st.st_size for st in stats.values()], "modified": [_modified_utc(st) for st in stats.values()],
                                 "firsts": [elsewhere[i][0] if i in elsewhere else None for i in fmt],
                                 "lasts": [elsewhere[i][1] if i in elsewhere else None for i in fmt], "zones": list(zones.values())})
                sides = [side_connection(con), side_connection(con)] if catalog is not None else []
                reads = _reads([(i, lf) for i, lf in numbered if i not in elsewhere], fmt)
                with closing(_stage_ahead(reads, fmt, con, sides)) as staged:
                    for read, f, work, staging in staged:
                        # a stager may leave the files to be read by the insert (a view over them): an error
                        # there is a file's too, and names it
                        try:
                            rows_sql, rejects_sql = staging()
                            _stage_files(con, work, source, read, target, rows_sql, rejects_sql, types, day, f.date_tolerance_days)
                        except (UnreadableFileError, duckdb.ConversionException, duckdb.InvalidInputException) as exc:
                            error = _failing_file(read, f.stage, source, types, exc)
                            if error is exc:
                                raise
                            raise error from exc
                for side in sides:
                    side.close()

                # duplicates: the first copy (by file and line) is loaded, the others are quarantined. The
                # day is grouped by one hash of the key (a single integer: half the time of the key's
                # columns), a batch of files at a time (_duplicate_batches); the rows of repeated hashes
                # are then numbered by the key itself, so a hash collision of two different keys
                # quarantines nothing.
                con.execute("CREATE TEMP TABLE dup_keys (_key_hash UBIGINT)")
                for batch in _duplicate_batches(con, day_sql, source.key):
                    where = f" WHERE _file_id IN ({', '.join(map(str, batch))})" if batch else ""
                    con.execute(f"INSERT INTO dup_keys SELECT hash({key}) FROM ({day_sql}){where} "
                                "GROUP BY ALL HAVING count(*) > 1")
                con.execute(f"""
                    CREATE TEMP TABLE copies AS
                    SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY _file_id, _source_line) AS _copy
                    FROM ({day_sql}) r WHERE hash({key}) IN (SELECT _key_hash FROM dup_keys)
                    """)
                has_copies = con.execute("SELECT count(*) FROM copies").fetchall()[0][0] > 0
                later = "SELECT _file_id, _source_line FROM copies WHERE _copy > 1"
                if catalog is None and has_copies:
                    data_sql = f"SELECT r.* FROM day_rows r ANTI JOIN ({later}) c USING (_file_id, _source_line)"
                else:
                    data_sql = day_sql
                    if has_copies:
                        con.execute(f"""DELETE FROM {target} t USING ({later}) c WHERE t.{part} = ?
                                        AND t._file_id = c._file_id AND t._source_line = c._source_line""", [day])
                run = f"{sql_text(load_id)} AS _load_id, TIMESTAMP {sql_text(str(loaded_at))} AS _loaded_at"
                quarantine_sql = f"""
                    SELECT {sql_text(table.name)} AS source, partition_date, reason, raw_record, _source_file, _source_line, {run}
                    FROM day_rejects
                    UNION ALL
                    SELECT {sql_text(table.name)}, CAST({ts} AS DATE), {sql_text(source.duplicate_reason)},
                           'duplicate of ' || first_value(f._source_file || ':' || c._source_line) OVER (PARTITION BY {key} ORDER BY _copy),
                           f._source_file, c._source_line, {run}
                    FROM copies c JOIN day_files f USING (_file_id) QUALIFY _copy > 1
                    ORDER BY _source_file, _source_line
                    """
                files_sql = f"""SELECT {sql_text(table.name)} AS raw_table, DATE {sql_text(day.isoformat())} AS partition_date,
                                       *, {run} FROM day_files ORDER BY _file_id"""
                n_rows = con.execute(f"SELECT count(*) FROM ({data_sql})").fetchall()[0][0]
                n_quarantined = con.execute(f"SELECT count(*) FROM ({quarantine_sql})").fetchall()[0][0]
                lineage = [SelectPartitionWrite(rt.QUARANTINE, quarantine_sql, (day,), {"source": table.name}),
                           SelectPartitionWrite(rt.LOADED_FILES, files_sql, (day,), {"raw_table": table.name})]
                if catalog is None:
                    replace_partitions_from(warehouse, con, [SelectPartitionWrite(table, data_sql, (day,)), *lineage])
                else:
                    warehouse.write(con, lineage, catalog)  # committed with the rows when the block ends
        finally:
            con.close()
    summary = {"day": day.isoformat(), "files": len(files), "rows": n_rows, "quarantined": n_quarantined}
    log.info("%s %s: %s", table.name, day, summary)
    return summary


def _modified_utc(st: os.stat_result) -> datetime:
    """A file's modification time (UTC, to the microsecond, as the warehouse keeps it)."""
    return datetime(1970, 1, 1) + timedelta(microseconds=st.st_mtime_ns // 1000)


def _naive_utc(value: datetime) -> datetime:
    """A warehouse's timestamp as naive UTC (BigQuery returns them with the UTC zone, DuckDB without)."""
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _known_elsewhere(warehouse, table: rt.RawTable, day: date,
                     candidates: list[tuple[int, LandingFile, os.stat_result, str | None]]) -> dict[int, tuple[datetime, datetime]]:
    """The candidate files (of another date than ``day``, or undated; each with the time zone its local
    timestamps are read in, None for absolute ones) that need not be read: a load of the days around
    (``raw.loaded_files``, partitions ``day`` +-2) took the UTC span of all their rows in the same zone,
    they are unchanged since (the same size and modification time), and that span misses ``day``.
    Returns each one's id -> (first, last) timestamp, recorded again for ``day``.

    A day's run reads the files dated the day before and after, for the rows local dates put across
    midnight: usually none or a few of each file's. Without this, every daily run parsed the day
    before's request logs a second time: 20 million requests for none (docs/benchmarks.md, round 16).
    The run of a file's own date always reads it (it quarantines the rows far from that date)."""
    if not candidates:
        return {}
    warehouse.ensure_raw_tables()
    known = warehouse.query(
        f"""SELECT _source_file, file_size_bytes, file_modified_utc, time_zone,
                   min(first_ts_utc) AS first_ts_utc, max(last_ts_utc) AS last_ts_utc
            FROM raw.{rt.LOADED_FILES.name}
            WHERE raw_table = ? AND partition_date BETWEEN ? AND ? AND first_ts_utc IS NOT NULL
            GROUP BY _source_file, file_size_bytes, file_modified_utc, time_zone""",
        [table.name, day - timedelta(days=2), day + timedelta(days=2)]).to_pylist()
    spans = {(r["_source_file"], r["file_size_bytes"], _naive_utc(r["file_modified_utc"]), r["time_zone"]):
             (_naive_utc(r["first_ts_utc"]), _naive_utc(r["last_ts_utc"])) for r in known}
    start, end = datetime.combine(day, time()), datetime.combine(day + timedelta(days=1), time())
    found = {}
    for file_id, lf, st, zone in candidates:
        span = spans.get((lf.rel, st.st_size, _modified_utc(st), zone))
        if span is not None and (span[1] < start or span[0] >= end):
            found[file_id] = span
    return found


#: Rows of a day whose keys are grouped by one query in the duplicate search. At the reference size
#: (86.4 M samples in 125 files, 2 cores) the day's hash table of 86.4 M keys was the telemetry
#: load's peak memory: 2.1 GB, now 0.77 GB; the search 6.1 -> 5.0 s. Over the committed table, one or
#: two files (0.7-1.4 M rows) a query took 4.1-4.3 s in all, four 5.7 s, sixteen 7.6 s, the whole day
#: 8.2-9.9 s (docs/benchmarks.md, round 7).
DUPLICATE_BATCH_ROWS = 1_500_000


def _duplicate_batches(con: duckdb.DuckDBPyConnection, day_sql: str, key: tuple[str, ...]) -> list[list[int]]:
    """The day's files (``_file_id``) in batches such that no key occurs in two batches: each batch's
    duplicates can be found on its own. [[]] (one batch, no filter) when the key cannot tell files apart.

    Two files can share a key only if they hold the same entity (the key but its last column: a GPU,
    a grid zone) over overlapping ranges of the last column (the time); such files, and the files
    chained to them that way, stay in one batch. An entity with a NULL in the last column overlaps
    everything of its entity. Batches are then filled with whole groups up to DUPLICATE_BATCH_ROWS,
    in file order (the day's rows are stored file by file, so a batch reads its own row groups)."""
    entity, last = list(key[:-1]), key[-1]
    if not entity:  # a request id: nothing narrower than the id itself
        return [[]]
    cols = ", ".join(entity)
    spans = con.execute(f"SELECT _file_id, {cols}, min({last}), max({last}), count({last}) < count(*), count(*) "
                        f"FROM ({day_sql}) GROUP BY ALL").fetchall()
    parent: dict[int, int] = {}

    def root(f: int) -> int:
        while parent.setdefault(f, f) != f:
            f = parent[f] = parent[parent[f]]
        return f

    by_entity: dict[tuple, list[tuple]] = {}
    rows: dict[int, int] = {}
    for f, *rest in spans:
        *ent, lo, hi, has_null, n = rest
        by_entity.setdefault(tuple(ent), []).append((lo, hi, has_null, f))
        rows[f] = rows.get(f, 0) + n
        root(f)
    for ranges in by_entity.values():
        if any(has_null or lo is None for lo, _, has_null, _ in ranges):
            for _, _, _, f in ranges:
                parent[root(f)] = root(ranges[0][3])
            continue
        end, first = None, None
        for lo, hi, _, f in sorted(ranges, key=lambda r: (r[0], r[3])):
            if first is not None and lo <= end:
                parent[root(f)] = root(first)
                end = max(end, hi)
            else:
                first, end = f, hi
    groups: dict[int, list[int]] = {}
    for f in sorted(rows):
        groups.setdefault(root(f), []).append(f)
    batches: list[list[int]] = []
    size = 0
    for files in sorted(groups.values()):
        n = sum(rows[f] for f in files)
        if not batches or size + n > DUPLICATE_BATCH_ROWS:
            batches.append([])
            size = 0
        batches[-1].extend(files)
        size += n
    return batches or [[]]


def _reads(files: list[tuple[int, LandingFile]], fmt: dict[int, Format]) -> list[list[tuple[int, LandingFile]]]:
    """The files (with their ids) in the groups their stagers read at once: files of one format and one
    date (folder or name), in file order, up to the format's ``files_per_read``; an undated file alone.
    The groups come in the order of their first files."""
    reads: list[list[tuple[int, LandingFile]]] = []
    open_reads: dict[tuple[Format, date], list[tuple[int, LandingFile]]] = {}
    for file_id, lf in files:
        f = fmt[file_id]
        read = open_reads.get((f, lf.file_date)) if lf.file_date is not None else None
        if read is None or len(read) >= f.files_per_read:
            read = []
            reads.append(read)
            if lf.file_date is not None:
                open_reads[(f, lf.file_date)] = read
        read.append((file_id, lf))
    return reads


Read = list[tuple[int, LandingFile]]


def _stage_ahead(reads: list[Read], fmt: dict[int, Format], con: duckdb.DuckDBPyConnection,
                 sides: list[duckdb.DuckDBPyConnection]) -> Iterator[tuple[Read, Format, duckdb.DuckDBPyConnection, Callable]]:
    """Each read with its format, the connection it is staged on, and a call returning its staging (the
    SELECTs of its rows and rejects). With ``sides`` (two side connections of ``con``), a read of a
    Format.stage_apart format is staged on one of them in a background thread, while the caller adds
    the read before it to the load from the other one. Staging a file and inserting its rows each keep
    about one and a half of the two cores busy; overlapped they keep both (the reference day's
    nvidia-smi CSV load: 97.6-101.7 -> 81.1-82.0 s, docs/benchmarks.md round 19). The inserts stay in
    read order on ``con``. Other reads are staged on ``con`` when their call is made. Close the
    iterator (``contextlib.closing``) to wait for a staging still running before ``con`` is closed."""
    with ThreadPoolExecutor(1, thread_name_prefix="greenops-stage") as pool:
        def start(k: int) -> tuple[Read, Format, duckdb.DuckDBPyConnection, Callable]:
            read = reads[k]
            f = fmt[read[0][0]]
            if sides and f.stage_apart:
                # one worker: read k + 1 starts after read k is staged; the next read to use this
                # side connection (k + 2) starts only when the caller is done with read k
                work = sides[k % 2]
                return read, f, work, pool.submit(f.stage, work, read).result
            return read, f, con, lambda: f.stage(con, read)
        ahead = start(0) if reads else None
        for k in range(len(reads)):
            current, ahead = ahead, start(k + 1) if k + 1 < len(reads) else None
            yield current


def _conformed(con: duckdb.DuckDBPyConnection, source: FileSource, rows_sql: str, types: dict[str, str]) -> str:
    """Staged rows in the raw table's columns and types (absent columns NULL), with their partition."""
    table = source.table
    have = {r[0] for r in con.execute(f"DESCRIBE {rows_sql}").fetchall()}
    return f"SELECT {conformed_columns(types, have, {table.partition_column: f'CAST({source.ts_column} AS DATE)'})} FROM ({rows_sql})"


def _failing_file(read: list[tuple[int, LandingFile]], stage: Stager, source: FileSource, types: dict[str, str],
                  exc: Exception) -> UnreadableFileError:
    """The error of a read that failed with ``exc``. For a read of many files, that of the first file that
    fails alone: each is staged and converted again (all its rows: the check of rows far from the file's
    date converts them too) in a connection of its own, the load's transaction having failed. Else
    ``exc``, naming the file or, when no file fails alone, the read."""
    if len(read) > 1:
        for file_id, lf in read:
            probe = new_connection()
            try:
                rows_sql, _ = stage(probe, [(file_id, lf)])
                if rows_sql is not None:
                    probe.execute(f"CREATE TEMP TABLE probe AS {_conformed(probe, source, rows_sql, types)}")
            except UnreadableFileError as file_exc:
                return file_exc
            except duckdb.Error as file_exc:
                return UnreadableFileError(lf.rel, short_error(file_exc))
            finally:
                probe.close()
    if isinstance(exc, UnreadableFileError):
        return exc
    return UnreadableFileError(files_name([lf for _, lf in read]), short_error(exc))


def _stage_files(con: duckdb.DuckDBPyConnection, work: duckdb.DuckDBPyConnection, source: FileSource,
                 read: list[tuple[int, LandingFile]], target: str, rows_sql: str | None, rejects_sql: str | None,
                 types: dict[str, str], day: date, tolerance_days: int) -> None:
    """Add the rows of the run's day of files staged together (one date, see _reads) to ``target`` (in
    the raw table's columns and types, with each file's id; absent columns are NULL) and their rejects
    of that day to ``day_rejects``, both of ``con``. ``work`` is the connection they were staged on:
    ``con``, or a side connection (Format.stage_apart), from which the rows are streamed to ``con``'s
    insert (the stager's tables are read again for the rows out of range and the span: no copy).

    A reject without a usable timestamp of its own belongs to its file's day (folder/name, else the
    file's first row's). A dated file is read by the runs of its date and of the ``tolerance_days``
    either side only (1; 0 for a UTC date), so its rows further from its date would never be loaded:
    the run of the file's date quarantines them ('timestamp in the future' / 'in the past') with their
    parsed values as the record. That check compares the timestamp itself, not its date: Parquet is
    then read only where a row group's time range reaches past the tolerance (0.24 s instead of
    1.5-2.2 s for 2,048 collector files of one day, none of them out of range).
    """
    table, ts = source.table, source.ts_column
    file_date = read[0][1].file_date
    # the read's files by id, for the rejects' _source_file
    names = "(VALUES " + ", ".join(f"({i}, {sql_text(lf.rel)})" for i, lf in read) + ") f(_file_id, _source_file)"
    n_rows = n_rejects = 0
    if rows_sql is not None:
        conformed = _conformed(work, source, rows_sql, types)
        # the insert returns its row count: no second read of the files (Parquet is read where it lies)
        n_rows = insert_from(con, work, f"{target} BY NAME", f"SELECT * FROM ({conformed}) WHERE {table.partition_column} = $day",
                         {"day": day})
        if file_date == day:
            lo, hi = file_date - timedelta(days=tolerance_days), file_date + timedelta(days=tolerance_days)
            beyond = "more than a day " if tolerance_days else ""
            skip = {table.partition_column} | {f.name for f in rt.FILE_LINEAGE}
            values = ", ".join(f"{c} := r.{c}" for c in table.columns if c not in skip)  # the parsed row, as JSON
            insert_from(con, work, "day_rejects", f"""
                SELECT r._source_line,
                       CASE WHEN r.{table.partition_column} > $hi THEN 'timestamp in the future: ' || r.{ts}
                                || ' UTC is {beyond}after the file''s date ' || $file_date
                            ELSE 'timestamp in the past: ' || r.{ts}
                                || ' UTC is {beyond}before the file''s date ' || $file_date END,
                       CAST(to_json(struct_pack({values})) AS VARCHAR), $day, f._source_file
                FROM ({conformed}) r JOIN {names} USING (_file_id)
                WHERE r.{ts} < $lo_ts OR r.{ts} >= $after_hi_ts
                """, {"day": day, "hi": hi, "file_date": file_date.isoformat(),
                      "lo_ts": datetime.combine(lo, time()), "after_hi_ts": datetime.combine(hi + timedelta(days=1), time())})
    if rejects_sql is not None:
        n_rejects = work.execute(f"SELECT count(*) FROM ({rejects_sql})").fetchall()[0][0]
    if tolerance_days and len(read) == 1:
        # the file's UTC span, all days (its rows and its rejects that have a time): _known_elsewhere
        times = [f"SELECT {ts} AS t FROM ({conformed})"] if rows_sql is not None else []
        times += [f"SELECT CAST(record_ts_utc AS TIMESTAMP) FROM ({rejects_sql})"] if n_rejects else []
        if times:
            span = work.execute(f"SELECT min(t), max(t) FROM ({' UNION ALL '.join(times)})").fetchall()[0]
            con.execute("UPDATE day_files SET first_ts_utc = ?, last_ts_utc = ? WHERE _file_id = ?", [*span, read[0][0]])
    if n_rejects:
        fallback = file_date or day
        if file_date is None and rows_sql is not None:  # an undated file is read alone
            fallback = work.execute(f"SELECT CAST(min({ts}) AS DATE) FROM ({rows_sql})").fetchall()[0][0] or fallback
        near = ("true" if file_date is None
                else f"abs(date_diff('day', DATE {sql_text(file_date.isoformat())}, CAST(record_ts_utc AS DATE))) <= {tolerance_days}")
        insert_from(con, work, "day_rejects", f"""
            SELECT * FROM (
                SELECT CAST(r._source_line AS BIGINT) AS _source_line, r.reason, r.raw_record,
                       CASE WHEN r.record_ts_utc IS NOT NULL AND {near} THEN CAST(r.record_ts_utc AS DATE) ELSE $fallback END AS partition_date,
                       f._source_file
                FROM ({rejects_sql}) r JOIN {names} USING (_file_id))
            WHERE partition_date = $day
            """, {"fallback": fallback, "day": day})
    name = read[0][1].rel if len(read) == 1 else f"{len(read)} files from {read[0][1].rel} to {read[-1][1].rel}"
    log.info("%s: %d rows of %s, %d rejected", name, n_rows, day, n_rejects)


#: Rows a batch when rows are streamed from a side connection to the load's.
HANDOVER_BATCH_ROWS = 122_880


def insert_from(con: duckdb.DuckDBPyConnection, work: duckdb.DuckDBPyConnection, into: str, select_sql: str,
                params: dict) -> int:
    """``INSERT INTO <into>`` (a table of ``con``, with BY NAME or not) the rows of ``select_sql`` run on
    ``work``: in one statement when ``work`` is ``con``, else streamed in Arrow batches. The row count."""
    if work is con:
        return con.execute(f"INSERT INTO {into} {select_sql}", params).fetchall()[0][0]
    con.register("handed_over", work.sql(select_sql, params=params).to_arrow_reader(HANDOVER_BATCH_ROWS))
    try:
        return con.execute(f"INSERT INTO {into} SELECT * FROM handed_over").fetchall()[0][0]
    finally:
        con.unregister("handed_over")


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
    """Load one UTC day of GPU telemetry (nvidia-smi CSV, dcgm-exporter scrapes, collector Parquet), then
    delete raw samples more than GREENOPS_RAW_TELEMETRY_RETENTION_DAYS before that day."""
    s = settings or get_settings()
    host_tz = inventory.load(s.fleet_file).host_timezones()

    def zone(lf: LandingFile) -> str:
        return host_tz.get(lf.host, "UTC")

    def smi(con, lf):
        return nvidia_smi.stage(con, lf, zone(lf))

    # nvidia-smi prints local time: a file's span holds while its host's zone in the fleet file does
    smi_csv = one_at_a_time(smi, "nvidia_smi_csv", time_zone=zone, stage_apart=True)
    prom = one_at_a_time(dcgm.stage, "dcgm_prometheus", absolute_timestamps=True, stage_apart=True)
    formats: Formats = {".csv": smi_csv, ".csv.gz": smi_csv, ".prom": prom, ".prom.gz": prom,
                        ".parquet": Format(nvml_parquet.stage_files, "nvml_parquet", PARQUET_FILES_PER_READ, utc_dated=True,
                                   superseded=nvml_parquet.superseded_files)}
    summary = _ingest(TELEMETRY, day, formats, load_id or new_load_id(), s)
    _apply_retention(rt.GPU_TELEMETRY, day, s.raw_telemetry_retention_days, s)
    return summary


def _apply_retention(table: rt.RawTable, day: date, days: int, s: Settings) -> None:
    """Delete the raw table's days more than ``days`` before the loaded ``day`` (0: keep all), with their
    files' lineage. It counts from the loaded day, never the wall clock: a backfill of an old day
    deletes nothing newer."""
    if days:
        cutoff = day - timedelta(days=days)
        get_warehouse(s).delete_partitions_before(table, cutoff)
        log.info("raw %s before %s deleted (retention %d days)", table.name, cutoff, days)


def ingest_inference_logs(day: date, load_id: str | None = None, settings: Settings | None = None) -> dict:
    """Load one UTC day of inference request logs (JSON Lines, plain or gzip), then delete raw requests
    more than GREENOPS_RAW_REQUESTS_RETENTION_DAYS before that day."""
    s = settings or get_settings()
    known = inventory.load(s.fleet_file).deployment_names()

    def stage(con, lf):
        return inference_logs.stage(con, lf, known)
    jsonl = one_at_a_time(stage, "jsonl", absolute_timestamps=True, stage_apart=True)  # an offset is required
    summary = _ingest(REQUESTS, day, {".jsonl": jsonl, ".jsonl.gz": jsonl}, load_id or new_load_id(), s)
    _apply_retention(rt.INFERENCE_REQUESTS, day, s.raw_requests_retention_days, s)
    return summary


def ingest_grid_intensity(day: date, load_id: str | None = None, settings: Settings | None = None) -> dict:
    """Load one UTC day of hourly grid carbon intensity drops."""
    s = settings or get_settings()
    return _ingest(GRID, day, {".csv": one_at_a_time(_staged(grid_intensity.parse), "csv", absolute_timestamps=True)}, load_id or new_load_id(), s)
