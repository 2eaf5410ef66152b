"""GCP Cloud Billing export (standard ``gcp_billing_export_v1_<ACCOUNT>`` or detailed
``gcp_billing_export_resource_v1_<ACCOUNT>``): one row per service, SKU, project, labels and usage
hour, with cost and credits.

As for Carbon Footprint, two ways in with one mapping (``COLUMNS``): files under
``<landing>/gcp_billing/`` (``bq extract`` Parquet or JSON, or a flattened CSV such as the ones cost
tools write) through ``parse_file``, and the export table inside BigQuery through ``bigquery_select``.

``labels``, ``system_labels`` and ``project.labels`` (REPEATED key/value records) are kept as one JSON
object each (``{"deployment": "chat-8b-gcp"}``), ``credits`` as the JSON array delivered plus
``credits_amount`` (their sum, negative). The partition is the invoice month ('YYYY-MM'): Google
restates a month's rows in place until the invoice closes.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from greenops.sources.common import LandingFile, REJECT_SCHEMA, UnreadableFileError, fetch_arrow, sql_identifier, to_utc_sql
from greenops.sources.gcp_export import Column, credits_json, labels_json, map_distinct, pick_columns, read_export_file

LANDING_SUBDIR = "gcp_billing"

COLUMNS = [
    Column("invoice_month_text", ("invoice", "month")),
    Column("billing_account_id", ("billing_account_id",)),
    Column("service_id", ("service", "id")),
    Column("service_description", ("service", "description")),
    Column("sku_id", ("sku", "id")),
    Column("sku_description", ("sku", "description")),
    Column("usage_start_time", ("usage_start_time",), "timestamp"),
    Column("usage_end_time", ("usage_end_time",), "timestamp"),
    Column("project_id", ("project", "id")),
    Column("project_number", ("project", "number")),
    Column("project_name", ("project", "name")),
    Column("project_labels", ("project", "labels"), "labels"),
    Column("labels", ("labels",), "labels"),
    Column("system_labels", ("system_labels",), "labels"),
    Column("location_location", ("location", "location")),
    Column("location_country", ("location", "country")),
    Column("location_region", ("location", "region")),
    Column("location_zone", ("location", "zone")),
    Column("resource_name", ("resource", "name")),
    Column("resource_global_name", ("resource", "global_name")),
    Column("cost", ("cost",), "float"),
    Column("currency", ("currency",)),
    Column("currency_conversion_rate", ("currency_conversion_rate",), "float"),
    Column("usage_amount", ("usage", "amount"), "float"),
    Column("usage_unit", ("usage", "unit")),
    Column("usage_amount_in_pricing_units", ("usage", "amount_in_pricing_units"), "float"),
    Column("usage_pricing_unit", ("usage", "pricing_unit")),
    Column("credits", ("credits",), "records"),
    Column("cost_type", ("cost_type",)),
    Column("export_time", ("export_time",), "timestamp"),
]
REQUIRED = ("usage_start_time", "cost")
OUTPUT = ["invoice_month", "usage_date", *[c.name for c in COLUMNS if c.name != "invoice_month_text"], "credits_amount", "_source_line"]


def parse_file(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    """Parse one billing export file into (rows, rejects).

    Rejected, with the reason: a missing or unparseable ``usage_start_time``, an unparseable end or
    one before the start, a missing or non-numeric ``cost``, another number that is not one, labels
    or credits that are neither JSON nor a list of records, an invoice month that is not YYYYMM, and
    malformed CSV/JSON lines. A file without ``usage_start_time`` and ``cost`` raises
    ``UnreadableFileError``.
    """
    src, bad = read_export_file(con, lf)
    if src.num_rows == 0 and bad.num_rows == 0:
        return pa.table({}), REJECT_SCHEMA.empty_table()
    found = pick_columns(src, COLUMNS)
    missing = [n for n in REQUIRED if found[n] is None]
    if missing:
        raise UnreadableFileError(lf.rel, "not a Cloud Billing export: no column " + ", ".join(missing))

    # Repeated records: normalised in Python once per distinct value (labels repeat on every row).
    errors = [None] * src.num_rows
    extra = {}
    for c in COLUMNS:
        if c.kind not in ("labels", "records"):
            continue
        column = src.column(found[c.name]) if found[c.name] else pa.nulls(src.num_rows, pa.string())
        fn = labels_json if c.kind == "labels" else credits_json
        values, errs = map_distinct(column.cast(pa.string()), fn)
        if c.kind == "records":
            extra[c.name] = pa.array([v[0] if v else None for v in values], pa.string())
            extra["credits_amount"] = pa.array([v[1] if v else None for v in values], pa.float64())
        else:
            extra[c.name] = pa.array(values, pa.string())
        errors = [e or (f"{c.name}: {err}" if err else None) for e, err in zip(errors, errs)]
    for name, array in extra.items():
        src = src.append_column(f"__{name}", array)
    src = src.append_column("__record_error", pa.array(errors, pa.string()))
    types = {f.name: f.type for f in src.schema}
    con.register("gcp_src", src)

    def text(name: str) -> str:
        col = found[name]
        return f"nullif(trim(CAST({sql_identifier(col)} AS VARCHAR)), '')" if col else "NULL::VARCHAR"

    items = []
    for c in COLUMNS:
        col = found[c.name]
        if c.kind == "text":
            items.append(f"{text(c.name)} AS {c.name}")
        elif c.kind in ("labels", "records"):
            items.append(f"__{c.name} AS {c.name}")
        elif c.kind == "float":
            items.append(f"{text(c.name)} AS {c.name}_text, TRY_CAST({text(c.name)} AS DOUBLE) AS {c.name}")
        elif c.kind == "timestamp":
            if col and pa.types.is_timestamp(types[col]):
                typed = f"CAST({sql_identifier(col)} AS TIMESTAMP)"  # zoned Parquet timestamps convert in the session's UTC
            else:
                typed = to_utc_sql(f"regexp_replace({text(c.name)}, '\\s*UTC$', 'Z')", "'UTC'")
            items.append(f"{text(c.name)} AS {c.name}_text, {typed} AS {c.name}")
    items.append("__credits_amount AS credits_amount")
    items.append("__record_error AS record_error")
    invoice = "regexp_replace(invoice_month_text, '^(\\d{4})-?(\\d{2})$', '\\1-\\2')"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE gcp_billing_checked AS
        SELECT *,
            coalesce(CASE WHEN regexp_matches(invoice_month_text, '^\\d{{4}}-?\\d{{2}}$') THEN {invoice} END,
                     strftime(usage_start_time, '%Y-%m')) AS invoice_month,
            CAST(usage_start_time AS DATE) AS usage_date,
            CASE
                WHEN usage_start_time_text IS NULL THEN 'usage_start_time missing'
                WHEN usage_start_time IS NULL THEN 'unparseable usage_start_time: ' || usage_start_time_text
                WHEN usage_end_time_text IS NOT NULL AND usage_end_time IS NULL THEN 'unparseable usage_end_time: ' || usage_end_time_text
                WHEN usage_end_time < usage_start_time THEN 'usage period ends before it starts'
                WHEN cost_text IS NULL THEN 'cost missing'
                WHEN cost IS NULL THEN 'cost is not a number: ' || cost_text
                WHEN usage_amount_text IS NOT NULL AND usage_amount IS NULL THEN 'usage.amount is not a number: ' || usage_amount_text
                WHEN usage_amount_in_pricing_units_text IS NOT NULL AND usage_amount_in_pricing_units IS NULL
                    THEN 'usage.amount_in_pricing_units is not a number: ' || usage_amount_in_pricing_units_text
                WHEN currency_conversion_rate_text IS NOT NULL AND currency_conversion_rate IS NULL
                    THEN 'currency_conversion_rate is not a number: ' || currency_conversion_rate_text
                WHEN invoice_month_text IS NOT NULL AND NOT regexp_matches(invoice_month_text, '^\\d{{4}}-?\\d{{2}}$')
                    THEN 'invoice.month is not YYYYMM: ' || invoice_month_text
                WHEN record_error IS NOT NULL THEN record_error
            END AS reason
        FROM (SELECT _source_line, {', '.join(items)} FROM gcp_src)""")
    con.unregister("gcp_src")
    rows = fetch_arrow(con, f"SELECT {', '.join(OUTPUT)} FROM gcp_billing_checked WHERE reason IS NULL ORDER BY _source_line")
    shown = ", ".join(f"'{c.keys[0]}', " + (f"{c.name}_text" if c.kind in ("float", "timestamp") else c.name) for c in COLUMNS)
    con.register("gcp_bad", bad)
    rejects = fetch_arrow(con, f"""
        SELECT _source_line, reason, CAST(json_object({shown}) AS VARCHAR) AS raw_record, usage_start_time AS record_ts_utc
        FROM gcp_billing_checked WHERE reason IS NOT NULL
        UNION ALL SELECT _source_line, reason, raw_record, NULL::TIMESTAMP FROM gcp_bad
        ORDER BY _source_line""")
    con.unregister("gcp_bad")
    return rows, rejects.cast(REJECT_SCHEMA)


# ------------------------------------------------------------------------------------------------
# The same mapping inside BigQuery (the export table -> raw.gcp_billing_export)

_INVOICE_MONTH_SQL = ("coalesce(concat(substr(t.invoice.month, 1, 4), '-', substr(t.invoice.month, 5, 2)), "
                      "format_timestamp('%Y-%m', t.usage_start_time))")


def bigquery_select(export_table: str, available: set[str] | None = None) -> str:
    """SELECT of ``raw.gcp_billing_export``'s columns from the export table for the invoice months in
    ``@periods`` ('YYYY-MM'); lineage from ``@load_id``. ``_source_line``, which a table has not, is the
    row's own id: the fingerprint of its content and of its copy number among identical rows (unique
    in the month, as int_gcp_charges' charge id needs, and the same on every rerun). A row number over
    the whole read (``row_number() over ()``) would number the lookback months' rows on one BigQuery
    worker, which a large detailed export does not fit ("Resources exceeded"), and differently on each
    run. ``available``: the table's field paths (``column_key``s); a field it lacks (``resource.*`` in
    the standard export) is read as NULL."""
    items = [f"{_INVOICE_MONTH_SQL} as invoice_month", "date(t.usage_start_time) as usage_date"]
    items += [f"{c.bigquery_sql(available=available)} as {c.name}" for c in COLUMNS if c.name != "invoice_month_text"]
    items += ["coalesce((select sum(c.amount) from unnest(t.credits) c), 0) as credits_amount",
              f"'bigquery:{export_table}' as _source_file",
              "farm_fingerprint(concat(to_json_string(t), '#', cast(row_number() over (partition by farm_fingerprint(to_json_string(t)))"
              " as string))) as _source_line",
              "@load_id as _load_id", "current_timestamp() as _loaded_at"]
    return ("select\n  " + ",\n  ".join(items) + f"\nfrom `{export_table}` t\n"
            f"where {_INVOICE_MONTH_SQL} in unnest(@periods)")


def bigquery_fingerprints(export_table: str) -> str:
    """One row per invoice month in ``@periods``: ``period`` and ``fingerprint`` (row count and an
    order-independent hash of every row's content). Reads only the months asked for."""
    return (f"select {_INVOICE_MONTH_SQL} as period,\n"
            f"  concat('bigquery:', cast(count(*) as string), ':', cast(bit_xor(farm_fingerprint(to_json_string(t))) as string)) as fingerprint,\n"
            f"  cast(null as string) as carbon_model_versions\n"
            f"from `{export_table}` t\nwhere {_INVOICE_MONTH_SQL} in unnest(@periods)\ngroup by period\norder by period")
