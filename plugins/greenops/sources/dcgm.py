"""dcgm-exporter scrapes: Prometheus text exposition, one or many scrapes per file.

Each sample line is ``METRIC{labels} value [timestamp_ms]``. A sample's time is its own timestamp
when present, otherwise the scrape time in the file name (``...20261120T101500Z.prom``); a file with
neither fails as unreadable, because samples without a time cannot be placed.

Energy comes from ``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`` (mJ since driver load) when present,
else from ``DCGM_FI_DEV_POWER_USAGE`` (W). Other metrics we keep: GPU and memory-copy utilization,
framebuffer used/free (MiB), temperature, SM clock and the power limit. Metrics we do not use and
comment lines are skipped; a used metric without a ``gpu`` label, or with a value that is not a
number, is rejected with its line, and so is a power reading that is negative, above 2,000 W or
above 1.5 x the GPU's power limit reported in the same scrape (as for nvidia-smi).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import duckdb
import pyarrow as pa

from greenops.sources.common import (
    MAX_PLAUSIBLE_POWER_W, NOT_BLANK, POWER_LIMIT_TOLERANCE, LandingFile, UnreadableFileError, fetch_arrow, read_lines,
)

METRICS = {
    "DCGM_FI_DEV_POWER_USAGE": "power_w",
    "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": "energy_counter_mj",
    "DCGM_FI_DEV_GPU_UTIL": "utilization_gpu_pct",
    "DCGM_FI_DEV_MEM_COPY_UTIL": "utilization_memory_pct",
    "DCGM_FI_DEV_FB_USED": "memory_used_mib",
    "DCGM_FI_DEV_FB_FREE": "memory_free_mib",
    "DCGM_FI_DEV_GPU_TEMP": "temperature_c",
    "DCGM_FI_DEV_SM_CLOCK": "sm_clock_mhz",
    "DCGM_FI_DEV_POWER_MGMT_LIMIT": "power_limit_w",
}
_SCRAPE_TIME = re.compile(r"(\d{8}T\d{6})Z")
_SAMPLE = r"^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+(-?\d+))?\s*$"


def _scrape_time(lf: LandingFile) -> datetime | None:
    m = _SCRAPE_TIME.search(lf.path.name)
    if not m:
        return None
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc).replace(tzinfo=None)


def _label(name: str) -> str:
    return f"nullif(regexp_extract(labels, '(^|,)\\s*{name}=\"([^\"]*)\"', 2), '')"


def parse(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    rows_sql, rejects_sql = stage(con, lf)
    if rows_sql is None:
        return pa.table({}), _rejects_empty()
    return (fetch_arrow(con, f"SELECT * FROM ({rows_sql}) ORDER BY _source_line"),
            fetch_arrow(con, f"SELECT * FROM ({rejects_sql}) ORDER BY _source_line"))


def stage(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[str | None, str | None]:
    """Parse one file into temp tables of ``con``; returns the SELECTs of its samples and its rejects
    (valid until the next file is staged), or (None, None) for an empty file. Raises
    UnreadableFileError for a whole-file problem."""
    if read_lines(con, lf) == 0:
        return None, None
    metric_list = ", ".join(f"'{m}'" for m in METRICS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE samples_raw AS
        SELECT ln, line,
               regexp_extract(line, '{_SAMPLE}', 1) AS metric,
               regexp_extract(line, '{_SAMPLE}', 3) AS labels,
               regexp_extract(line, '{_SAMPLE}', 4) AS value_text,
               try_cast(nullif(regexp_extract(line, '{_SAMPLE}', 6), '') AS BIGINT) AS ts_ms
        FROM lines
        WHERE {NOT_BLANK} AND NOT starts_with(ltrim(line), '#')
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE metric_rows AS
        SELECT ln, line, metric, labels, value_text, ts_ms,
               CASE WHEN NOT isfinite(try_cast(value_text AS DOUBLE)) THEN NULL ELSE try_cast(value_text AS DOUBLE) END AS value,
               try_cast({_label('gpu')} AS INTEGER) AS gpu_index,
               {_label('UUID')} AS gpu_uuid,
               {_label('modelName')} AS gpu_name,
               coalesce({_label('GPU_I_ID')}, NULL) AS mig_instance,
               {_label('Hostname')} AS hostname
        FROM samples_raw WHERE metric IN ({metric_list})
        """
    )
    n_untimed = con.execute("SELECT count(*) FROM metric_rows WHERE ts_ms IS NULL").fetchone()[0]
    scrape_time = _scrape_time(lf)
    if n_untimed and scrape_time is None:
        raise UnreadableFileError(
            lf.rel, f"{n_untimed} samples carry no timestamp and the file name has no scrape time (…YYYYMMDDTHHMMSSZ…)"
        )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE metric_checked AS
        WITH timed AS (
            SELECT *, coalesce(make_timestamp(ts_ms * 1000), ?::TIMESTAMP) AS sample_ts_utc FROM metric_rows
        ), with_limit AS (
            -- the GPU's power limit in the same scrape (same time, host and GPU), when it is exported
            SELECT *, max(value) FILTER (WHERE metric = 'DCGM_FI_DEV_POWER_MGMT_LIMIT' AND value > 0)
                          OVER (PARTITION BY sample_ts_utc, hostname, gpu_index, gpu_uuid, mig_instance) AS limit_w
            FROM timed
        )
        SELECT * EXCLUDE (limit_w),
               CASE WHEN gpu_index IS NULL THEN 'metric ' || metric || ' has no gpu label'
                    WHEN value IS NULL THEN 'value is not a number: ' || value_text
                    WHEN metric = 'DCGM_FI_DEV_POWER_USAGE' AND value < 0 THEN 'negative power: ' || value || ' W'
                    WHEN metric = 'DCGM_FI_DEV_POWER_USAGE' AND value > {MAX_PLAUSIBLE_POWER_W}
                        THEN 'power above any GPU''s limit: ' || value || ' W'
                    WHEN metric = 'DCGM_FI_DEV_POWER_USAGE' AND value > limit_w * {POWER_LIMIT_TOLERANCE}
                        THEN 'power ' || value || ' W above the GPU''s limit of ' || limit_w || ' W'
                    WHEN metric = 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION' AND value < 0 THEN 'negative energy counter'
               END AS reason
        FROM with_limit
        """,
        [scrape_time],
    )
    pivot = ",\n".join(
        f"max(value) FILTER (WHERE metric = '{m}') AS {c}" for m, c in METRICS.items()
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE dcgm_samples AS
        SELECT sample_ts_utc, coalesce(?, hostname) AS host, gpu_index,
               gpu_uuid, any_value(gpu_name) AS gpu_name, mig_instance,
               {pivot}, min(ln) AS _source_line
        FROM metric_checked WHERE reason IS NULL
        GROUP BY sample_ts_utc, hostname, gpu_index, gpu_uuid, mig_instance
        HAVING power_w IS NOT NULL OR energy_counter_mj IS NOT NULL
        """,
        [lf.host],
    )
    # dcgm exports framebuffer used and free; the total is their sum (used counts as 0 when absent)
    rows = "SELECT * EXCLUDE (memory_free_mib), coalesce(memory_used_mib, 0) + memory_free_mib AS memory_total_mib FROM dcgm_samples"
    rejects = "SELECT ln AS _source_line, reason, line AS raw_record, sample_ts_utc AS record_ts_utc FROM metric_checked WHERE reason IS NOT NULL"
    return rows, rejects


def _rejects_empty() -> pa.Table:
    from greenops.sources.common import REJECT_SCHEMA

    return REJECT_SCHEMA.empty_table()
