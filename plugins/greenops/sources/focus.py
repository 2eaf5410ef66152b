"""FOCUS exports (FinOps Open Cost and Usage Specification 1.0+): CSV (plain or gzip) or Parquet,
with the spec's column names (BilledCost, EffectiveCost, ChargePeriodStart, ProviderName, Tags, ...).

AWS Data Exports, Azure's FocusCost dataset and GCP all write FOCUS; this is also the way in for a
provider GreenOps has no native connector for. Rows are rejected (quarantined) when a cost is not a
number, a charge or billing period is unparseable or ends before it starts, or a mandatory column is
empty. A file without the mandatory columns fails as unreadable. ``NULL`` text is read as NULL.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from greenops.sources.common import REJECT_SCHEMA, LandingFile, UnreadableFileError, fetch_arrow

MANDATORY = ("BilledCost", "EffectiveCost", "BillingCurrency", "BillingPeriodStart", "ChargePeriodStart",
             "ChargePeriodEnd", "ProviderName", "ServiceName")
OPTIONAL_TEXT = ("BillingAccountId", "ChargeCategory", "ChargeDescription", "PublisherName", "InvoiceIssuerName",
                 "ServiceCategory", "RegionId", "ResourceId", "ResourceName", "SubAccountId", "ConsumedUnit", "Tags",
                 "BillingPeriodEnd")
OPTIONAL_NUMBERS = ("ListCost", "ContractedCost", "ConsumedQuantity")


def _snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out


def parse(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    try:
        if lf.path.name.endswith(".parquet"):
            con.execute("CREATE OR REPLACE TEMP TABLE focus_src AS SELECT *, file_row_number + 1 AS _source_line "
                        "FROM read_parquet(?, file_row_number = true)", [str(lf.path)])
        else:
            # header on line 1: data row n is line n + 1 (a quoted field spanning lines would shift this)
            con.execute("CREATE OR REPLACE TEMP TABLE focus_src AS SELECT *, row_number() OVER () + 1 AS _source_line "
                        "FROM read_csv(?, header = true, all_varchar = true, nullstr = 'NULL', compression = 'auto')",
                        [str(lf.path)])
    except duckdb.Error as exc:
        raise UnreadableFileError(lf.rel, str(exc).strip().splitlines()[0]) from exc
    columns = {r[0] for r in con.execute("DESCRIBE focus_src").fetchall()}
    missing = [c for c in MANDATORY if c not in columns]
    if missing:
        raise UnreadableFileError(lf.rel, "not a FOCUS file: missing column(s) " + ", ".join(missing))

    def text(c: str) -> str:
        return f"nullif(trim(CAST({c} AS VARCHAR)), '')" if c in columns else "NULL::VARCHAR"

    def number(c: str) -> str:
        return f"try_cast({text(c)} AS DOUBLE)"

    def ts(c: str) -> str:
        return f"try_cast({text(c)} AS TIMESTAMPTZ) AT TIME ZONE 'UTC'" if c in columns else "NULL::TIMESTAMP"

    selects = [f"{number(c)} AS {_snake(c)}" for c in ("BilledCost", "EffectiveCost") + OPTIONAL_NUMBERS]
    selects += [f"{ts(c)} AS {_snake(c)}" for c in ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")]
    selects += [f"{text(c)} AS {_snake(c)}" for c in ("BillingCurrency", "ProviderName", "ServiceName") + OPTIONAL_TEXT
                if c != "BillingPeriodEnd"]
    raw = " || ',' || ".join(f"coalesce({text(c)}, '')" for c in MANDATORY)
    con.execute(f"CREATE OR REPLACE TEMP TABLE focus_typed AS SELECT _source_line, {raw} AS raw_record, "
                f"{text('BilledCost')} AS billed_text, {text('EffectiveCost')} AS effective_text, {', '.join(selects)} FROM focus_src")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE focus_checked AS SELECT *, CASE
            WHEN billed_cost IS NULL THEN 'BilledCost is not a number: ' || coalesce(billed_text, '(empty)')
            WHEN effective_cost IS NULL THEN 'EffectiveCost is not a number: ' || coalesce(effective_text, '(empty)')
            WHEN billing_period_start IS NULL THEN 'BillingPeriodStart missing or unparseable'
            WHEN charge_period_start IS NULL OR charge_period_end IS NULL THEN 'ChargePeriodStart/End missing or unparseable'
            WHEN charge_period_end < charge_period_start THEN 'charge period ends before it starts'
            WHEN billing_period_end < billing_period_start THEN 'billing period ends before it starts'
            WHEN billing_currency IS NULL OR provider_name IS NULL OR service_name IS NULL
                THEN 'BillingCurrency, ProviderName or ServiceName empty'
        END AS reason FROM focus_typed
    """)
    rows = fetch_arrow(con, "SELECT * EXCLUDE (reason, raw_record, billed_text, effective_text), "
                            "strftime(billing_period_start, '%Y-%m') AS billing_period FROM focus_checked WHERE reason IS NULL ORDER BY _source_line")
    rejects = fetch_arrow(con, "SELECT _source_line, reason, raw_record, charge_period_start AS record_ts_utc "
                               "FROM focus_checked WHERE reason IS NOT NULL ORDER BY _source_line")
    return rows, rejects.cast(REJECT_SCHEMA)
