"""nvidia-smi ``--query-gpu ... --format=csv`` logs (with or without ``nounits`` / ``noheader``).

Accepted: the header nvidia-smi prints (``power.draw [W]``), any subset or superset of query fields
in any order (a full ``--query-gpu`` capture has ~200), values with or without units, timestamps
``YYYY/MM/DD HH:MM:SS.mmm`` in the host's local time (zone from the inventory) or ISO 8601 with an
offset. A file without a header must use the default field order documented in docs/inputs.md.
When daylight-saving time ends a local hour repeats: its rows are placed by line order (before the
clock goes back: daylight-saving time; after: standard time), so no sample of that hour is lost.

Row outcomes: a row is rejected (quarantined) when its field count differs from the header's, its
timestamp cannot be parsed, its power is missing, not a number, negative or above the physical cap,
or it names no GPU index. ``[N/A]`` / ``[Not Supported]`` in other fields become NULL.

A logger restarted onto the same file (``>>``) prints its header again: a line equal to the header
is skipped. A header with other fields further down would shift every value after it, so the file
fails as unreadable, naming the line.
"""

from __future__ import annotations

import gzip
import re
import zlib

import duckdb
import pyarrow as pa

from greenops.sources.common import (
    MAX_PLAUSIBLE_POWER_W, NOT_BLANK, POWER_LIMIT_TOLERANCE, REJECT_SCHEMA, LandingFile, UnreadableFileError, delimiter_hint, fetch_arrow,
    read_lines, sql_text, to_utc_sql,
)

#: nvidia-smi's field order when the file has no header (the command in docs/inputs.md).
DEFAULT_FIELDS = [
    "timestamp", "index", "uuid", "name", "power.draw", "utilization.gpu",
    "utilization.memory", "memory.used", "memory.total",
]

#: Our column <- the first query field present, in order of preference.
FIELD_MAP = {
    "ts_text": ["timestamp"],
    "gpu_index": ["index"],
    "gpu_uuid": ["uuid"],
    "gpu_name": ["name"],
    "power_w": ["power.draw", "power.draw.average", "power.draw.instant"],
    "utilization_gpu_pct": ["utilization.gpu"],
    "utilization_memory_pct": ["utilization.memory"],
    "memory_used_mib": ["memory.used"],
    "memory_total_mib": ["memory.total"],
    "power_limit_w": ["enforced.power.limit", "power.limit"],
    "temperature_c": ["temperature.gpu"],
    "sm_clock_mhz": ["clocks.current.sm", "clocks.sm"],
}
NUMERIC = [c for c in FIELD_MAP if c not in ("ts_text", "gpu_uuid", "gpu_name", "gpu_index")]
#: The timestamp nvidia-smi prints (``2024/03/01 12:00:00.123``), in the host's local time.
NATIVE_TIMESTAMP = "%Y/%m/%d %H:%M:%S.%g"



def _normalise(header_field: str) -> str:
    return header_field.strip().split(" [")[0].strip().lower()


def _units(header: list[str], pos: dict[str, int]) -> dict[str, str]:
    """The unit each of our numeric columns' header field states (``power.draw [W]`` -> ``W``); a field
    without one (``temperature.gpu``, a custom header, no header) is absent."""
    units = {}
    for col in NUMERIC:
        m = re.search(r"\[([^\]\[]+)\]\s*$", header[pos[col] - 1]) if col in pos else None
        if m and m.group(1).strip():
            units[col] = m.group(1).strip()
    return units


def _columns(header: list[str]) -> dict[str, int]:
    """Positions (1-based) of our columns in the header."""
    names = [_normalise(h) for h in header]
    pos: dict[str, int] = {}
    for ours, candidates in FIELD_MAP.items():
        for c in candidates:
            if c in names:
                pos[ours] = names.index(c) + 1
                break
    # Custom loggers print the GPU number as `gpu`; nvidia-smi itself has no such query field.
    if "gpu" in names:
        pos["gpu_index"] = names.index("gpu") + 1
    return pos


def parse(con: duckdb.DuckDBPyConnection, lf: LandingFile, timezone: str) -> tuple[pa.Table, pa.Table]:
    """Parse one file. Returns (samples, rejects); raises UnreadableFileError for a whole-file problem."""
    rows_sql, rejects_sql = stage(con, lf, timezone)
    if rows_sql is None:
        return pa.table({}), REJECT_SCHEMA.empty_table()
    rejects = (fetch_arrow(con, f"SELECT * FROM ({rejects_sql}) ORDER BY _source_line") if rejects_sql is not None
               else REJECT_SCHEMA.empty_table())
    return fetch_arrow(con, f"SELECT * FROM ({rows_sql}) ORDER BY _source_line"), rejects


def _layout(lf: LandingFile, first_line: str) -> tuple[list[str], bool, dict[str, int], dict[str, str]]:
    """The file's fields from its first non-blank line: (its header: that line's fields, or
    DEFAULT_FIELDS when it is not a header; whether it is one; positions of our columns; the units the
    header states). Raises UnreadableFileError when timestamp, index or power is missing."""
    first_fields = [f.strip() for f in first_line.split(",")]
    has_header = first_fields[0].lower().startswith("timestamp") or any(f.lower() in ("index", "uuid", "name") for f in first_fields)
    header = first_fields if has_header else DEFAULT_FIELDS
    pos = _columns(header)
    missing = [c for c in ("ts_text", "gpu_index", "power_w") if c not in pos]
    if missing:
        wanted = {"ts_text": "timestamp", "gpu_index": "index", "power_w": "power.draw"}
        raise UnreadableFileError(lf.rel, "header lacks " + ", ".join(wanted[m] for m in missing)
                                  + f" (header: {', '.join(header)[:200]})" + delimiter_hint(first_line))
    return header, has_header, pos, _units(header, pos)


def _checked_select(source: str, line: str, ref, pos: dict[str, int], units: dict[str, str], expected: int, n_fields: str,
                    utc: bool, typed: frozenset[str] = frozenset()) -> str:
    """The one definition of a row's conversion and checks: SELECT ... FROM ``source`` with our columns,
    ``local_ts`` (for the hour that repeats when DST ends) and ``reason`` (NULL for a good row).
    ``ref(i)`` is the SQL of the i-th field (1-based), ``line`` the SQL of the row's line number,
    ``units`` the header's unit of a numeric column (``_units``), ``n_fields`` the SQL of the row's field
    count; ``$host`` (and ``$tz`` unless ``utc``) are parameters. ``typed`` (the fast path only, see
    ``_typed_fields``): ``ts_text`` and/or ``gpu_index`` are already values (the CSV reader parsed them),
    not texts: a reason then lacks the text, which the fast path never keeps (a file with a reject goes
    to the line parser)."""

    def field(col: str) -> str:
        if col in typed:
            return "NULL::VARCHAR"  # the text, for the reasons only
        return f"nullif(trim({ref(pos[col])}), '')" if col in pos else "NULL"

    def number(col: str) -> str:
        # "81.25 W", "95 %", "1024 MiB" -> a number; [N/A], [Not Supported] and '' become NULL (the cast
        # ignores surrounding blanks). The unit the header states is removed as plain text, a quarter of
        # this statement's time less than the pattern any unit needs when the header states none.
        if col not in pos:
            return "NULL::DOUBLE"
        if col in units:
            return f"try_cast(replace({ref(pos[col])}, {sql_text(units[col])}, '') AS DOUBLE)"
        return f"try_cast(regexp_replace({field(col)}, '\\s*(W|%|MiB|MHz|C)$', '') AS DOUBLE)"

    numbers = ",\n".join(f"{number(c)} AS {c}" for c in NUMERIC)
    # nvidia-smi's own format is read by strptime (half the time of the general parser below, which
    # handles offsets and ISO 8601 and runs only for the rows strptime leaves NULL)
    native_ts = ref(pos["ts_text"]) if "ts_text" in typed else f"try_strptime({field('ts_text')}, '{NATIVE_TIMESTAMP}')"
    native_utc = native_ts if utc else f"timezone($tz, {native_ts}) AT TIME ZONE 'UTC'"
    local_ts = native_ts if "ts_text" in typed else (
        f"coalesce({native_ts}, CASE WHEN NOT regexp_matches(replace(trim({field('ts_text')}), '/', '-'), '(Z|[+-]\\d\\d:?\\d\\d)$') "
        f"THEN try_cast(replace(trim({field('ts_text')}), '/', '-') AS TIMESTAMP) END)")
    gpu_index = ref(pos["gpu_index"]) if "gpu_index" in typed else f"try_cast({field('gpu_index')} AS INTEGER)"
    sample_ts_utc = native_utc if "ts_text" in typed else f"coalesce({native_utc}, {to_utc_sql(field('ts_text'), '$tz', utc)})"
    return f"""
        WITH parsed AS (
            SELECT {line} AS _source_line, {n_fields} AS n_fields,
                   {sample_ts_utc} AS sample_ts_utc,
                   -- local time (no offset in the text), to place the hour that repeats when DST ends
                   {"NULL::TIMESTAMP" if utc else local_ts} AS local_ts,
                   {field('ts_text')} AS ts_text,
                   {gpu_index} AS gpu_index,
                   {field('gpu_uuid')} AS gpu_uuid,
                   {field('gpu_name')} AS gpu_name,
                   {field('power_w')} AS power_text,
                   {numbers}
            FROM {source}
        )
        -- the texts and the field count serve the reasons only: not kept
        SELECT * EXCLUDE (gpu_uuid, ts_text, power_text, n_fields), $host AS host,
            CASE WHEN gpu_uuid LIKE '[%' THEN NULL ELSE gpu_uuid END AS gpu_uuid,
            CASE
                WHEN n_fields <> {expected} THEN 'expected {expected} fields, found ' || n_fields
                WHEN sample_ts_utc IS NULL THEN 'unparseable timestamp: ' || coalesce(ts_text, '(empty)')
                WHEN gpu_index IS NULL THEN 'GPU index missing or not a number'
                WHEN power_w IS NULL AND regexp_matches(coalesce(power_text, ''), '^\\[.*\\]$')
                    THEN 'power.draw not available: ' || power_text
                WHEN power_w IS NULL THEN 'power.draw is not a number: ' || coalesce(power_text, '(empty)')
                WHEN power_w < 0 THEN 'negative power: ' || power_w || ' W'
                WHEN power_w > {MAX_PLAUSIBLE_POWER_W} THEN 'power above any GPU''s limit: ' || power_w || ' W'
                WHEN power_limit_w > 0 AND power_w > power_limit_w * {POWER_LIMIT_TOLERANCE}
                    THEN 'power ' || power_w || ' W above the GPU''s limit of ' || power_limit_w || ' W'
            END AS reason
        FROM parsed
        """


#: When daylight-saving time ends, local times of one hour repeat (02:00-02:59 twice in
#: Europe/Berlin) and DuckDB places them all in the second pass (standard time). A row of that hour
#: is of the first pass (daylight-saving time, one offset-change earlier) unless an earlier line of
#: the same GPU already showed a local time at or after it: the clock went back before it.
_FIRST_PASS = "timezone($tz, local_ts - INTERVAL 1 HOUR) AT TIME ZONE 'UTC' + INTERVAL 1 HOUR"


def _has_repeated_local_hour(con: duckdb.DuckDBPyConnection, table: str, timezone: str) -> bool:
    return con.execute(f"SELECT count(*) FROM {table} WHERE local_ts IS NOT NULL AND {_FIRST_PASS} < sample_ts_utc",
                       {"tz": timezone}).fetchall()[0][0] > 0


def _rows_sql(table: str) -> str:
    return (f"SELECT sample_ts_utc, host, gpu_index, gpu_uuid, gpu_name, {', '.join(NUMERIC)}, NULL::DOUBLE AS energy_counter_mj, "
            f"_source_line FROM {table} WHERE reason IS NULL")


def _text_lines(lf: LandingFile) -> tuple[str, str, int, bool] | None:
    """(first line, second line, number of lines, whether the file is plain '\\n' / '\\r\\n' text), read
    in Python at memchr speed; None when the file cannot be opened or read this way (the line parser then
    reports it)."""
    try:
        with (gzip.open(lf.path, "rb") if lf.path.name.endswith(".gz") else open(lf.path, "rb")) as f:
            first, second = f.readline(), f.readline()
            head = first + second
            n_lf, n_cr, n_crlf, last = head.count(b"\n"), head.count(b"\r"), head.count(b"\r\n"), head[-1:]
            while chunk := f.read(1 << 22):
                n_lf += chunk.count(b"\n")
                if b"\r" in chunk:  # a search, not a count, while the file has none (most files)
                    n_cr += chunk.count(b"\r")
                    n_crlf += chunk.count(b"\r\n")
                if last == b"\r" and chunk[:1] == b"\n":  # a '\r\n' split between two reads
                    n_crlf += 1
                last = chunk[-1:]
    except (OSError, EOFError, zlib.error):
        return None
    lines = n_lf + (1 if last and last != b"\n" else 0)
    try:
        first_text = first.decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
        second_text = second.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return None
    # plain: no '\r', or every line ends in '\r\n' (a lone '\r' among them stops DuckDB's CSV reader)
    return first_text, second_text, lines, n_cr == 0 or n_cr == n_crlf == n_lf


#: A field the CSV reader can parse itself in the fast path (``_typed_fields``): nvidia-smi's timestamp
#: and a plain GPU index.
_READER_TYPES = {"ts_text": ("TIMESTAMP", re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3}", re.ASCII)),
                 "gpu_index": ("INTEGER", re.compile(r"\s*\d+\s*", re.ASCII))}


def _typed_fields(row: str, pos: dict[str, int]) -> frozenset[str]:
    """Our columns whose field in the file's first row (``row``) the CSV reader can parse itself:
    nvidia-smi's own timestamp format and a plain GPU index. The reader then skips a later line whose
    field does not parse like that, and the file goes to the line parser, as for any skipped line.
    Parsed by the reader instead of as text, a reference file of 691,200 rows takes the fast path in
    477-532 ms instead of 619-780 ms (docs/benchmarks.md, round 11)."""
    fields = row.split(",")
    return frozenset(col for col, (_, pattern) in _READER_TYPES.items()
                     if pos[col] <= len(fields) and pattern.fullmatch(fields[pos[col] - 1]))


def _stage_clean(con: duckdb.DuckDBPyConnection, lf: LandingFile, timezone: str) -> tuple[str, None] | None:
    """The fast path for a clean file: DuckDB's parallel CSV reader splits the fields (no copy of each
    line, no list per line), and a row's line number is its position (the connection keeps insertion
    order). It accepts the file only when every line after the first is a row with the header's field
    count, no row is rejected and no local hour repeats; otherwise it returns None and the line parser
    (``stage``), which numbers and explains every line, reads the file. Both use ``_checked_select``."""
    head = _text_lines(lf)
    if head is None or not head[0].strip() or not head[3]:
        return None
    first_line, second_line, n_lines, _ = head
    header, has_header, pos, units = _layout(lf, first_line)
    skip = 1 if has_header else 0
    expected = len(header)
    utc = timezone in ("UTC", "Etc/UTC")
    typed = _typed_fields(second_line if has_header else first_line, pos)
    types = {pos[col]: _READER_TYPES[col][0] for col in typed}
    columns = "{" + ", ".join(f"'c{i}': '{types.get(i, 'VARCHAR')}'" for i in range(1, expected + 1)) + "}"
    # strict field counts and the reader's types; a line that does not fit is skipped (ignore_errors: no
    # error, which would abort the load's transaction) and then missing from the count below
    source = (f"read_csv({sql_text(str(lf.path))}, header = false, skip = {skip}, delim = ',', quote = '', escape = '', "
              f"columns = {columns}, auto_detect = false, strict_mode = true, ignore_errors = true, compression = 'auto'"
              f"{f', timestampformat = {sql_text(NATIVE_TIMESTAMP)}' if 'ts_text' in typed else ''})")
    select = _checked_select(source, "NULL::BIGINT", lambda i: f"c{i}", pos, units, expected, str(expected), utc, typed)
    con.execute(f"CREATE OR REPLACE TEMP TABLE smi_clean AS {select}", {"host": lf.host, **({} if utc else {"tz": timezone})})
    n_rows, n_rejected, first = con.execute("SELECT count(*), count(reason), min(rowid) FROM smi_clean").fetchone()
    if n_rows != n_lines - skip or n_rejected or (not utc and _has_repeated_local_hour(con, "smi_clean", timezone)):
        return None
    # row ids count from the table's first row (from 2^55 in a table created inside an open transaction)
    con.execute(f"CREATE OR REPLACE TEMP VIEW smi_clean_rows AS SELECT * REPLACE (rowid - {first or 0} + {skip + 1} AS _source_line) FROM smi_clean")
    return _rows_sql("smi_clean_rows"), None


def stage(con: duckdb.DuckDBPyConnection, lf: LandingFile, timezone: str) -> tuple[str | None, str | None]:
    """Parse one file into temp tables of ``con``; returns the SELECTs of its samples and its rejects
    (valid until the next file is staged; rejects None when there are none), or (None, None) for a file
    without rows. The rows stay in DuckDB: the ingestion inserts them from there. A clean file is read
    by the fast path (``_stage_clean``), any other by the line parser (``stage_lines``). Raises
    UnreadableFileError for a whole-file problem."""
    return _stage_clean(con, lf, timezone) or stage_lines(con, lf, timezone)


def stage_lines(con: duckdb.DuckDBPyConnection, lf: LandingFile, timezone: str) -> tuple[str | None, str | None]:
    """The line parser: reads the file as numbered lines, so that every line is either a row or a
    reject with its number and reason (blank lines, repeated headers, wrong field counts, bad values,
    the hour that repeats when daylight-saving time ends). Same result as ``stage``."""
    if read_lines(con, lf) == 0:
        return None, None
    first_sql = "SELECT ln, line FROM lines WHERE {} " + NOT_BLANK + " ORDER BY ln LIMIT 1"
    first = (con.execute(first_sql.format("ln <= 64 AND")).fetchone()  # the header, nearly always
             or con.execute(first_sql.format("")).fetchone())
    if first is None:
        return None, None
    header, has_header, pos, units = _layout(lf, first[1])
    header_ln = first[0] if has_header else 0
    # A restarted logger prints the header again: such lines are skipped. Only lines starting with the
    # header's first field or `timestamp` can be a header, so only those are split and compared.
    header_fields = [f.lower() for f in header] if has_header else []
    # (An anchored regular expression rejects a data line at its first character.)
    first_field = header_fields[0] if has_header else "timestamp"
    candidates = con.execute(
        "SELECT ln, lower(trim(split_part(line, ',', 1))) = 'timestamp', "
        "list_transform(string_split(line, ','), lambda x: lower(trim(x))) = $header_fields::VARCHAR[] "
        "FROM lines WHERE ln > $header_ln AND regexp_matches(line, $starts_like_header) ORDER BY ln",
        {"header_ln": header_ln, "header_fields": header_fields,
         "starts_like_header": "^\\s*(?i:timestamp|" + re.escape(first_field) + ")\\s*(,|$)"},
    ).fetchall()
    changed = next((ln for ln, is_timestamp, same in candidates if is_timestamp and not same), None)
    if changed:
        raise UnreadableFileError(lf.rel, f"another header on line {changed}: the logged fields change there, "
                                          "so the values after it cannot be matched to columns; split the file at that line")
    repeated = [ln for ln, _, same in candidates if same]
    utc = timezone in ("UTC", "Etc/UTC")  # no conversion, and no hour repeats
    # One pass over the lines: split, convert, check. Only the hour that repeats when daylight-saving
    # time ends needs the window below, so it runs only on files that have such rows.
    split = (f"(SELECT ln, string_split(line, ',') AS f FROM lines WHERE ln > $header_ln AND {NOT_BLANK}"
             f"{' AND NOT list_contains($repeated, ln)' if repeated else ''})")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE smi_checked AS {_checked_select(split, 'ln', lambda i: f'f[{i}]', pos, units, len(header), 'len(f)', utc)}",
        {"header_ln": header_ln, "host": lf.host, **({} if utc else {"tz": timezone}), **({"repeated": repeated} if repeated else {})},
    )
    if not utc and _has_repeated_local_hour(con, "smi_checked", timezone):
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE smi_checked AS
            SELECT * REPLACE (CASE
                WHEN first_pass_utc < sample_ts_utc
                     AND NOT coalesce(max(local_ts) OVER (PARTITION BY gpu_index ORDER BY _source_line
                                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) >= local_ts, false)
                    THEN first_pass_utc
                ELSE sample_ts_utc END AS sample_ts_utc)
            FROM (SELECT *, {_FIRST_PASS} AS first_pass_utc FROM smi_checked)
            """,
            {"tz": timezone},
        )
    # the line text is only needed for the (few) rejects: it is taken from the lines table for them alone
    rejects = ("SELECT _source_line, reason, line AS raw_record, sample_ts_utc AS record_ts_utc "
               "FROM smi_checked JOIN lines ON ln = _source_line WHERE reason IS NOT NULL")
    return _rows_sql("smi_checked"), rejects
