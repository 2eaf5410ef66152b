"""Azure usage details in one schema: the Consumption API's items and Cost Management's export rows.

Azure names the same field differently by agreement and vintage: EA exports ``Cost`` /
``BillingCurrency`` / ``MM/DD/YYYY`` dates, MCA exports ``costInBillingCurrency`` / ``costInUsd``,
older cost reports ``PreTaxCost`` / ``UsageDateTime``, the API's legacy kind ``cost`` and its modern
kind ``cost_in_billing_currency``. ``ALIASES`` maps every spelling (matched case-insensitively) to
one raw column; ``normalise`` types the text and checks each row:

- dates: ``MM/DD/YYYY`` (or ``M/D/YYYY``, a time after it ignored), ISO ``YYYY-MM-DD[THH:MM:SS...]``
  with or without an offset (read in UTC);
- numbers: decimals and exponents (``5.64902E-05``);
- ``Tags``: a JSON object, or EA's form without braces (``"env": "prod","org": "trey"``); keys kept
  as written and sorted, empty values dropped, ``{}`` without tags;
- ``cost_usd``: ``costInUsd`` when delivered, else the billing-currency cost when that currency is USD.

A row is rejected (with its line and a reason) for a missing or unparseable usage date, an
unparseable billing period date, a billing period that ends before it starts, a missing or
non-numeric cost, a non-numeric USD cost, quantity or price, or tags that are not a JSON object; the
API loader adds a usage date outside the requested window. ``parse_export_file`` reads one export
part (gzip CSV, CSV with or without a UTF-8 BOM, Parquet) through the CUR reader's shared file reader.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa

from greenops.sources.aws_cur import read_data_file
from greenops.sources.common import LandingFile, REJECT_SCHEMA, UnreadableFileError, fetch_arrow, sql_identifier, sql_text

#: raw column -> accepted source names (lower case; the first one present wins).
ALIASES: dict[str, tuple[str, ...]] = {
    "usage_date": ("usage_date", "date", "usagedatetime", "usagedate"),
    "billing_period_start_date": ("billing_period_start_date", "billingperiodstartdate"),
    "billing_period_end_date": ("billing_period_end_date", "billingperiodenddate"),
    "billing_account_id": ("billing_account_id", "billingaccountid"),
    "billing_profile_id": ("billing_profile_id", "billingprofileid"),
    "subscription_id": ("subscription_id", "subscriptionid", "subscriptionguid"),
    "subscription_name": ("subscription_name", "subscriptionname"),
    "resource_group": ("resource_group", "resourcegroup", "resourcegroupname"),
    "resource_id": ("resource_id", "resourceid", "instancename", "instanceid"),
    "resource_name": ("resource_name", "resourcename"),
    "resource_location": ("resource_location", "resourcelocation", "location"),
    "consumed_service": ("consumed_service", "consumedservice"),
    "meter_id": ("meter_id", "meterid"),
    "meter_category": ("meter_category", "metercategory"),
    "meter_subcategory": ("meter_subcategory", "metersubcategory"),
    "meter_name": ("meter_name", "metername"),
    "meter_region": ("meter_region", "meterregion"),
    "product": ("product", "productname"),
    "unit_of_measure": ("unit_of_measure", "unitofmeasure"),
    "quantity": ("quantity", "usagequantity"),
    "effective_price": ("effective_price", "effectiveprice"),
    "unit_price": ("unit_price", "unitprice"),
    "cost_billing_currency": ("cost_billing_currency", "costinbillingcurrency", "cost", "pretaxcost"),
    "billing_currency": ("billing_currency", "billingcurrency", "billingcurrencycode", "currency"),
    "cost_usd": ("cost_usd", "costinusd"),
    "charge_type": ("charge_type", "chargetype"),
    "pricing_model": ("pricing_model", "pricingmodel"),
    "frequency": ("frequency",),
    "publisher_type": ("publisher_type", "publishertype"),
    "reservation_id": ("reservation_id", "reservationid"),
    "tags": ("tags",),
    "additional_info": ("additional_info", "additionalinfo"),
}
DATE_COLUMNS = ("usage_date", "billing_period_start_date", "billing_period_end_date")
NUMBER_COLUMNS = ("quantity", "effective_price", "unit_price", "cost_billing_currency", "cost_usd")
TEXT_COLUMNS = tuple(c for c in ALIASES if c not in DATE_COLUMNS + NUMBER_COLUMNS + ("tags", "additional_info"))
REQUIRED = {"usage_date": "Date (or UsageDateTime)", "cost_billing_currency": "Cost (or CostInBillingCurrency, PreTaxCost)"}
#: The raw columns ``normalise`` returns (with ``_source_line`` and the pass-through columns).
OUTPUT_COLUMNS = (*DATE_COLUMNS, *TEXT_COLUMNS, "vm_size", *NUMBER_COLUMNS, "tags", "additional_info")


def resolve_columns(columns: list[str]) -> dict[str, str]:
    """raw column -> the source column that feeds it (only those present)."""
    by_lower: dict[str, str] = {}
    for c in columns:
        by_lower.setdefault(c.strip().lower(), c)
    found = {}
    for target, names in ALIASES.items():
        for name in names:
            if name in by_lower:
                found[target] = by_lower[name]
                break
    return found


def date_sql(text: str) -> str:
    """SQL: a DATE from Azure's date text (MM/DD/YYYY, M/D/YYYY, ISO with or without time/offset)."""
    return f"""CASE
        WHEN regexp_matches({text}, '^\\d{{1,2}}/\\d{{1,2}}/\\d{{4}}')
            THEN CAST(try_strptime(regexp_extract({text}, '^(\\d{{1,2}}/\\d{{1,2}}/\\d{{4}})', 1), '%m/%d/%Y') AS DATE)
        ELSE CAST(try_cast({text} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' AS DATE)
    END"""


def _tags_text_sql(text: str) -> str:
    # EA exports write the object's members without the braces: put them back.
    return f"CASE WHEN {text} IS NULL THEN NULL WHEN left({text}, 1) = '{{' THEN {text} ELSE '{{' || {text} || '}}' END"


def normalise(con: duckdb.DuckDBPyConnection, source: str, passthrough: tuple[str, ...] = (),
              window: tuple | None = None) -> tuple[pa.Table, pa.Table]:
    """Type and check the usage-detail rows of temp table ``source`` (any of the ``ALIASES`` names,
    any types; ``_source_line`` required) into (rows, rejects).

    ``passthrough`` columns are copied as they are (to rows and, as extra columns, to rejects).
    ``window`` = ``(first_day, last_day)``: a usage date outside it is rejected. Raises ``ValueError``
    when the usage date or cost column is absent (the caller names the file or response).
    """
    columns = [r[0] for r in con.execute(f"DESCRIBE {source}").fetchall()]
    src = resolve_columns(columns)
    missing = [label for target, label in REQUIRED.items() if target not in src]
    if missing:
        raise ValueError("no column " + " and no column ".join(missing))

    def text(target: str) -> str:
        return f"nullif(trim(CAST({sql_identifier(src[target])} AS VARCHAR)), '')" if target in src else "NULL::VARCHAR"

    items = [f"{text(c)} AS {c}_text" for c in (*DATE_COLUMNS, *NUMBER_COLUMNS, "tags")]
    items += [f"{text(c)} AS {c}" for c in (*TEXT_COLUMNS, "additional_info")]
    items += [f"{sql_identifier(c)}" for c in ("_source_line", *passthrough)]
    con.execute(f"CREATE OR REPLACE TEMP TABLE az_text AS SELECT {', '.join(items)} FROM {source}")

    typed = [f"{date_sql(c + '_text')} AS {c}" for c in DATE_COLUMNS]
    typed += [f"try_cast({c}_text AS DOUBLE) AS {c}_num" for c in NUMBER_COLUMNS]
    typed.append(f"TRY_CAST(TRY_CAST({_tags_text_sql('tags_text')} AS JSON) AS MAP(VARCHAR, VARCHAR)) AS tags_map")
    typed.append("json_extract_string(TRY_CAST(additional_info AS JSON), '$.ServiceType') AS vm_size")
    con.execute(f"CREATE OR REPLACE TEMP TABLE az_typed AS SELECT *, {', '.join(typed)} FROM az_text")

    checks = ["WHEN usage_date_text IS NULL THEN 'usage date missing'",
              "WHEN usage_date IS NULL THEN 'unparseable usage date: ' || usage_date_text"]
    for c in ("billing_period_start_date", "billing_period_end_date"):
        checks.append(f"WHEN {c}_text IS NOT NULL AND {c} IS NULL THEN 'unparseable {c}: ' || {c}_text")
    checks.append("WHEN billing_period_end_date < billing_period_start_date THEN 'billing period ends before it starts: ' "
                  "|| billing_period_start_date_text || ' .. ' || billing_period_end_date_text")
    checks.append("WHEN cost_billing_currency_text IS NULL THEN 'cost missing'")
    for c in NUMBER_COLUMNS:
        checks.append(f"WHEN {c}_text IS NOT NULL AND {c}_num IS NULL THEN '{c} is not a number: ' || {c}_text")
    checks.append("WHEN tags_text IS NOT NULL AND tags_map IS NULL THEN 'tags is not a JSON object: ' || tags_text")
    if window is not None:
        checks.append(f"WHEN usage_date NOT BETWEEN DATE '{window[0].isoformat()}' AND DATE '{window[1].isoformat()}' "
                      f"THEN 'usage date ' || usage_date || ' outside the requested window {window[0]}..{window[1]}'")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE az_checked AS SELECT *,
        CAST(to_json(map_from_entries(list_sort(list_filter(
            coalesce(map_entries(tags_map), []::STRUCT(key VARCHAR, value VARCHAR)[]),
            lambda e: e.value IS NOT NULL AND trim(e.value) <> '')))) AS VARCHAR) AS tags,
        CASE WHEN cost_usd_text IS NOT NULL THEN cost_usd_num
             WHEN upper(billing_currency) = 'USD' THEN cost_billing_currency_num END AS cost_usd,
        CASE {' '.join(checks)} END AS reason
        FROM az_typed""")
    out = [*DATE_COLUMNS, *TEXT_COLUMNS, "vm_size", *(f"{c}_num AS {c}" for c in NUMBER_COLUMNS if c != "cost_usd"),
           "cost_usd", "tags", "additional_info", "_source_line", *(sql_identifier(c) for c in passthrough)]
    rows = fetch_arrow(con, f"SELECT {', '.join(out)} FROM az_checked WHERE reason IS NULL ORDER BY _source_line")
    shown = ", ".join(f"{sql_text(c)}, {c}_text" for c in (*DATE_COLUMNS, "cost_billing_currency", "cost_usd", "quantity", "tags"))
    shown += ", " + ", ".join(f"{sql_text(c)}, {c}" for c in ("billing_currency", "subscription_id", "resource_id", "meter_name"))
    extra = "".join(f", {sql_identifier(c)}" for c in passthrough)
    rejects = fetch_arrow(con, f"""SELECT _source_line, reason, CAST(json_object({shown}) AS VARCHAR) AS raw_record,
        CAST(usage_date AS TIMESTAMP) AS record_ts_utc{extra}
        FROM az_checked WHERE reason IS NOT NULL ORDER BY _source_line""")
    return rows, rejects


def _open_bytes(path: Path):
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _has_crlf(path: Path) -> bool:
    try:
        with _open_bytes(path) as fh:
            previous = b""
            while chunk := fh.read(1 << 20):
                if b"\r\n" in previous[-1:] + chunk:
                    return True
                previous = chunk
    except (OSError, EOFError):
        return False
    return False


def _copy_with_lf_ends(source: Path, target: Path) -> None:
    """Copy (and gunzip) ``source`` to ``target`` with every CRLF written as LF, streaming."""
    with _open_bytes(source) as src, open(target, "wb") as dst:
        carry = b""
        while chunk := src.read(1 << 20):
            chunk = carry + chunk
            carry = b"\r" if chunk.endswith(b"\r") else b""
            dst.write(chunk[: len(chunk) - len(carry)].replace(b"\r\n", b"\n"))
        dst.write(carry)


def parse_export_file(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    """One Cost Management export part (ActualCost, AmortizedCost, Usage; EA or MCA columns; gzip CSV,
    CSV or Parquet) into (rows, rejects with ``REJECT_SCHEMA``).

    CSV lines are numbered as an editor shows them (header = 1), Parquet rows from 1. A header with no
    rows gives no rows. Raises ``UnreadableFileError`` naming ``lf.rel`` when the file cannot be read or
    has no usage date or cost column; a malformed CSV row is rejected with its line.
    """
    try:
        read_data_file(con, lf)  # temp tables cur_src (the file's columns + _source_line) and cur_bad
    except UnreadableFileError:
        # DuckDB's CSV reader stops on a file mixing CRLF and LF line ends (seen in hand-edited
        # exports): read a copy with LF ends, still naming the original file.
        if lf.path.name.lower().endswith(".parquet") or not _has_crlf(lf.path):
            raise
        with tempfile.TemporaryDirectory(prefix="greenops-azure-") as tmp:
            copy = Path(tmp) / "lf.csv"
            _copy_with_lf_ends(lf.path, copy)
            read_data_file(con, LandingFile(copy, lf.rel, lf.host, lf.file_date))
    columns = [r[0] for r in con.execute("DESCRIBE cur_src").fetchall()]
    if columns == ["_source_line"]:  # an empty file: not even a header
        return pa.table({}), REJECT_SCHEMA.empty_table()
    try:
        rows, rejects = normalise(con, "cur_src")
    except ValueError as exc:
        raise UnreadableFileError(lf.rel, f"not an Azure cost details file: {exc}") from exc
    bad = fetch_arrow(con, "SELECT _source_line, reason, raw_record, NULL::TIMESTAMP AS record_ts_utc FROM cur_bad")
    rejects = pa.concat_tables([rejects.cast(REJECT_SCHEMA), bad.cast(REJECT_SCHEMA)]).sort_by("_source_line")
    return rows, rejects
