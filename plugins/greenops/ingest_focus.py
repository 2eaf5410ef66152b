"""Loading FOCUS exports from ``<landing>/focus/`` (any provider; CSV, gzip CSV or Parquet).

Every run reads every FOCUS file there and replaces, for each billing period present, that period's
partition of ``raw.focus_charges`` and its quarantine rows in one transaction: exports are monthly
and restated in place, so the latest files are the truth and a rerun changes nothing.
"""

from __future__ import annotations

import calendar
import logging
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from greenops import raw_tables as rt
from greenops.ingest import _utcnow, new_load_id
from greenops.settings import Settings, get_settings
from greenops.sources import focus
from greenops.sources.common import describe, new_connection
from greenops.warehouse import PartitionWrite, get_warehouse

log = logging.getLogger(__name__)
SUFFIXES = (".csv", ".csv.gz", ".parquet")


def ingest_focus(load_id: str | None = None, settings: Settings | None = None) -> dict:
    s = settings or get_settings()
    root = s.landing_dir / "focus"
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.name.endswith(SUFFIXES)) if root.exists() else []
    load_id, loaded_at = load_id or new_load_id(), _utcnow()
    con = new_connection()
    rows_parts, reject_parts = [], []
    for path in files:
        lf = describe(s.landing_dir, path)
        rows, rejects = focus.parse(con, lf)
        n, m = rows.num_rows, rejects.num_rows
        rows_parts.append(rows.append_column("_source_file", pa.array([lf.rel] * n, pa.string())))
        # a rejected row belongs to the month of its charge period (else the file's first period)
        first = rows.column("billing_period")[0].as_py() if n else None
        periods = [ts.strftime("%Y-%m") if ts else first for ts in rejects.column("record_ts_utc").to_pylist()]
        reject_parts.append(pa.table({
            "source": pa.array([rt.FOCUS_CHARGES.name] * m, pa.string()),
            "partition_date": pa.array([date(int(p[:4]), int(p[5:7]), 1) if p else None for p in periods], pa.date32()),
            "reason": rejects.column("reason"), "raw_record": rejects.column("raw_record"),
            "_source_file": pa.array([lf.rel] * m, pa.string()), "_source_line": rejects.column("_source_line"),
        }))
        log.info("%s: %d rows, %d rejected", lf.rel, n, m)
    if not rows_parts:
        return {"files": 0, "billing_periods": [], "rows": 0, "quarantined": 0, "days": []}
    rows = pa.concat_tables([rt.conform(rt.FOCUS_CHARGES, r) for r in rows_parts])
    rows = rt.conform(rt.FOCUS_CHARGES, rows.drop_columns(["_load_id", "_loaded_at"])
                      .append_column("_load_id", pa.repeat(pa.scalar(load_id), rows.num_rows))
                      .append_column("_loaded_at", pa.repeat(pa.scalar(loaded_at, pa.timestamp("us")), rows.num_rows)))
    rejects = pa.concat_tables(reject_parts)
    rejects = rt.conform(rt.QUARANTINE, rejects.append_column("_load_id", pa.repeat(pa.scalar(load_id), rejects.num_rows))
                         .append_column("_loaded_at", pa.repeat(pa.scalar(loaded_at, pa.timestamp("us")), rejects.num_rows)))
    periods = sorted(set(rows.column("billing_period").to_pylist()))
    writes = []
    for period in periods:
        first_day = date(int(period[:4]), int(period[5:7]), 1)
        writes.append(PartitionWrite(rt.FOCUS_CHARGES, rows.filter(pc.equal(rows.column("billing_period"), period)), (period,)))
        writes.append(PartitionWrite(rt.QUARANTINE, rejects.filter(pc.equal(rejects.column("partition_date"), first_day)),
                                     (first_day,), {"source": rt.FOCUS_CHARGES.name}))
    get_warehouse(s).replace_partitions(writes)
    last = date(int(periods[-1][:4]), int(periods[-1][5:7]), calendar.monthrange(int(periods[-1][:4]), int(periods[-1][5:7]))[1])
    days = [f"{periods[0]}-01", last.isoformat()]
    return {"files": len(files), "billing_periods": periods, "rows": rows.num_rows, "quarantined": rejects.num_rows, "days": days}
