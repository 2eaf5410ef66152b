"""The work behind the GCP ingestion tasks: plain functions, callable without a scheduler.

- ``ingest_gcp_carbon()``: the Carbon Footprint export, replaced per usage month.
- ``ingest_gcp_billing(day)``: the Cloud Billing export, replaced per invoice month.

Each reads one of two places, chosen by the settings (the DAG does not change):

- **files** under ``<landing>/gcp_carbon/`` and ``<landing>/gcp_billing/`` (``bq extract`` Parquet or
  JSON, or a flattened CSV), parsed here and written through ``Warehouse.replace_partitions``;
- **the export table in BigQuery** (``GREENOPS_GCP_CARBON_TABLE``, ``GREENOPS_GCP_BILLING_TABLE``)
  when the warehouse is BigQuery: the rows never leave BigQuery; one query job copies the changed
  months into the raw table (``INSERT ... SELECT`` in one multi-statement transaction).

Either way a month is reloaded only when its **content fingerprint** changed since its last load
(``raw.gcp_export_loads``): Google republishes a month (a new ``carbon_model_version``, late billing
rows) in place, and an unchanged month is not rewritten. A reloaded month replaces its partition,
its quarantine rows and its load record together. Returns a summary dict (task log and XCom).
See docs/gcp_bigquery.md.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from greenops import raw_tables as rt
from greenops.ingest import _utcnow, new_load_id
from greenops.ingest_aws import _constant, _first_day, _lineage
from greenops.settings import Settings, get_settings
from greenops.sources import gcp_billing, gcp_carbon
from greenops.sources.common import REJECT_SCHEMA, new_connection
from greenops.sources.gcp_export import bigquery_field_paths_sql, column_key, content_fingerprint, describe_file, find_files
from greenops.warehouse import PartitionWrite, QueryPartitionWrite, Warehouse, get_warehouse

log = logging.getLogger(__name__)


def _previous(warehouse: Warehouse, source: str) -> dict[str, str]:
    warehouse.ensure_raw_tables()
    done = warehouse.query(f"SELECT period, fingerprint FROM raw.{rt.GCP_EXPORT_LOADS.name} WHERE source = ?", [source])
    return {r["period"]: r["fingerprint"] for r in done.to_pylist()}


def _months_back(day: date, months: int) -> list[str]:
    """'YYYY-MM' of ``day``'s month and the ``months - 1`` before it."""
    out, y, m = [], day.year, day.month
    for _ in range(months):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return sorted(out)


def _record(table: rt.RawTable, period: str, origin: str, fingerprint: str, versions: str | None,
            files: int, rows: int, rejected: int) -> dict:
    return {"source": table.name, "period": period, "origin": origin, "fingerprint": fingerprint,
            "carbon_model_versions": versions, "data_files": files, "rows_loaded": rows, "rows_quarantined": rejected}


def _loads_write(records: list[dict], load_id: str, loaded_at, source_file: str) -> PartitionWrite:
    table = pa.Table.from_pylist(records) if records else rt.empty(rt.GCP_EXPORT_LOADS)
    table = _constant(table, "_source_file", source_file, pa.string())
    data = rt.conform(rt.GCP_EXPORT_LOADS, _lineage(table, load_id, loaded_at))
    return PartitionWrite(rt.GCP_EXPORT_LOADS, data, tuple(r["period"] for r in records), {"source": records[0]["source"]})


# ------------------------------------------------------------------------------------------------
# Files in the landing folder


def _parse_folder(s: Settings, subdir: str, parse, table: rt.RawTable, period_column: str):
    """Parse every export file under ``<landing>/<subdir>/``; returns (rows, rejects with a period, files)."""
    con = new_connection()
    files = find_files(s.landing_dir / subdir)
    row_parts, reject_parts = [], []
    for path in files:
        lf = describe_file(s.landing_dir, path)
        if path.stat().st_size == 0:
            log.warning("skipping empty file %s", lf.rel)
            continue
        rows, rejects = parse(con, lf)
        if rows.num_rows:
            row_parts.append(rt.conform(table, _constant(rows, "_source_file", lf.rel, pa.string())))
        # a rejected row belongs to its own month when it has one, else to the file's first month
        first = rows.column(period_column)[0].as_py() if rows.num_rows else None
        periods = [ts.strftime("%Y-%m") if ts else first for ts in rejects.column("record_ts_utc").to_pylist()]
        rejects = _constant(rejects.cast(REJECT_SCHEMA), "_source_file", lf.rel, pa.string())
        reject_parts.append(rejects.append_column("period", pa.array(periods, pa.string())))
        log.info("%s: %d rows, %d rejected", lf.rel, rows.num_rows, rejects.num_rows)
    rows = pa.concat_tables(row_parts) if row_parts else rt.empty(table)
    reject_schema = REJECT_SCHEMA.append(pa.field("_source_file", pa.string())).append(pa.field("period", pa.string()))
    rejects = pa.concat_tables(reject_parts) if reject_parts else reject_schema.empty_table()
    orphans = pc.sum(pc.is_null(rejects.column("period"))).as_py() or 0
    if orphans:  # a file with no good row at all: its rejects have no month to live in
        log.warning("%d rejected row(s) in files without any good row are not kept in quarantine", orphans)
    return rows, rejects, len(files)


def _ingest_files(s: Settings, subdir: str, parse, table: rt.RawTable, period_column: str,
                  periods: Iterable[str] | None, load_id: str, force: bool) -> dict:
    rows, rejects, n_files = _parse_folder(s, subdir, parse, table, period_column)
    found = sorted(set(rows.column(period_column).to_pylist()) | {p for p in rejects.column("period").to_pylist() if p})
    if periods is not None:
        found = [p for p in found if p in set(periods)]
    warehouse = get_warehouse(s)
    previous = _previous(warehouse, table.name)
    origin = f"files:{subdir}"
    summary = {"source": origin, "periods": found, "reloaded": [], "unchanged": [], "files": n_files, "rows": 0, "quarantined": 0}
    for period in found:
        part = rows.filter(pc.equal(rows.column(period_column), period))
        bad = rejects.filter(pc.fill_null(pc.equal(rejects.column("period"), period), False))
        fingerprint = content_fingerprint(part, bad.drop_columns(["period", "record_ts_utc"]))
        if not force and previous.get(period) == fingerprint:
            summary["unchanged"].append(period)
            continue
        versions = None
        if "carbon_model_version" in part.column_names:
            versions = ",".join(str(v) for v in sorted({v for v in part.column("carbon_model_version").to_pylist() if v is not None}))
        n_period_files = len(set(part.column("_source_file").to_pylist()) | set(bad.column("_source_file").to_pylist()))
        loaded_at, first = _utcnow(), _first_day(period)
        quarantine = _constant(_constant(bad.drop_columns(["period"]), "source", table.name, pa.string()), "partition_date", first, pa.date32())
        record = _record(table, period, origin, fingerprint, versions, n_period_files, part.num_rows, bad.num_rows)
        warehouse.replace_partitions([
            PartitionWrite(table, rt.conform(table, _lineage(part, load_id, loaded_at)), (period,)),
            PartitionWrite(rt.QUARANTINE, rt.conform(rt.QUARANTINE, _lineage(quarantine, load_id, loaded_at)), (first,), {"source": table.name}),
            _loads_write([record], load_id, loaded_at, origin),
        ])
        log.info("%s %s: %d rows, %d quarantined (model versions %s)", table.name, period, part.num_rows, bad.num_rows, versions)
        summary["reloaded"].append(period)
        summary["rows"] += part.num_rows
        summary["quarantined"] += bad.num_rows
    return summary


# ------------------------------------------------------------------------------------------------
# The export table inside BigQuery


def _ingest_bigquery(s: Settings, export_table: str, module, table: rt.RawTable, periods: list[str] | None,
                     load_id: str, force: bool) -> dict:
    warehouse = get_warehouse(s)
    previous = _previous(warehouse, table.name)
    params = {"periods": list(periods)} if periods is not None else None
    current = warehouse.query(module.bigquery_fingerprints(export_table), params)
    fingerprints = {r["period"]: r["fingerprint"] for r in current.to_pylist()}
    versions = {r["period"]: r["carbon_model_versions"] for r in current.to_pylist()}
    found = sorted(fingerprints)
    origin = f"bigquery:{export_table}"
    changed = [p for p in found if force or previous.get(p) != fingerprints[p]]
    summary = {"source": origin, "periods": found, "reloaded": changed, "unchanged": [p for p in found if p not in changed],
               "files": 0, "rows": None, "quarantined": 0}
    if not changed:
        return summary
    loaded_at = _utcnow()
    records = [_record(table, p, origin, fingerprints[p], versions.get(p), 0, None, 0) for p in changed]
    firsts = tuple(_first_day(p) for p in changed)
    # the export's own columns: a field it lacks (resource.* in a standard billing export) reads as NULL
    fields = {column_key(r["field_path"]) for r in warehouse.query(bigquery_field_paths_sql(export_table)).to_pylist()}
    warehouse.replace_partitions([
        QueryPartitionWrite(table, module.bigquery_select(export_table, fields or None), tuple(changed),
                            params={"periods": changed, "load_id": load_id}),
        # rows quarantined by an earlier load from files go: the export table is the truth now
        PartitionWrite(rt.QUARANTINE, rt.empty(rt.QUARANTINE), firsts, {"source": table.name}),
        _loads_write(records, load_id, loaded_at, origin),
    ])
    log.info("%s: copied %s from %s inside BigQuery", table.name, changed, export_table)
    return summary


# ------------------------------------------------------------------------------------------------
# The task functions


def ingest_gcp_carbon(usage_months: Iterable[str] | None = None, load_id: str | None = None,
                      settings: Settings | None = None, force: bool = False) -> dict:
    """Load every usage month of the Carbon Footprint export whose content changed since its last
    load into ``raw.gcp_carbon_footprint`` (every carbon model version present for the month).

    ``usage_months`` ('YYYY-MM') limits the months looked at; ``force`` reloads them even when
    unchanged. Source: ``GREENOPS_GCP_CARBON_TABLE`` inside BigQuery (BigQuery warehouse only),
    else ``<landing>/gcp_carbon/``. A file that cannot be read raises ``UnreadableFileError``;
    rows with an unparseable month or value go to ``raw.quarantine``.
    """
    s = settings or get_settings()
    load_id = load_id or new_load_id("gcp-carbon")
    table = rt.GCP_CARBON_FOOTPRINT
    if s.gcp_carbon_table and s.warehouse_kind == "bigquery":
        summary = _ingest_bigquery(s, s.gcp_carbon_table, gcp_carbon, table,
                                   list(usage_months) if usage_months is not None else None, load_id, force)
    else:
        summary = _ingest_files(s, gcp_carbon.LANDING_SUBDIR, gcp_carbon.parse_file, table, "usage_month",
                                usage_months, load_id, force)
    log.info("%s: %s", table.name, summary)
    return summary


def ingest_gcp_billing(day: date | None = None, invoice_months: Iterable[str] | None = None, load_id: str | None = None,
                       settings: Settings | None = None, force: bool = False) -> dict:
    """Load every invoice month of the Cloud Billing export whose content changed into
    ``raw.gcp_billing_export``.

    From files: every month found under ``<landing>/gcp_billing/`` (or ``invoice_months``). Inside
    BigQuery (``GREENOPS_GCP_BILLING_TABLE``): ``invoice_months``, else the month of ``day`` and the
    ``GREENOPS_GCP_BILLING_LOOKBACK_MONTHS - 1`` before it (the billing export is large: only the
    months Google still restates are fingerprinted).
    """
    s = settings or get_settings()
    load_id = load_id or new_load_id("gcp-billing")
    table = rt.GCP_BILLING_EXPORT
    if s.gcp_billing_table and s.warehouse_kind == "bigquery":
        months = list(invoice_months) if invoice_months is not None else None
        if months is None:
            if day is None:
                raise ValueError("ingest_gcp_billing from BigQuery needs the run's day or invoice_months")
            months = _months_back(day, s.gcp_billing_lookback_months)
        summary = _ingest_bigquery(s, s.gcp_billing_table, gcp_billing, table, months, load_id, force)
    else:
        summary = _ingest_files(s, gcp_billing.LANDING_SUBDIR, gcp_billing.parse_file, table, "invoice_month",
                                invoice_months, load_id, force)
    log.info("%s: %s", table.name, summary)
    return summary


