"""Hourly grid carbon intensity drops: CSV with ``zone``, ``hour_utc`` (ISO 8601; no offset means UTC),
``gco2e_per_kwh_location`` and optionally ``gco2e_per_kwh_market``.

Rows with an unparseable hour, a missing zone, or a negative / non-numeric intensity are rejected.
Hours without a drop fall back to the yearly zone averages shipped as reference data (dbt seed).
A file with nothing but blank lines is empty; a header repeated further down (drops concatenated
with ``cat``) is skipped; a header without the required columns fails the file, naming it.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from greenops.sources.common import NOT_BLANK, LandingFile, UnreadableFileError, delimiter_hint, fetch_arrow, read_lines, to_utc_sql

REQUIRED = ("zone", "hour_utc", "gco2e_per_kwh_location")


def parse(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    if read_lines(con, lf) == 0:
        return pa.table({}), _no_rejects()
    header_row = con.execute("SELECT ln, line FROM lines WHERE " + NOT_BLANK + " ORDER BY ln LIMIT 1").fetchone()
    if header_row is None:  # blank lines only
        return pa.table({}), _no_rejects()
    header = [h.strip().lower() for h in header_row[1].split(",")]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise UnreadableFileError(lf.rel, "header lacks " + ", ".join(missing) + delimiter_hint(header_row[1]))
    pos = {c: header.index(c) + 1 for c in header}

    def f(c: str) -> str:
        return f"nullif(trim(f[{pos[c]}]), '')" if c in pos else "NULL"

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE gi AS
        WITH s AS (SELECT ln, line, string_split(line, ',') AS f FROM lines WHERE ln > ? AND {NOT_BLANK}
                   AND list_transform(string_split(line, ','), lambda x: lower(trim(x))) IS DISTINCT FROM ?::VARCHAR[])
        SELECT ln AS _source_line, line AS raw_record, len(f) AS n, {f('zone')} AS zone,
               date_trunc('hour', {to_utc_sql(f('hour_utc'), "'UTC'")}) AS hour_utc,
               try_cast({f('gco2e_per_kwh_location')} AS DOUBLE) AS gco2e_per_kwh_location,
               try_cast({f('gco2e_per_kwh_market')} AS DOUBLE) AS gco2e_per_kwh_market,
               {f('gco2e_per_kwh_market')} AS market_text
        FROM s
        """,
        [header_row[0], header],
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE gi_checked AS SELECT *, CASE
            WHEN n <> {len(header)} THEN 'expected {len(header)} fields, found ' || n
            WHEN zone IS NULL THEN 'zone missing'
            WHEN hour_utc IS NULL THEN 'unparseable hour_utc'
            WHEN gco2e_per_kwh_location IS NULL THEN 'gco2e_per_kwh_location missing or not a number'
            WHEN gco2e_per_kwh_location < 0 OR gco2e_per_kwh_market < 0 THEN 'negative intensity'
            WHEN market_text IS NOT NULL AND gco2e_per_kwh_market IS NULL THEN 'gco2e_per_kwh_market is not a number'
        END AS reason FROM gi
        """
    )
    rows = fetch_arrow(con, "SELECT zone, hour_utc, gco2e_per_kwh_location, gco2e_per_kwh_market, _source_line FROM gi_checked WHERE reason IS NULL ORDER BY _source_line")
    rejects = fetch_arrow(con, "SELECT _source_line, reason, raw_record, hour_utc AS record_ts_utc FROM gi_checked WHERE reason IS NOT NULL")
    return rows, rejects


def _no_rejects() -> pa.Table:
    from greenops.sources.common import REJECT_SCHEMA

    return REJECT_SCHEMA.empty_table()
