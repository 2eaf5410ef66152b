"""The work behind the AWS ingestion tasks: plain functions, callable without a scheduler.

- ``ingest_aws_cost_explorer(day)``: Cost Explorer, daily, for the run's UTC day and the trailing
  restatement window; replaces every day of the window in one transaction.
- ``ingest_aws_cur()``: CUR 2.0 (or legacy CUR) from S3 or ``<landing>/aws_cur/``; reloads each billing
  period whose manifest or data files changed since the last load, one transaction per period.
- ``ingest_aws_carbon()``: the carbon emissions export from S3 or ``<landing>/aws_carbon/``; reloads
  each usage period whose files changed, one transaction per period.

Each returns a small summary dict (for the task log and XCom). Every write goes through
``Warehouse.replace_partitions``: a period's rows, its quarantined rows and its load record commit
together or not at all, and nothing is written before every page or file of it has been read and
parsed, so a failed pull leaves the previous data in place. See docs/aws.md.
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import closing
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from greenops import raw_tables as rt
from greenops.ingest import (  # one convention for every source
    _utcnow, conformed_columns, load_connection, new_load_id, raw_column_types,
)
from greenops.settings import Settings, get_settings
from greenops.sources import aws_carbon, aws_cost_explorer as ce, aws_cur
from greenops.sources.aws_cur import ObjectStore, StoredObject
from greenops.sources.common import LandingFile, REJECT_SCHEMA, new_connection, sql_text
from greenops.warehouse import PartitionWrite, SelectPartitionWrite, Warehouse, get_warehouse
from greenops.warehouse.duckdb_warehouse import RAW_SCHEMA

log = logging.getLogger(__name__)


def _constant(table: pa.Table, name: str, value, type_: pa.DataType) -> pa.Table:
    """``table`` with column ``name`` set to ``value`` on every row (replacing one of that name)."""
    if name in table.column_names:
        table = table.drop_columns([name])
    return table.append_column(name, pa.repeat(pa.scalar(value, type_), table.num_rows))


def _lineage(table: pa.Table, load_id: str, loaded_at: datetime) -> pa.Table:
    table = _constant(table, "_load_id", load_id, pa.string())
    return _constant(table, "_loaded_at", loaded_at, pa.timestamp("us"))


def _first_day(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)


# ------------------------------------------------------------------------------------------------
# Cost Explorer


def ingest_aws_cost_explorer(day: date, load_id: str | None = None, settings: Settings | None = None, client=None) -> dict:
    """Pull Cost Explorer for UTC ``day`` and the ``GREENOPS_AWS_CE_RESTATEMENT_DAYS`` days before it,
    DAILY, grouped by ``GREENOPS_AWS_CE_GROUP_BY``, and replace those days of ``raw.aws_ce_costs_daily``.

    Every day of the window is replaced (a day the API returns nothing for becomes empty), in one
    transaction, after every page is in. Returns the window, row counts and ``ce_requests`` (billed
    requests, USD 0.01 each); an API error that outlasts botocore's retries propagates and nothing
    is written.
    """
    s = settings or get_settings()
    load_id = load_id or new_load_id("aws-ce")
    start, end = ce.request_window(day, s.aws_ce_restatement_days)
    request = ce.build_request(start, end, s.aws_ce_group_by)
    if client is None:
        from greenops.aws_client import aws_client

        client = aws_client("ce", s)
    label = f"aws-ce:GetCostAndUsage/{start.isoformat()}..{end.isoformat()}"
    log.info("Cost Explorer: %s, DAILY, group by %s", label, s.aws_ce_group_by)
    pages = ce.fetch_pages(client, request, s.aws_max_attempts)
    requests, retries = len(pages), ce.retries(pages)
    log.info("Cost Explorer: %d billed request(s) (USD %.2f), %d retried attempt(s)",
             requests, requests * ce.PRICE_PER_REQUEST_USD, retries)

    data = ce.parse_pages(pages, label)
    days = ce.window_days(start, end)
    outside = pc.sum(pc.invert(pc.is_in(data.column("usage_date"), pa.array(days, pa.date32())))).as_py()
    if outside:
        raise ValueError(f"{label}: {outside} result row(s) outside the requested window; nothing written")
    data = rt.conform(rt.AWS_CE_COSTS_DAILY, _lineage(data, load_id, _utcnow()))
    get_warehouse(s).replace_partitions([PartitionWrite(rt.AWS_CE_COSTS_DAILY, data, days)])
    estimated = pc.sum(data.column("is_estimated")).as_py() or 0
    summary = {
        "window_start": start.isoformat(),
        "window_end": (end - timedelta(days=1)).isoformat(),  # inclusive, for people
        "days": len(days),
        "rows": data.num_rows,
        "estimated_rows": estimated,
        "ce_requests": requests,
        "ce_request_cost_usd": round(requests * ce.PRICE_PER_REQUEST_USD, 2),
        "ce_retries": retries,
    }
    log.info("%s: %s", rt.AWS_CE_COSTS_DAILY.name, summary)
    return summary


# ------------------------------------------------------------------------------------------------
# Exports in an object store (CUR, carbon): shared steps


def _previous_fingerprints(warehouse: Warehouse, source: str) -> dict[str, str]:
    warehouse.ensure_raw_tables()
    done = warehouse.query(
        f"SELECT period, fingerprint_sha256 FROM raw.{rt.AWS_EXPORT_LOADS.name} WHERE source = ?", [source])
    return dict(zip(done.column("period").to_pylist(), done.column("fingerprint_sha256").to_pylist()))


def _parse_objects(store: ObjectStore, objects: list[tuple[StoredObject, dict]],
                   parse: Callable[..., tuple[pa.Table, pa.Table]], table: rt.RawTable) -> tuple[pa.Table, pa.Table]:
    """Fetch and parse each object (``parse(con, lf, **kwargs)``); returns all rows (conformed to
    ``table``, with ``_source_file``) and all rejects (with ``_source_file``). S3 objects are
    downloaded one at a time into a temporary folder and removed once parsed."""
    con = new_connection()
    row_parts, reject_parts = [], []
    with tempfile.TemporaryDirectory(prefix="greenops-aws-") as tmp:
        for obj, kwargs in objects:
            name = store.display(obj.key)
            if obj.size == 0:
                log.warning("skipping empty file %s", name)
                continue
            path = store.fetch(obj.key, Path(tmp))
            try:
                rows, rejects = parse(con, LandingFile(path, name, None, None), **kwargs)
            finally:
                if path.parent == Path(tmp):
                    os.unlink(path)
            if rows.num_rows:
                row_parts.append(rt.conform(table, _constant(rows, "_source_file", name, pa.string())))
            reject_parts.append(_constant(rejects.cast(REJECT_SCHEMA), "_source_file", name, pa.string()))
            log.info("%s: %d rows, %d rejected", name, rows.num_rows, rejects.num_rows)
    rows = pa.concat_tables(row_parts) if row_parts else rt.empty(table)
    rejects = pa.concat_tables(reject_parts) if reject_parts else REJECT_SCHEMA.append(pa.field("_source_file", pa.string())).empty_table()
    return rows, rejects


def _period_writes(table: rt.RawTable, period: str, rows: pa.Table, rejects: pa.Table, record: dict,
                   load_id: str, loaded_at: datetime) -> list[PartitionWrite]:
    """The three writes of one period: its rows, its quarantine (dated the period's first day) and
    its load record; replace_partitions commits them together."""
    first = _first_day(period)
    quarantine = _constant(_constant(rejects, "source", table.name, pa.string()), "partition_date", first, pa.date32())
    load = pa.table({"source": [table.name], "period": [period], **{k: [v] for k, v in record.items()},
                     "rows_loaded": [rows.num_rows], "rows_quarantined": [rejects.num_rows], "_source_line": [None]})
    return [
        PartitionWrite(table, rt.conform(table, _lineage(rows, load_id, loaded_at)), (period,)),
        PartitionWrite(rt.QUARANTINE, rt.conform(rt.QUARANTINE, _lineage(quarantine, load_id, loaded_at)), (first,), {"source": table.name}),
        PartitionWrite(rt.AWS_EXPORT_LOADS, rt.conform(rt.AWS_EXPORT_LOADS, _lineage(load, load_id, loaded_at)), (period,), {"source": table.name}),
    ]


# ------------------------------------------------------------------------------------------------
# CUR


def _load_cur_period(warehouse, store: ObjectStore, objects: list[StoredObject], period: str, constants: dict[str, str],
                     record: dict, load_id: str, loaded_at: datetime) -> tuple[int, int]:
    """Replace one billing period in a DuckDB warehouse without the rows passing through Python: the
    warehouse file is attached to the parsing connection, the period deleted, and each data file's
    rows inserted from DuckDB as soon as it is parsed (S3 objects are downloaded one at a time and
    removed after), then its quarantine and load record; one transaction, so a file that cannot be
    read leaves the period as it was. ``constants``: columns with one value for the period. Returns
    (rows loaded, rows quarantined)."""
    table, first = rt.AWS_CUR_LINE_ITEMS, _first_day(period)
    # bounded memory, spilling to disk: a month of 5 million line items loads in a few GB
    with tempfile.TemporaryDirectory(prefix="greenops-aws-") as tmp, closing(load_connection(str(Path(tmp, "spill")))) as con:
        downloads = Path(tmp, "files")
        downloads.mkdir()
        types = raw_column_types(con, table)
        params = {"load_id": load_id, "loaded_at": loaded_at, **constants}
        columns = conformed_columns(types, aws_cur.ROW_COLUMNS, {c: f"${c}::{types[c]}" for c in constants})
        con.execute("CREATE TEMP TABLE period_rejects (_source_line BIGINT, reason VARCHAR, raw_record VARCHAR, _source_file VARCHAR)")
        with warehouse.transaction_on(con) as catalog:
            target = f"{catalog}{RAW_SCHEMA}.{table.name}"
            con.execute(f"DELETE FROM {target} WHERE {table.partition_column} = ?", [period])
            for obj in objects:
                name = store.display(obj.key)
                if obj.size == 0:
                    log.warning("skipping empty file %s", name)
                    continue
                path = store.fetch(obj.key, downloads)
                try:
                    rows_sql, rejects_sql = aws_cur.stage_file(con, LandingFile(path, name, None, None))
                finally:
                    if path.parent == downloads:
                        os.unlink(path)  # staged into DuckDB's temp tables (Parquet too)
                n_rows = 0
                if rows_sql is not None:
                    con.execute(f"INSERT INTO {target} BY NAME SELECT {columns} FROM ({rows_sql})", {**params, "file": name})
                    n_rows = con.execute(f"SELECT count(*) FROM ({rows_sql})").fetchone()[0]
                con.execute(f"INSERT INTO period_rejects SELECT _source_line, reason, raw_record, $file FROM ({rejects_sql})",
                            {"file": name})
                log.info("%s: %d rows, %d rejected", name, n_rows,
                         con.execute("SELECT count(*) FROM period_rejects WHERE _source_file = ?", [name]).fetchone()[0])
            n_rows = con.execute(f"SELECT count(*) FROM {target} WHERE {table.partition_column} = ?", [period]).fetchone()[0]
            n_rejects = con.execute("SELECT count(*) FROM period_rejects").fetchone()[0]
            quarantine = SelectPartitionWrite(rt.QUARANTINE, f"""
                SELECT {sql_text(table.name)} AS source, DATE '{first}' AS partition_date, reason, raw_record, _source_file,
                       _source_line, {sql_text(load_id)} AS _load_id, TIMESTAMP '{loaded_at}' AS _loaded_at
                FROM period_rejects ORDER BY _source_file, _source_line""", (first,), {"source": table.name})
            load = pa.table({"source": [table.name], "period": [period], **{k: [v] for k, v in record.items()},
                             "rows_loaded": [n_rows], "rows_quarantined": [n_rejects], "_source_line": [None]})
            load = PartitionWrite(rt.AWS_EXPORT_LOADS, rt.conform(rt.AWS_EXPORT_LOADS, _lineage(load, load_id, loaded_at)),
                                  (period,), {"source": table.name})
            warehouse.write(con, [quarantine, load], catalog)  # committed with the rows when the block ends
    return n_rows, n_rejects


def ingest_aws_cur(billing_periods: Iterable[str] | None = None, load_id: str | None = None,
                   settings: Settings | None = None, force: bool = False) -> dict:
    """Load every CUR billing period whose delivery changed since its last load.

    Reads the export in ``GREENOPS_AWS_CUR_BUCKET``/``GREENOPS_AWS_CUR_PREFIX`` (or, with no bucket,
    ``<landing>/aws_cur/``). ``billing_periods`` (``"YYYY-MM"``) limits the periods looked at;
    ``force`` reloads them even when unchanged. Each reloaded period replaces its partition of
    ``raw.aws_cur_line_items`` and its quarantine rows, and records the manifest's fingerprint in
    ``raw.aws_export_loads``, in one transaction. A manifest listing a missing file or a data file
    that cannot be read raises ``UnreadableFileError`` naming it; that period stays as it was.
    """
    s = settings or get_settings()
    load_id = load_id or new_load_id("aws-cur")
    store = aws_cur.cur_store(s)
    listing = store.list(s.aws_cur_prefix)
    by_key = {o.key: o for o in listing}
    refs = aws_cur.find_manifests(listing, s.aws_cur_export)
    if billing_periods is not None:
        wanted = set(billing_periods)
        refs = {p: r for p, r in refs.items() if p in wanted}
    warehouse = get_warehouse(s)
    previous = _previous_fingerprints(warehouse, rt.AWS_CUR_LINE_ITEMS.name)
    summary = {"source": store.display(s.aws_cur_prefix), "billing_periods": sorted(refs), "reloaded": [],
               "unchanged": [], "files": 0, "rows": 0, "quarantined": 0}
    for period, ref in refs.items():
        manifest = aws_cur.read_manifest(store, ref)
        data = aws_cur.data_objects(store, manifest, by_key)
        fp = aws_cur.fingerprint([manifest.body], data)
        if not force and previous.get(period) == fp:
            summary["unchanged"].append(period)
            continue
        constants = {"billing_period": period, "cur_format": ref.layout, "export_name": ref.export_name}
        record = {"export_name": ref.export_name, "object_key": ref.key, "object_etag": ref.etag,
                  "fingerprint_sha256": fp, "data_files": len(data), "_source_file": store.display(ref.key)}
        if getattr(warehouse, "transaction_on", None):
            n_rows, n_rejects = _load_cur_period(warehouse, store, data, period, constants, record, load_id, _utcnow())
        else:  # BigQuery: the period as Arrow
            rows, rejects = _parse_objects(store, [(o, {}) for o in data], aws_cur.parse_file, rt.AWS_CUR_LINE_ITEMS)
            for name, value in constants.items():
                rows = _constant(rows, name, value, pa.string())
            warehouse.replace_partitions(_period_writes(rt.AWS_CUR_LINE_ITEMS, period, rows, rejects, record, load_id, _utcnow()))
            n_rows, n_rejects = rows.num_rows, rejects.num_rows
        log.info("CUR %s (%s, %s): %d files, %d rows, %d quarantined", period, ref.export_name, ref.layout,
                 len(data), n_rows, n_rejects)
        summary["reloaded"].append(period)
        summary["files"] += len(data)
        summary["rows"] += n_rows
        summary["quarantined"] += n_rejects
    log.info("%s: %s", rt.AWS_CUR_LINE_ITEMS.name, summary)
    return summary


# ------------------------------------------------------------------------------------------------
# Carbon


def ingest_aws_carbon(usage_periods: Iterable[str] | None = None, load_id: str | None = None,
                      settings: Settings | None = None, force: bool = False) -> dict:
    """Load every usage period of the carbon emissions export whose files changed since its last load.

    Reads ``GREENOPS_AWS_CARBON_BUCKET``/``GREENOPS_AWS_CARBON_PREFIX`` (default: the CUR bucket and
    prefix) or, with no bucket, ``<landing>/aws_carbon/``. Each reloaded period replaces its partition
    of ``raw.aws_carbon_emissions`` (all model versions found for it), its quarantine rows and its
    record in ``raw.aws_export_loads`` in one transaction. No export present: nothing to do.
    """
    s = settings or get_settings()
    load_id = load_id or new_load_id("aws-carbon")
    store = aws_carbon.carbon_store(s)
    periods = aws_carbon.find_periods(store.list(s.aws_carbon_prefix))
    if usage_periods is not None:
        wanted = set(usage_periods)
        periods = {p: f for p, f in periods.items() if p in wanted}
    warehouse = get_warehouse(s)
    previous = _previous_fingerprints(warehouse, rt.AWS_CARBON_EMISSIONS.name)
    summary = {"source": store.display(s.aws_carbon_prefix), "usage_periods": sorted(periods), "reloaded": [],
               "unchanged": [], "files": 0, "rows": 0, "quarantined": 0}
    for period, files in periods.items():
        objects = [obj for _, obj in files]
        fp = aws_cur.fingerprint([], objects)
        if not force and previous.get(period) == fp:
            summary["unchanged"].append(period)
            continue
        rows, rejects = _parse_objects(store, [(obj, {"usage_period": period, "model_version": model}) for model, obj in files],
                                       aws_carbon.parse_file, rt.AWS_CARBON_EMISSIONS)
        folder = os.path.commonprefix([o.key for o in objects]).rsplit("/", 1)[0]
        record = {"export_name": None, "object_key": folder, "object_etag": None, "fingerprint_sha256": fp,
                  "data_files": len(objects), "_source_file": store.display(folder)}
        warehouse.replace_partitions(_period_writes(rt.AWS_CARBON_EMISSIONS, period, rows, rejects, record, load_id, _utcnow()))
        log.info("carbon %s: %d files, %d rows, %d quarantined", period, len(objects), rows.num_rows, rejects.num_rows)
        summary["reloaded"].append(period)
        summary["files"] += len(objects)
        summary["rows"] += rows.num_rows
        summary["quarantined"] += rejects.num_rows
    log.info("%s: %s", rt.AWS_CARBON_EMISSIONS.name, summary)
    return summary
