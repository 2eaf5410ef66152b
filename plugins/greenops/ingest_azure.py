"""The work behind the Azure ingestion tasks: plain functions, callable without a scheduler.

- ``ingest_azure_consumption(day)``: the Consumption API's usage details of every scope in
  ``GREENOPS_AZURE_SCOPES`` for the run's UTC day and a trailing restatement window (the whole
  previous month during a month's first five days); replaces every day of the window in one
  transaction, after every page of every scope is in.
- ``ingest_azure_cost_exports()``: Cost Management ActualCost / AmortizedCost / Usage exports from
  ``<landing>/azure_exports/``; reloads each month whose latest runs changed, one transaction a month.
- ``ingest_azure_focus_exports()``: the same for FocusCost exports, into ``raw.azure_focus_charges``.

Each returns a small summary dict (for the task log and XCom). Every write goes through
``Warehouse.replace_partitions``: a window's or month's rows, its quarantined rows and (exports) its
load record commit together or not at all, so a failed pull or an unreadable file leaves the
previous data in place. See docs/azure.md.
"""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import date
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from greenops import raw_tables as rt
from greenops.ingest import _utcnow, new_load_id  # one load-id and clock convention for every source
from greenops.ingest_aws import _constant, _first_day, _lineage, _parse_objects  # shared export-loading steps
from greenops.settings import Settings, get_settings
from greenops.sources import azure_consumption as consumption
from greenops.sources import azure_exports, azure_usage, focus
from greenops.sources.aws_cur import fingerprint
from greenops.warehouse import PartitionWrite, get_warehouse

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------
# Consumption API


def ingest_azure_consumption(day: date, load_id: str | None = None, settings: Settings | None = None,
                             credential=None, connection=None) -> dict:
    """Pull the usage details of every configured scope for UTC ``day``'s window and replace those
    days of ``raw.azure_usage_details`` (and their ``azure_usage_details`` quarantine rows).

    The window is ``consumption.request_window(day, GREENOPS_AZURE_RESTATEMENT_DAYS)``, requested per
    scope and calendar month. Every day of the window is replaced, days without usage included, in
    one transaction after every page of every scope is in. An item that fails the checks is
    quarantined (``_source_file`` = scope, window and page; ``_source_line`` = index in the page),
    dated by its usage day when that is in the window, else ``day``. An API error that outlasts the
    retries propagates and nothing is written. ``credential`` (a TokenCredential) and ``connection``
    (an ``azure_client.ConsumptionConnection``) default to the configured ones.
    """
    s = settings or get_settings()
    if not s.azure_scopes:
        raise ValueError("GREENOPS_AZURE_SCOPES is empty: no scope to pull usage details for")
    load_id = load_id or new_load_id("azure-consumption")
    first, last = consumption.request_window(day, s.azure_restatement_days)
    chunks = consumption.chunks(first, last)
    own_connection = connection is None
    if own_connection:
        from greenops.azure_client import consumption_client

        connection = consumption_client(s, credential)
    log.info("Consumption API: %s, %s..%s in %d request(s) per scope", ", ".join(s.azure_scopes), first, last, len(chunks))
    try:
        pages = [page for scope in s.azure_scopes for start, end in chunks
                 for page in consumption.fetch_pages(connection, scope, start, end)]
    finally:
        if own_connection:
            connection.close()
    retry_waits = [round(seconds, 3) for seconds, _ in connection.retry_policy.waits]
    rate_waits = [round(seconds, 3) for _, seconds in connection.rate_limiter.waits]

    rows, rejects = consumption.parse_pages(pages, (first, last))
    days = consumption.window_days(first, last)
    loaded_at = _utcnow()
    rows = rt.conform(rt.AZURE_USAGE_DETAILS, _lineage(rows, load_id, loaded_at))
    in_window = [ts.date() if ts is not None and first <= ts.date() <= last else day
                 for ts in rejects.column("record_ts_utc").to_pylist()]
    quarantine = _constant(rejects, "source", rt.AZURE_USAGE_DETAILS.name, pa.string())
    quarantine = quarantine.append_column("partition_date", pa.array(in_window, pa.date32()))
    quarantine = rt.conform(rt.QUARANTINE, _lineage(quarantine, load_id, loaded_at))
    get_warehouse(s).replace_partitions([
        PartitionWrite(rt.AZURE_USAGE_DETAILS, rows, days),
        PartitionWrite(rt.QUARANTINE, quarantine, days, {"source": rt.AZURE_USAGE_DETAILS.name}),
    ])
    kinds = pc.value_counts(rows.column("kind")).to_pylist() if rows.num_rows else []
    summary = {
        "window_start": first.isoformat(),
        "window_end": last.isoformat(),
        "days": [first.isoformat(), last.isoformat()],
        "scopes": list(s.azure_scopes),
        "pages": len(pages),
        "requests": connection.rate_limiter.calls,  # attempts sent, retries included
        "rows": rows.num_rows,
        "rows_by_kind": {k["values"]: k["counts"] for k in kinds},
        "quarantined": quarantine.num_rows,
        "retry_waits_s": retry_waits,
        "rate_limit_waits_s": rate_waits,
    }
    log.info("%s: %s", rt.AZURE_USAGE_DETAILS.name, summary)
    return summary


# ------------------------------------------------------------------------------------------------
# Cost Management exports


def _previous_fingerprints(warehouse, source: str) -> dict[str, str]:
    warehouse.ensure_raw_tables()
    done = warehouse.query(
        f"SELECT period, fingerprint_sha256 FROM raw.{rt.AZURE_EXPORT_LOADS.name} WHERE source = ?", [source])
    return dict(zip(done.column("period").to_pylist(), done.column("fingerprint_sha256").to_pylist()))


def _with_meta(parse):
    """A parser for ``_parse_objects`` that stamps each file's export and run on its rows."""

    def run(con, lf, **meta):
        rows, rejects = parse(con, lf)
        for name, value in meta.items():
            rows = _constant(rows, name, value, pa.string())
        return rows, rejects

    return run


def _row_count_mismatches(expected: dict[str, int], rows: pa.Table, rejects: pa.Table) -> list[str]:
    """Files whose rows (loaded + rejected) differ from the manifest's dataRowCount."""
    seen: dict[str, int] = {}
    for table in (rows, rejects):
        if table.num_rows:
            for entry in pc.value_counts(table.column("_source_file")).to_pylist():
                seen[entry["values"]] = seen.get(entry["values"], 0) + entry["counts"]
    return [f"{name}: manifest says {count} rows, read {seen.get(name, 0)}"
            for name, count in sorted(expected.items()) if seen.get(name, 0) != count]


def _ingest_exports(target: rt.RawTable, billing_periods: Iterable[str] | None, load_id: str | None,
                    settings: Settings | None, force: bool) -> dict:
    s = settings or get_settings()
    load_id = load_id or new_load_id("azure-exports")
    store = azure_exports.exports_store(s)
    listing = store.list(s.azure_exports_prefix)
    manifests = [azure_exports.read_manifest(store, run) for run in azure_exports.find_runs(listing, s.azure_export_names)]
    wanted = set(billing_periods) if billing_periods is not None else None
    units: dict[str, list[tuple[azure_exports.Manifest, str | None, list]]] = {}
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="greenops-azure-") as tmp:
        for manifest in azure_exports.latest_runs(manifests):
            if wanted is not None and manifest.run.billing_period not in wanted:
                continue
            objects = azure_exports.data_objects(store, manifest, listing)
            table_name, dataset = azure_exports.target_of(store, manifest, objects, Path(tmp))
            if table_name is None:
                skipped.append(f"{manifest.run.export_path} ({dataset})")
                continue
            if table_name == target.name:
                units.setdefault(manifest.run.billing_period, []).append((manifest, dataset, objects))
    if skipped:
        log.info("not loaded (dataset not supported): %s", ", ".join(sorted(set(skipped))))

    warehouse = get_warehouse(s)
    previous = _previous_fingerprints(warehouse, target.name)
    parse = _with_meta(focus.parse if target is rt.AZURE_FOCUS_CHARGES else azure_usage.parse_export_file)
    summary = {"source": store.display(s.azure_exports_prefix), "billing_periods": sorted(units), "reloaded": [],
               "unchanged": [], "files": 0, "rows": 0, "quarantined": 0, "row_count_mismatches": []}
    for period, runs in sorted(units.items()):
        runs.sort(key=lambda r: r[0].run.manifest_key)
        objects = [obj for _, _, objs in runs for obj, _ in objs]
        fp = fingerprint([m.body for m, _, _ in runs], objects)
        if not force and previous.get(period) == fp:
            summary["unchanged"].append(period)
            continue
        work = []
        for manifest, dataset, objs in runs:
            meta = {"export_name": manifest.run.export_name, "export_path": manifest.run.export_path,
                    "export_period": manifest.run.export_period, "run_id": manifest.run.run_id}
            if target is rt.AZURE_COST_DETAILS:
                meta["dataset"] = dataset
            work += [(obj, meta) for obj, _ in objs]
        rows, rejects = _parse_objects(store, work, parse, target)
        rows = _constant(rows, "billing_period", period, pa.string())
        expected = {store.display(obj.key): count for _, _, objs in runs for obj, count in objs if count is not None}
        mismatches = _row_count_mismatches(expected, rows, rejects)
        for message in mismatches:
            log.warning("%s %s: %s", target.name, period, message)
        loaded_at = _utcnow()
        first = _first_day(period)
        quarantine = _constant(_constant(rejects, "source", target.name, pa.string()), "partition_date", first, pa.date32())
        record = pa.table({
            "source": [target.name], "period": [period],
            "runs": [json.dumps([m.describe() for m, _, _ in runs])], "fingerprint_sha256": [fp],
            "data_files": [len(objects)], "rows_loaded": [rows.num_rows], "rows_quarantined": [rejects.num_rows],
            "_source_file": [store.display(runs[0][0].run.manifest_key)], "_source_line": pa.array([None], pa.int64()),
        })
        warehouse.replace_partitions([
            PartitionWrite(target, rt.conform(target, _lineage(rows, load_id, loaded_at)), (period,)),
            PartitionWrite(rt.QUARANTINE, rt.conform(rt.QUARANTINE, _lineage(quarantine, load_id, loaded_at)), (first,),
                           {"source": target.name}),
            PartitionWrite(rt.AZURE_EXPORT_LOADS, rt.conform(rt.AZURE_EXPORT_LOADS, _lineage(record, load_id, loaded_at)),
                           (period,), {"source": target.name}),
        ])
        log.info("%s %s: %d run(s), %d files, %d rows, %d quarantined", target.name, period, len(runs), len(objects),
                 rows.num_rows, rejects.num_rows)
        summary["reloaded"].append(period)
        summary["files"] += len(objects)
        summary["rows"] += rows.num_rows
        summary["quarantined"] += rejects.num_rows
        summary["row_count_mismatches"] += mismatches
    log.info("%s: %s", target.name, summary)
    return summary


def ingest_azure_cost_exports(billing_periods: Iterable[str] | None = None, load_id: str | None = None,
                              settings: Settings | None = None, force: bool = False) -> dict:
    """Load every month of ActualCost / AmortizedCost / Usage exports whose latest runs changed.

    Reads ``<landing>/azure_exports/`` (``GREENOPS_AZURE_EXPORTS_PREFIX`` narrows it,
    ``GREENOPS_AZURE_EXPORTS`` picks export names). A month's rows come from the latest run of every
    export and period folder of that month; when their fingerprint (manifests and data files) changed,
    the month's partition of ``raw.azure_cost_details``, its quarantine rows and its record in
    ``raw.azure_export_loads`` are replaced in one transaction. ``billing_periods`` ('YYYY-MM') limits
    the months looked at; ``force`` reloads them even when unchanged. A manifest listing a missing
    file, or a file that cannot be read, raises ``UnreadableFileError`` naming it; that month stays.
    """
    return _ingest_exports(rt.AZURE_COST_DETAILS, billing_periods, load_id, settings, force)


def ingest_azure_focus_exports(billing_periods: Iterable[str] | None = None, load_id: str | None = None,
                               settings: Settings | None = None, force: bool = False) -> dict:
    """As ``ingest_azure_cost_exports`` for FocusCost exports, parsed by ``sources.focus`` into
    ``raw.azure_focus_charges`` (``raw.focus_charges``' columns plus the export and run)."""
    return _ingest_exports(rt.AZURE_FOCUS_CHARGES, billing_periods, load_id, settings, force)

