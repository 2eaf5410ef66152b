"""Idempotency: loading a day again, or a 14-day backfill again, and rebuilding the marts leaves the
warehouse identical row for row: every raw table (without `_load_id`/`_loaded_at`) and every table
analysts read (marts, reporting). Doubles are compared to 1e-12 relative.

The fleet is the demo generator's, cut down to one host with two GPUs (tests/reliability/rel_support.py
SMALL_FLEET) over 30 days that include the end of daylight-saving time; the first load and build are
the `backfill` fixture (tests/reliability/conftest.py).
"""

from __future__ import annotations

import time

import pytest

from greenops import ingest
from reliability.rel_support import THIN_SMI_INTERVAL_S, dbt, dbt_vars, differences, fingerprint, ingest_days, query

pytestmark = pytest.mark.e2e


def test_the_backfill_loaded_every_day(backfill):
    per_day = 2 * 24 * 3600 // THIN_SMI_INTERVAL_S  # 2 GPUs
    counts = dict(query(backfill.warehouse, """
        select d, sum(n) from (
            select sample_date as d, count(*) as n from raw.gpu_telemetry_samples group by 1
            union all select partition_date, count(*) from raw.quarantine where source = 'gpu_telemetry_samples' group by 1)
        group by d"""))
    # every sample of every day is loaded or quarantined; the day the clocks go back is a day like the others
    assert {d: counts.get(d) for d in backfill.days} == {d: per_day for d in backfill.days}
    requests = dict(query(backfill.warehouse, "select request_date, count(*) from raw.inference_requests group by 1"))
    assert all(requests.get(d, 0) > 500 for d in backfill.days)
    # the generator's bad lines are in quarantine, and nothing else
    kinds = {r[0] for r in query(backfill.warehouse, "select distinct split_part(reason, ':', 1) from raw.quarantine")}
    assert kinds <= {"power.draw not available", "expected 10 fields, found 3", "not a JSON object", "negative token count"}, kinds


def test_running_a_day_again_changes_nothing(backfill):
    day = backfill.days[13]  # 2026-10-25, the day local time repeats an hour
    t = time.monotonic()
    ingest.load_inventory(load_id="again", settings=backfill.settings)
    ingest_days(backfill.settings, [day], "again")
    # the transformation run that follows a day's load rebuilds that day (dbt vars, as the DAG passes them)
    dbt(backfill.warehouse, "run", "--quiet", *dbt_vars(day, day), target_dir=backfill.target_dir)
    backfill.timings["day_again_s"] = time.monotonic() - t
    # the day's samples came from files of this load alone (the lineage of a sample's file is in raw.loaded_files)
    assert query(backfill.warehouse, "select distinct f._load_id from raw.gpu_telemetry_samples s left join raw.loaded_files f "
                 "on f.raw_table = 'gpu_telemetry_samples' and f.partition_date = s.sample_date and f._file_id = s._file_id "
                 "where s.sample_date = ?", [day]) == [(f"again-{day}",)]
    assert differences(backfill.baseline, fingerprint(backfill.warehouse)) == []


def test_a_14_day_backfill_again_changes_nothing(backfill):
    again = backfill.days[8:22]
    assert len(again) == 14
    t = time.monotonic()
    ingest.load_inventory(load_id="backfill-again", settings=backfill.settings)
    ingest_days(backfill.settings, again, "backfill-again")
    dbt(backfill.warehouse, "run", "--quiet", *dbt_vars(again[0], again[-1]), target_dir=backfill.target_dir)
    backfill.timings["backfill_14_again_s"] = time.monotonic() - t
    reloaded = query(backfill.warehouse, "select count(distinct partition_date) from raw.loaded_files "
                     "where raw_table = 'gpu_telemetry_samples' and _load_id like 'backfill-again-%'")
    assert reloaded == [(14,)]
    assert differences(backfill.baseline, fingerprint(backfill.warehouse)) == []
    print(f"backfill timings: {backfill.timings}")
