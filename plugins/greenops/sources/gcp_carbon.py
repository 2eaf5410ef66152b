"""GCP Carbon Footprint: the monthly export Google's BigQuery Data Transfer Service writes to a table
``carbon_footprint`` (one row per usage month, project, service and location, kgCO2e by scope).

Two ways in, one mapping (``COLUMNS``):

- files under ``<landing>/gcp_carbon/`` written by ``bq extract`` (Parquet, newline-delimited JSON) or
  a CSV with flattened names (``carbon_footprint_kgCO2e.scope1``): ``parse_file``;
- with the BigQuery warehouse, the export table itself, copied by a query job inside BigQuery:
  ``bigquery_select`` (the same columns, the same raw table).

Kept as reported: scope 1, scope 2 location- and market-based, scope 3, and the two totals. Google's
documented example row has totals that are not the sum of its scopes; the raw layer keeps both and
staging flags the difference (``stg_gcp__carbon_footprint.totals_match_scopes_*``). A month Google
restates comes with a new ``carbon_model_version``; the whole month is replaced when its content
changes, and staging keeps the newest version when files of two versions are present.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from greenops.sources.common import LandingFile, REJECT_SCHEMA, UnreadableFileError, fetch_arrow, sql_identifier
from greenops.sources.gcp_export import Column, column_key, pick_columns, read_export_file

LANDING_SUBDIR = "gcp_carbon"

COLUMNS = [
    Column("usage_month_start", ("usage_month",), "date"),
    Column("billing_account_id", ("billing_account_id",)),
    Column("project_id", ("project", "id")),
    Column("project_number", ("project", "number")),
    Column("service_id", ("service", "id")),
    Column("service_description", ("service", "description")),
    Column("location", ("location", "location")),
    Column("region", ("location", "region")),
    Column("carbon_model_version", ("carbon_model_version",), "int"),
    Column("scope1_kgco2e", ("carbon_footprint_kgCO2e", "scope1"), "float"),
    Column("scope2_location_kgco2e", ("carbon_footprint_kgCO2e", "scope2", "location_based"), "float"),
    Column("scope2_market_kgco2e", ("carbon_footprint_kgCO2e", "scope2", "market_based"), "float"),
    Column("scope3_kgco2e", ("carbon_footprint_kgCO2e", "scope3"), "float"),
    Column("total_location_kgco2e", ("carbon_footprint_total_kgCO2e", "location_based"), "float"),
    Column("total_market_kgco2e", ("carbon_footprint_total_kgCO2e", "market_based"), "float"),
]
EMISSIONS = [c.name for c in COLUMNS if c.kind == "float"]
OUTPUT = ["usage_month", *[c.name for c in COLUMNS], "_source_line"]


def parse_file(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    """Parse one Carbon Footprint export file into (rows, rejects).

    ``rows`` has the raw table's columns (``usage_month`` 'YYYY-MM' from the file's ``usage_month``)
    and ``_source_line``; ``rejects`` has ``REJECT_SCHEMA``: a missing or unparseable usage month, a
    kgCO2e value or model version that is not a number, and malformed CSV/JSON lines. A file
    without ``usage_month`` or without any kgCO2e column raises ``UnreadableFileError``.
    """
    src, bad = read_export_file(con, lf)
    if src.num_rows == 0 and bad.num_rows == 0:
        return pa.table({}), REJECT_SCHEMA.empty_table()
    found = pick_columns(src, COLUMNS)
    if found["usage_month_start"] is None or not any(found[e] for e in EMISSIONS):
        accepted = ", ".join(c.keys[0] for c in COLUMNS if c.kind == "float")
        raise UnreadableFileError(lf.rel, f"not a Carbon Footprint export: needs usage_month and kgCO2e columns ({accepted})")
    con.register("gcp_src", src)

    def text(name: str) -> str:
        col = found[name]
        return f"nullif(trim(CAST({sql_identifier(col)} AS VARCHAR)), '')" if col else "NULL::VARCHAR"

    month = text("usage_month_start")
    items = [f"{month} AS usage_month_text",
             f"""CAST(date_trunc('month', coalesce(TRY_CAST({month} AS DATE), TRY_CAST({month} || '-01' AS DATE),
                 TRY_CAST(regexp_replace({month}, '\\s*UTC$', '') AS TIMESTAMP))) AS DATE) AS usage_month_start"""]
    for c in COLUMNS[1:]:
        if c.kind == "text":
            items.append(f"{text(c.name)} AS {c.name}")
        else:
            sql_type = "DOUBLE" if c.kind == "float" else "BIGINT"
            items.append(f"{text(c.name)} AS {c.name}_text, TRY_CAST(TRY_CAST({text(c.name)} AS DOUBLE) AS {sql_type}) AS {c.name}")
    numeric = [c.name for c in COLUMNS if c.kind in ("float", "int")]
    checks = "\n".join(
        f"WHEN {n}_text IS NOT NULL AND {n} IS NULL THEN '{n} is not a number: ' || {n}_text" for n in numeric)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE gcp_carbon_checked AS
        SELECT *, CASE
            WHEN usage_month_text IS NULL THEN 'usage_month missing'
            WHEN usage_month_start IS NULL THEN 'unparseable usage_month: ' || usage_month_text
            WHEN carbon_model_version_text IS NOT NULL AND TRY_CAST(carbon_model_version_text AS DOUBLE) <> carbon_model_version
                THEN 'carbon_model_version is not an integer: ' || carbon_model_version_text
            {checks}
        END AS reason
        FROM (SELECT _source_line, {', '.join(items)} FROM gcp_src)""")
    con.unregister("gcp_src")
    cols = ", ".join(c.name for c in COLUMNS)
    rows = fetch_arrow(con, f"""SELECT strftime(usage_month_start, '%Y-%m') AS usage_month, {cols}, _source_line
        FROM gcp_carbon_checked WHERE reason IS NULL ORDER BY _source_line""")
    shown = ", ".join(f"'{c.keys[0]}', {c.name}" + ("_text" if c.kind in ("float", "int") else "") for c in COLUMNS[1:])
    con.register("gcp_bad", bad)
    rejects = fetch_arrow(con, f"""
        SELECT _source_line, reason, CAST(json_object('usage_month', usage_month_text, {shown}) AS VARCHAR) AS raw_record,
               CAST(usage_month_start AS TIMESTAMP) AS record_ts_utc
        FROM gcp_carbon_checked WHERE reason IS NOT NULL
        UNION ALL SELECT _source_line, reason, raw_record, NULL::TIMESTAMP FROM gcp_bad
        ORDER BY _source_line""")
    con.unregister("gcp_bad")
    return rows, rejects.cast(REJECT_SCHEMA)


# ------------------------------------------------------------------------------------------------
# The same mapping inside BigQuery (the export table -> raw.gcp_carbon_footprint)


def bigquery_select(export_table: str, available: set[str] | None = None) -> str:
    """SELECT of ``raw.gcp_carbon_footprint``'s columns from the export table, for the months in the
    query parameter ``@periods`` ('YYYY-MM'); lineage from ``@load_id``. ``available``: the table's
    field paths (``column_key``s); a field it lacks is read as NULL."""
    items = ["format_date('%Y-%m', t.usage_month) as usage_month"]
    items += [f"{c.bigquery_sql(available=available)} as {c.name}" for c in COLUMNS]
    items += [f"'bigquery:{export_table}' as _source_file", "cast(null as int64) as _source_line",
              "@load_id as _load_id", "current_timestamp() as _loaded_at"]
    return ("select\n  " + ",\n  ".join(items) + f"\nfrom `{export_table}` t\n"
            "where format_date('%Y-%m', t.usage_month) in unnest(@periods)")


def bigquery_fingerprints(export_table: str) -> str:
    """One row per usage month of the export table: ``period``, ``fingerprint`` (row count and an
    order-independent hash of every row's content) and ``carbon_model_versions``."""
    return (f"select format_date('%Y-%m', t.usage_month) as period,\n"
            f"  concat('bigquery:', cast(count(*) as string), ':', cast(bit_xor(farm_fingerprint(to_json_string(t))) as string)) as fingerprint,\n"
            f"  string_agg(distinct cast(t.carbon_model_version as string), ',' order by cast(t.carbon_model_version as string)) as carbon_model_versions\n"
            f"from `{export_table}` t\nwhere t.usage_month is not null\ngroup by period\norder by period")


__all__ = ["COLUMNS", "LANDING_SUBDIR", "parse_file", "bigquery_select", "bigquery_fingerprints", "column_key"]
