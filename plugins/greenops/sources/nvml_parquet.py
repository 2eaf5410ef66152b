"""Our NVML collector's hourly Parquet dumps (``host=<name>/date=<YYYY-MM-DD>/*.parquet``).

The collector writes the raw telemetry schema's sample columns directly (``sample_ts_utc`` in UTC,
``power_w``, ``energy_counter_mj``, ...), so parsing is a column check and a range check.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from greenops.sources.common import fetch_arrow, REJECT_SCHEMA, LandingFile, UnreadableFileError

REQUIRED = ("sample_ts_utc", "gpu_index", "power_w")


def parse(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE pq AS SELECT *, file_row_number + 1 AS _source_line FROM read_parquet(?, file_row_number = true)",
            [str(lf.path)],
        )
    except duckdb.Error as exc:
        raise UnreadableFileError(lf.rel, str(exc).splitlines()[0]) from exc
    cols = {r[0] for r in con.execute("DESCRIBE pq").fetchall()}
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise UnreadableFileError(lf.rel, "Parquet file lacks column(s) " + ", ".join(missing))
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE pq_checked AS
        SELECT *, CASE
            WHEN sample_ts_utc IS NULL THEN 'sample_ts_utc is null'
            WHEN power_w IS NULL AND energy_counter_mj IS NULL THEN 'neither power nor energy counter'
            WHEN power_w < 0 THEN 'negative power: ' || power_w || ' W'
        END AS reason
        FROM pq
        """
        if "energy_counter_mj" in cols
        else "CREATE OR REPLACE TEMP TABLE pq_checked AS SELECT *, NULL::DOUBLE AS energy_counter_mj, CASE WHEN sample_ts_utc IS NULL OR power_w IS NULL OR power_w < 0 THEN 'missing or negative power, or no timestamp' END AS reason FROM pq"
    )
    # EXCLUDE host too: otherwise the result has two `host` columns and conform() cannot pick one.
    samples = fetch_arrow(con, "SELECT * EXCLUDE (reason, host), coalesce(?, host) AS host, 'nvml_parquet' AS source_format FROM pq_checked WHERE reason IS NULL"
        if "host" in cols
        else "SELECT * EXCLUDE (reason), ? AS host, 'nvml_parquet' AS source_format FROM pq_checked WHERE reason IS NULL",
        [lf.host],)
    rejects = fetch_arrow(con, "SELECT _source_line, reason, CAST(sample_ts_utc AS VARCHAR) || ' gpu ' || CAST(gpu_index AS VARCHAR) AS raw_record, sample_ts_utc::TIMESTAMP AS record_ts_utc FROM pq_checked WHERE reason IS NOT NULL")
    return samples, rejects.cast(REJECT_SCHEMA)
