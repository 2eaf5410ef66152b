"""AWS's own carbon estimates: the Data Exports ``CARBON_EMISSIONS`` table, delivered monthly.

Files sit under ``.../model_version=<v>/usage_period=YYYY-MM/`` (Parquet, gzip CSV or CSV) in the
export bucket, or in ``<landing>/aws_carbon/`` with the same folders. Totals are location-based (LBM)
and market-based (MBM) in MTCO2e per usage account, region and product; we store kgCO2e (x 1000).
AWS keeps delivering the old model version beside a new one for a few months: every version is kept,
with its ``model_version``, and staging picks one.

- ``find_periods``: from a listing, the data files of each usage period (all model versions).
- ``parse_file``: one file to Arrow in ``raw.aws_carbon_emissions``'s columns. Column names are taken
  from AWS's documentation, with a few aliases accepted (``COLUMNS``); a file with none of the
  emissions columns fails as unreadable, naming the file and the names we accept. Rows with a value
  that is not a number, an unknown unit or an unparseable date are returned as rejects.
"""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa

from greenops.sources.aws_cur import ObjectStore, StoredObject, make_store, read_data_file
from greenops.sources.common import LandingFile, REJECT_SCHEMA, UnreadableFileError, fetch_arrow, sql_identifier, to_utc_sql

LANDING_SUBDIR = "aws_carbon"
_PARTITION = re.compile(r"(?:^|/)model_version=(?P<model>[^/]+)/usage_period=(?P<period>\d{4}-\d{2})/(?P<name>[^/]+)$")
_DATA_SUFFIXES = (".parquet", ".csv.gz", ".csv")
MTCO2E_TO_KG = 1000.0

#: Our name -> the column names accepted for it, first match wins (AWS's documented name first).
COLUMNS = {
    "mtco2e_location": ("total_lbm_emissions_value", "total_lbm_carbon_emissions", "lbm_emissions_mtco2e", "location_based_emissions_mtco2e"),
    "mtco2e_market": ("total_mbm_emissions_value", "total_mbm_carbon_emissions", "mbm_emissions_mtco2e", "market_based_emissions_mtco2e"),
    "unit_location": ("total_lbm_emissions_unit",),
    "unit_market": ("total_mbm_emissions_unit",),
    "payer_account_id": ("payer_account_id", "bill_payer_account_id"),
    "usage_account_id": ("usage_account_id", "account_id", "line_item_usage_account_id"),
    "region_code": ("region_code", "region", "product_region_code"),
    "location": ("location", "region_name"),
    "product_code": ("product_code", "service_code", "line_item_product_code"),
    "usage_period_start": ("usage_period_start", "usage_period_start_date"),
    "usage_period_end": ("usage_period_end", "usage_period_end_date"),
    "model_version": ("model_version",),
    "last_refresh_timestamp": ("last_refresh_timestamp",),
}
EMISSIONS = ("mtco2e_location", "mtco2e_market")


def carbon_store(settings) -> ObjectStore:
    return make_store(settings, settings.aws_carbon_bucket, LANDING_SUBDIR)


def find_periods(objects: list[StoredObject]) -> dict[str, list[tuple[str, StoredObject]]]:
    """``{usage_period: [(model_version, data file), ...]}`` from a listing; other objects are ignored."""
    periods: dict[str, list[tuple[str, StoredObject]]] = {}
    for obj in objects:
        m = _PARTITION.search(obj.key)
        if m and m.group("name").lower().endswith(_DATA_SUFFIXES) and not m.group("name").startswith("."):
            periods.setdefault(m.group("period"), []).append((m.group("model"), obj))
    return dict(sorted(periods.items()))


def parse_file(con: duckdb.DuckDBPyConnection, lf: LandingFile, usage_period: str, model_version: str) -> tuple[pa.Table, pa.Table]:
    """Parse one carbon export file into (rows, rejects); ``usage_period`` and ``model_version`` come
    from its folders (the file's own ``model_version`` column wins when present)."""
    read_data_file(con, lf)
    types = {r[0]: r[1] for r in con.execute("DESCRIBE cur_src").fetchall()}
    if set(types) == {"_source_line"}:
        return pa.table({}), REJECT_SCHEMA.empty_table()
    lower = {c.lower(): c for c in types}
    found = {ours: next((lower[n] for n in names if n in lower), None) for ours, names in COLUMNS.items()}
    if not any(found[e] for e in EMISSIONS):
        accepted = ", ".join(n for e in EMISSIONS for n in COLUMNS[e])
        raise UnreadableFileError(lf.rel, f"no emissions column; expected one of: {accepted}")

    def text(ours: str) -> str:
        col = found[ours]
        return f"nullif(trim(CAST({sql_identifier(col)} AS VARCHAR)), '')" if col else "NULL::VARCHAR"

    def day(ours: str) -> str:
        return "CAST(" + to_utc_sql(text(ours), "'UTC'") + " AS DATE)"

    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE carbon_norm AS
        SELECT _source_line,
               {text('mtco2e_location')} AS loc_text, TRY_CAST({text('mtco2e_location')} AS DOUBLE) AS loc_mtco2e,
               {text('mtco2e_market')} AS mkt_text, TRY_CAST({text('mtco2e_market')} AS DOUBLE) AS mkt_mtco2e,
               {text('unit_location')} AS unit_location, {text('unit_market')} AS unit_market,
               {text('payer_account_id')} AS payer_account_id, {text('usage_account_id')} AS usage_account_id,
               {text('region_code')} AS region_code, {text('location')} AS location, {text('product_code')} AS product_code,
               {text('usage_period_start')} AS start_text, {day('usage_period_start')} AS usage_period_start,
               {text('usage_period_end')} AS end_text, {day('usage_period_end')} AS usage_period_end,
               coalesce({text('model_version')}, ?) AS model_version,
               {to_utc_sql(text('last_refresh_timestamp'), "'UTC'")} AS last_refresh_ts_utc
        FROM cur_src""",
        [model_version],
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE carbon_checked AS SELECT *, CASE
            WHEN loc_text IS NOT NULL AND loc_mtco2e IS NULL THEN 'location-based emissions is not a number: ' || loc_text
            WHEN mkt_text IS NOT NULL AND mkt_mtco2e IS NULL THEN 'market-based emissions is not a number: ' || mkt_text
            WHEN upper(coalesce(unit_location, 'MTCO2E')) <> 'MTCO2E' THEN 'unknown location-based unit: ' || unit_location
            WHEN upper(coalesce(unit_market, 'MTCO2E')) <> 'MTCO2E' THEN 'unknown market-based unit: ' || unit_market
            WHEN start_text IS NOT NULL AND usage_period_start IS NULL THEN 'unparseable usage_period_start: ' || start_text
            WHEN end_text IS NOT NULL AND usage_period_end IS NULL THEN 'unparseable usage_period_end: ' || end_text
            WHEN usage_period_end < usage_period_start THEN 'usage period ends before it starts'
        END AS reason FROM carbon_norm"""
    )
    rows = fetch_arrow(con, f"""
        SELECT ? AS usage_period, model_version, usage_period_start, usage_period_end, payer_account_id,
               usage_account_id, region_code, location, product_code,
               loc_mtco2e * {MTCO2E_TO_KG} AS carbon_kgco2e_location, mkt_mtco2e * {MTCO2E_TO_KG} AS carbon_kgco2e_market,
               last_refresh_ts_utc, _source_line
        FROM carbon_checked WHERE reason IS NULL ORDER BY _source_line""", [usage_period])
    rejects = fetch_arrow(con, """
        SELECT _source_line, reason,
               CAST(json_object('usage_account_id', usage_account_id, 'region_code', region_code, 'product_code', product_code,
                                'lbm', loc_text, 'lbm_unit', unit_location, 'mbm', mkt_text, 'mbm_unit', unit_market,
                                'usage_period_start', start_text, 'usage_period_end', end_text) AS VARCHAR) AS raw_record,
               NULL::TIMESTAMP AS record_ts_utc
        FROM carbon_checked WHERE reason IS NOT NULL
        UNION ALL SELECT _source_line, reason, raw_record, NULL::TIMESTAMP FROM cur_bad
        ORDER BY _source_line""")
    return rows, rejects.cast(REJECT_SCHEMA)
