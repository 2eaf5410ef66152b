"""AWS Cost Explorer ``GetCostAndUsage``: daily cost per group (default: service x ``deployment`` tag).

- ``request_window``: which days a run pulls: its UTC day plus a trailing restatement window, because
  Cost Explorer restates recent days (``Estimated: true``) until they are final.
- ``fetch_pages``: all pages of one request, looping on ``NextPageToken`` (botocore has no paginator
  for this call). Every page is a billed request (USD 0.01): the pages are returned so the caller can
  count and log them. Nothing is parsed or written before the last page is in.
- ``parse_pages``: the pages as an Arrow table in ``raw.aws_ce_costs_daily``'s columns. ``Amount``
  strings are parsed as decimals by DuckDB (then stored as double); tag and cost-category keys come
  back as ``"deployment$chat-70b"`` and are split into key and value (``"deployment$"``, an untagged
  resource, gives value NULL). A response that is not what the API documents raises ``ValueError``.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pyarrow as pa

from greenops.sources.common import fetch_arrow, new_connection

log = logging.getLogger(__name__)

#: The metrics we pull, and the raw column each lands in.
METRICS = {
    "UnblendedCost": "unblended_cost",
    "NetAmortizedCost": "net_amortized_cost",
    "UsageQuantity": "usage_quantity",
}
PRICE_PER_REQUEST_USD = 0.01  # every GetCostAndUsage request, each page included
MAX_PAGES = 1000  # a guard against a token that never ends


def request_window(day: date, restatement_days: int) -> tuple[date, date]:
    """``(start, end)`` of a run for UTC ``day``: ``end`` is exclusive (the API's convention)."""
    return day - timedelta(days=restatement_days), day + timedelta(days=1)


def window_days(start: date, end: date) -> tuple[date, ...]:
    return tuple(start + timedelta(days=i) for i in range((end - start).days))


def build_request(start: date, end: date, group_by: tuple[tuple[str, str], ...], granularity: str = "DAILY") -> dict:
    return {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": granularity,
        "Metrics": list(METRICS),
        "GroupBy": [{"Type": kind, "Key": key} for kind, key in group_by],
    }


def _fetch_page(client, request: dict, token: str | None, attempts: int) -> dict:
    """One page; a page without a ``ResultsByTime`` list (a body cut short: botocore does not check
    Content-Length and turns an unparseable 200 into ``{"message": ...}``) is asked for again, and
    after ``attempts`` such pages the pull fails, so a broken page never replaces days with nothing."""
    for attempt in range(1, attempts + 1):
        page = client.get_cost_and_usage(**request, **({"NextPageToken": token} if token else {}))
        if isinstance(page.get("ResultsByTime"), list):
            return page
        log.warning("Cost Explorer page without ResultsByTime (cut short?), attempt %d of %d", attempt, attempts)
    raise RuntimeError(f"Cost Explorer returned a malformed page {attempts} times for {request['TimePeriod']}: nothing written")


def fetch_pages(client, request: dict, attempts: int = 5) -> list[dict]:
    """Every page of ``client.get_cost_and_usage(**request)``.

    The request is sent unchanged with each ``NextPageToken`` (changing anything between pages makes
    the API raise ``RequestChangedException``). Throttling and 5xx are retried by botocore's standard
    mode, malformed pages by us (``attempts``); an error that outlasts the retries propagates, and the
    pages read so far are dropped.
    """
    pages: list[dict] = []
    token = None
    while True:
        page = _fetch_page(client, request, token, attempts)
        pages.append(page)
        # one line per billed request, so a run that fails half-way still shows what it spent
        log.info("Cost Explorer request %d: %d result period(s)%s", len(pages), len(page.get("ResultsByTime", [])),
                 ", more pages follow" if page.get("NextPageToken") else "")
        token = page.get("NextPageToken")
        if not token:
            return pages
        if len(pages) >= MAX_PAGES:
            raise RuntimeError(f"Cost Explorer returned more than {MAX_PAGES} pages for {request['TimePeriod']}")


def retries(pages: list[dict]) -> int:
    """How many retries botocore needed in all (throttled or failed attempts before each page)."""
    return sum(p.get("ResponseMetadata", {}).get("RetryAttempts", 0) for p in pages)


def _split_key(kind: str, raw: str) -> tuple[str, str | None]:
    # TAG and COST_CATEGORY values come back as "<key>$<value>"; an empty value means "not tagged".
    if kind in ("TAG", "COST_CATEGORY") and "$" in raw:
        key, _, value = raw.partition("$")
        return key, value or None
    return "", raw


def _flatten(pages: list[dict], source_label: str) -> dict[str, list]:
    """One dict of columns (text as delivered) from every group of every page."""
    cols: dict[str, list] = {c: [] for c in (
        "period_start", "period_end", "is_estimated", "_source_file", "_source_line",
        *(f"group{i}_{p}" for i in (1, 2) for p in ("type", "key", "value")),
        *(f"{name}_{p}" for name in METRICS.values() for p in ("amount", "unit")),
    )}
    for number, page in enumerate(pages, start=1):
        definitions = [(d.get("Type"), d.get("Key")) for d in page.get("GroupDefinitions", [])]
        line = 0
        for result in page.get("ResultsByTime", []):
            period = result.get("TimePeriod") or {}
            if "Start" not in period or "End" not in period:
                raise ValueError(f"{source_label} page {number}: a result without TimePeriod Start/End")
            # Without GroupBy the numbers are in Total (one row per period).
            groups = result.get("Groups") or ([{"Keys": [], "Metrics": result.get("Total") or {}}] if not definitions else [])
            for group in groups:
                line += 1
                keys = group.get("Keys") or []
                if len(keys) != len(definitions):
                    raise ValueError(f"{source_label} page {number}: group {keys} does not match GroupDefinitions {definitions}")
                cols["period_start"].append(period["Start"])
                cols["period_end"].append(period["End"])
                cols["is_estimated"].append(bool(result.get("Estimated", False)))
                cols["_source_file"].append(f"{source_label}#page{number}")
                cols["_source_line"].append(line)
                for i in (1, 2):
                    if i <= len(definitions):
                        kind, key = definitions[i - 1]
                        tag_key, value = _split_key(kind, keys[i - 1])
                        cols[f"group{i}_type"].append(kind)
                        cols[f"group{i}_key"].append(tag_key or key)
                        cols[f"group{i}_value"].append(value)
                    else:
                        for p in ("type", "key", "value"):
                            cols[f"group{i}_{p}"].append(None)
                metrics = group.get("Metrics") or {}
                for metric, name in METRICS.items():
                    m = metrics.get(metric) or {}
                    cols[f"{name}_amount"].append(m.get("Amount"))
                    cols[f"{name}_unit"].append(m.get("Unit"))
    return cols


def parse_pages(pages: list[dict], source_label: str = "aws-ce:GetCostAndUsage") -> pa.Table:
    """The groups of every page as rows of ``raw.aws_ce_costs_daily`` (without _load_id/_loaded_at).

    ``source_label`` names the request in lineage (``_source_file`` = label#pageN, ``_source_line`` =
    the group's position in that page). An ``Amount`` that is not a decimal number raises
    ``ValueError``: the response is broken, and nothing of the window is written.
    """
    cols = _flatten(pages, source_label)
    con = new_connection()
    con.register("groups", pa.table({k: pa.array(v, pa.bool_() if k == "is_estimated" else pa.int64() if k == "_source_line" else pa.string())
                                     for k, v in cols.items()}))
    # DECIMAL(38,18) reads the API's decimal strings exactly ("1.5E-3" included); then double.
    amounts = ",\n".join(
        f"CAST(TRY_CAST(trim({n}_amount) AS DECIMAL(38,18)) AS DOUBLE) AS {n}{'_usd' if n.endswith('cost') else ''}, {n}_unit"
        for n in METRICS.values()
    )
    bad = con.execute(
        "SELECT _source_file, _source_line, " + " || ' ' || ".join(f"coalesce({n}_amount, '')" for n in METRICS.values())
        + " FROM groups WHERE " + " OR ".join(
            f"({n}_amount IS NOT NULL AND TRY_CAST(trim({n}_amount) AS DECIMAL(38,18)) IS NULL)" for n in METRICS.values())
        + " LIMIT 1").fetchone()
    if bad:
        raise ValueError(f"{bad[0]} group {bad[1]}: Amount is not a decimal number: {bad[2]!r}")
    return fetch_arrow(con, f"""
        SELECT CAST(period_start AS DATE) AS usage_date, CAST(period_start AS DATE) AS period_start_date,
               CAST(period_end AS DATE) AS period_end_date, is_estimated,
               group1_type, group1_key, group1_value, group2_type, group2_key, group2_value,
               {amounts},
               _source_file, _source_line
        FROM groups ORDER BY usage_date, _source_file, _source_line
        """)
