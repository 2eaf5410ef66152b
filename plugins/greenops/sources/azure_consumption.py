"""Azure Consumption API usage details (``ConsumptionManagementClient.usage_details.list``).

- ``request_window``: the days a run pulls: its UTC day and ``GREENOPS_AZURE_RESTATEMENT_DAYS`` days
  before it; during the first five days of a month the whole previous month too (Azure finalises a
  month's charges in the first days of the next).
- ``chunks``: the window cut at calendar months, one request (and its pages) per scope and chunk.
- ``fetch_pages``: every page of one request, following ``nextLink`` through the SDK's ``ItemPaged``
  (``by_page``). Throttling and 5xx are retried by the client's policies (``greenops.azure_client``);
  an error that outlasts them propagates. Nothing is parsed or written before the last page is in.
- ``parse_pages``: the ``legacy`` and ``modern`` items in one schema (``raw.azure_usage_details``):
  the SDK's attributes by kind (legacy ``cost``/``billing_currency``/``resource_id`` and meter details
  under ``meter_details``; modern ``cost_in_billing_currency``/``cost_in_usd``/``instance_name``), then
  the checks of ``azure_usage.normalise``. The SDK's models deserialise lazily: a value Azure got
  wrong (a date that is not a date, a cost that is not a number) reaches us as its text and the item
  is quarantined with its page and index, not the whole response.
"""

from __future__ import annotations

import calendar
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa

from greenops.sources import azure_usage
from greenops.sources.common import REJECT_SCHEMA, new_connection

log = logging.getLogger(__name__)

#: Meter details (legacy) and additional info (both kinds) are only returned when expanded.
EXPAND = "properties/meterDetails,properties/additionalInfo"
MAX_PAGES = 10000  # a guard against a nextLink that never ends
FIRST_DAYS_RESTATING_PREVIOUS_MONTH = 5


def request_window(day: date, restatement_days: int) -> tuple[date, date]:
    """``(first, last)`` days (both inclusive) a run for UTC ``day`` pulls."""
    first = day - timedelta(days=restatement_days)
    if day.day <= FIRST_DAYS_RESTATING_PREVIOUS_MONTH:
        previous_month_start = (day.replace(day=1) - timedelta(days=1)).replace(day=1)
        first = min(first, previous_month_start)
    return first, day


def window_days(first: date, last: date) -> tuple[date, ...]:
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


def chunks(first: date, last: date) -> list[tuple[date, date]]:
    """The window cut at month ends: ``[(first, end of its month), ..., (first of last's month, last)]``."""
    out = []
    start = first
    while start <= last:
        month_end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
        end = min(month_end, last)
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


def date_filter(first: date, last: date) -> str:
    """The ``$filter`` for usage between two days (inclusive), as the Consumption API documents it."""
    return f"properties/usageStart ge '{first.isoformat()}' and properties/usageEnd le '{last.isoformat()}'"


@dataclass(frozen=True)
class Page:
    scope: str  # as configured, e.g. /subscriptions/<id>
    first: date
    last: date
    number: int  # 1-based within the request
    items: list  # azure.mgmt.consumption.models.UsageDetail (LegacyUsageDetail | ModernUsageDetail)

    @property
    def label(self) -> str:
        return f"azure-consumption:{self.scope}/{self.first.isoformat()}..{self.last.isoformat()}#page{self.number}"


def fetch_pages(connection, scope: str, first: date, last: date) -> list[Page]:
    """Every page of the usage details of ``scope`` between two days (inclusive)."""
    paged = connection.client.usage_details.list(
        scope.lstrip("/"), expand=EXPAND, filter=date_filter(first, last), **connection.call_kwargs)
    pages = []
    for number, page in enumerate(paged.by_page(), start=1):
        pages.append(Page(scope, first, last, number, list(page)))
        log.info("Consumption API %s %s..%s page %d: %d item(s)", scope, first, last, number, len(pages[-1].items))
        if number >= MAX_PAGES:
            raise RuntimeError(f"Consumption API returned more than {MAX_PAGES} pages for {scope} {first}..{last}")
    return pages


# ------------------------------------------------------------------------------------------------
# Items to rows

#: raw column -> SDK attribute, per kind (the names of azure-mgmt-consumption 11's models).
_COMMON = {
    "usage_date": "date",
    "billing_period_start_date": "billing_period_start_date",
    "billing_period_end_date": "billing_period_end_date",
    "billing_account_id": "billing_account_id",
    "billing_profile_id": "billing_profile_id",
    "subscription_name": "subscription_name",
    "resource_group": "resource_group",
    "resource_location": "resource_location",
    "consumed_service": "consumed_service",
    "meter_id": "meter_id",
    "product": "product",
    "quantity": "quantity",
    "effective_price": "effective_price",
    "unit_price": "unit_price",
    "charge_type": "charge_type",
    "pricing_model": "pricing_model",
    "frequency": "frequency",
    "publisher_type": "publisher_type",
    "reservation_id": "reservation_id",
    "additional_info": "additional_info",
}
_BY_KIND = {
    "legacy": {**_COMMON, "subscription_id": "subscription_id", "resource_id": "resource_id", "resource_name": "resource_name",
               "cost_billing_currency": "cost", "billing_currency": "billing_currency"},
    "modern": {**_COMMON, "subscription_id": "subscription_guid", "resource_id": "instance_name",
               "cost_billing_currency": "cost_in_billing_currency", "billing_currency": "billing_currency_code",
               "cost_usd": "cost_in_usd", "meter_name": "meter_name", "meter_category": "meter_category",
               "meter_subcategory": "meter_sub_category", "meter_region": "meter_region", "unit_of_measure": "unit_of_measure"},
}
#: legacy items carry their meter's names in meter_details (with expand=properties/meterDetails).
_LEGACY_METER = {"meter_name": "meter_name", "meter_category": "meter_category",
                 "meter_subcategory": "meter_sub_category", "unit_of_measure": "unit_of_measure"}
COLUMNS = tuple(dict.fromkeys([*_BY_KIND["legacy"], *_BY_KIND["modern"], *_LEGACY_METER, "tags"]))
PASSTHROUGH = ("kind", "scope", "usage_detail_id", "_source_file")


def _text(value) -> str | None:
    """A value of an SDK model as the text normalise() reads (dates ISO, decimals exact)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (Decimal, int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _attr(obj, name: str):
    try:
        return getattr(obj, name, None)
    except Exception:  # a lazily deserialised field that cannot be read: treat it as absent
        return None


def item_row(item) -> dict[str, str | None]:
    """One usage detail as text columns (raw names) plus ``kind`` and ``usage_detail_id``."""
    kind = str(_attr(item, "kind") or "").lower()
    mapping = _BY_KIND.get(kind, {})
    row = {column: _text(_attr(item, attr)) for column, attr in mapping.items()}
    if kind == "legacy":
        details = _attr(item, "meter_details")
        if details is not None:
            for column, attr in _LEGACY_METER.items():
                row[column] = _text(_attr(details, attr))
    tags = _attr(item, "tags")
    row["tags"] = json.dumps(dict(tags), sort_keys=True) if tags else None
    row["kind"] = kind or None
    row["usage_detail_id"] = _attr(item, "id")
    return row


def parse_pages(pages: list[Page], window: tuple[date, date] | None = None) -> tuple[pa.Table, pa.Table]:
    """All items of all pages as (rows, rejects).

    ``rows`` has ``raw.azure_usage_details``' columns with ``_source_file`` (the page's label) and
    ``_source_line`` (the item's 1-based index in its page). ``rejects`` has ``REJECT_SCHEMA`` plus
    ``_source_file``: an item of unknown kind, or one failing ``azure_usage.normalise``'s checks,
    including a usage date outside ``window``.
    """
    columns: dict[str, list] = {c: [] for c in (*COLUMNS, *PASSTHROUGH, "_source_line")}
    unknown: list[dict] = []
    for page in pages:
        for index, item in enumerate(page.items, start=1):
            row = item_row(item)
            if row["kind"] not in _BY_KIND:
                unknown.append({"_source_line": index, "reason": f"unknown usage detail kind: {row['kind']}",
                                "raw_record": json.dumps(dict(item), default=str)[:2000], "record_ts_utc": None,
                                "_source_file": page.label})
                continue
            row.update(scope=page.scope, _source_file=page.label, _source_line=index)
            for c in columns:
                columns[c].append(row.get(c))
    source = pa.table({c: pa.array(v, pa.int64() if c == "_source_line" else pa.string()) for c, v in columns.items()})
    con = new_connection()
    con.register("az_items", source)
    rows, rejects = azure_usage.normalise(con, "az_items", PASSTHROUGH, window)
    keep = [n for n in REJECT_SCHEMA.names] + ["_source_file"]
    rejects = rejects.select(keep).cast(REJECT_SCHEMA.append(pa.field("_source_file", pa.string())))
    if unknown:
        rejects = pa.concat_tables([rejects, pa.Table.from_pylist(unknown, rejects.schema)])
    return rows, rejects
