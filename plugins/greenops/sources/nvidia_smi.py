"""nvidia-smi ``--query-gpu ... --format=csv`` logs (with or without ``nounits`` / ``noheader``).

Accepted: the header nvidia-smi prints (``power.draw [W]``), any subset or superset of query fields
in any order (a full ``--query-gpu`` capture has ~200), values with or without units, timestamps
``YYYY/MM/DD HH:MM:SS.mmm`` in the host's local time (zone from the inventory) or ISO 8601 with an
offset. A file without a header must use the default field order documented in docs/inputs.md.

Row outcomes: a row is rejected (quarantined) when its field count differs from the header's, its
timestamp cannot be parsed, its power is missing, not a number, negative or above the physical cap,
or it names no GPU index. ``[N/A]`` / ``[Not Supported]`` in other fields become NULL.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from greenops.sources.common import fetch_arrow, LandingFile, UnreadableFileError, read_lines, to_utc_sql

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

#: No GPU draws more than this; readings above it are sensor or parsing errors (W).
MAX_PLAUSIBLE_POWER_W = 2000.0
#: Readings above the GPU's enforced limit by more than this factor are rejected.
POWER_LIMIT_TOLERANCE = 1.5


def _normalise(header_field: str) -> str:
    return header_field.strip().split(" [")[0].strip().lower()


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
    if read_lines(con, lf) == 0:
        return _empty(con)
    first = con.execute("SELECT ln, line FROM lines WHERE trim(coalesce(line, '')) <> '' ORDER BY ln LIMIT 1").fetchone()
    if first is None:
        return _empty(con)
    first_fields = [f.strip() for f in first[1].split(",")]
    has_header = first_fields[0].lower().startswith("timestamp") or any(f.lower() in ("index", "uuid", "name") for f in first_fields)
    header = first_fields if has_header else DEFAULT_FIELDS
    header_ln = first[0] if has_header else 0
    pos = _columns(header)
    missing = [c for c in ("ts_text", "gpu_index", "power_w") if c not in pos]
    if missing:
        wanted = {"ts_text": "timestamp", "gpu_index": "index", "power_w": "power.draw"}
        raise UnreadableFileError(lf.rel, "header lacks " + ", ".join(wanted[m] for m in missing) + f" (header: {', '.join(header)[:200]})")

    def field(col: str) -> str:
        return f"nullif(trim(f[{pos[col]}]), '')" if col in pos else "NULL"

    def number(col: str) -> str:
        # strip a unit suffix ("81.25 W", "95 %", "1024 MiB"); [N/A] and [Not Supported] become NULL
        return f"try_cast(regexp_replace({field(col)}, '\\s*(W|%|MiB|MHz|C)$', '') AS DOUBLE)" if col in pos else "NULL::DOUBLE"

    numbers = ",\n".join(f"{number(c)} AS {c}" for c in NUMERIC)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE parsed AS
        WITH split AS (
            SELECT ln, line, string_split(line, ',') AS f FROM lines
            WHERE ln > ? AND trim(coalesce(line, '')) <> ''
        )
        SELECT ln AS _source_line, line AS raw_record, len(f) AS n_fields,
               {to_utc_sql(field('ts_text'), '?')} AS sample_ts_utc,
               {field('ts_text')} AS ts_text,
               try_cast({field('gpu_index')} AS INTEGER) AS gpu_index,
               {field('gpu_uuid')} AS gpu_uuid,
               {field('gpu_name')} AS gpu_name,
               {field('power_w')} AS power_text,
               {numbers}
        FROM split
        """,
        [header_ln, timezone],
    )
    expected = len(header)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE checked AS
        SELECT *, CASE
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
    )
    samples = fetch_arrow(con, f"""
        SELECT sample_ts_utc, ? AS host, gpu_index,
               CASE WHEN gpu_uuid LIKE '[%' THEN NULL ELSE gpu_uuid END AS gpu_uuid,
               gpu_name, {', '.join(NUMERIC)}, NULL::DOUBLE AS energy_counter_mj,
               'nvidia_smi_csv' AS source_format, _source_line
        FROM checked WHERE reason IS NULL ORDER BY _source_line
        """,
        [lf.host],)
    rejects = fetch_arrow(con, "SELECT _source_line, reason, raw_record, sample_ts_utc AS record_ts_utc FROM checked WHERE reason IS NOT NULL ORDER BY _source_line")
    return samples, rejects


def _empty(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, pa.Table]:
    from greenops.sources.common import REJECT_SCHEMA

    return pa.table({}), REJECT_SCHEMA.empty_table()
