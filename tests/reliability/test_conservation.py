"""Conservation: every kWh measured on a GPU (the sum of int_gpu_energy_hourly) is in the fact table
once, and in the KPI energy_per_million_tokens plus the unallocated energy (GPUs no deployment lists),
to floating-point precision (1e-12 relative) -- in total and day by day.

Over the demo fleet (include/demo_fleet.yaml, two generated days: nvidia-smi and dcgm-exporter hosts,
spare GPUs, shared deployments) and over the 30-day fleet of the `backfill` fixture (which includes the
end of daylight-saving time). No cloud export is loaded here, so no energy is estimated.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pytest

from greenops import ingest
from greenops.demo.generate import generate
from greenops.settings import PROJECT_ROOT
from reliability.rel_support import dbt, days, ingest_days, query, settings_for

pytestmark = pytest.mark.e2e

DAILY = """
with measured as (
    select cast(hour_utc as date) as d, sum(gpu_energy_kwh) as kwh from intermediate.int_gpu_energy_hourly group by 1
), fact as (
    select date_day as d, sum(gpu_energy_kwh) as kwh,
           sum(gpu_energy_kwh) filter (where not is_allocated) as unallocated_kwh,
           sum(facility_energy_kwh) as facility_kwh,
           sum(facility_energy_kwh) filter (where not is_allocated) as unallocated_facility_kwh,
           count(*) filter (where energy_method = 'estimated') as estimated_rows
    from marts.inference_energy_fact group by 1
), kpi as (
    select date_day as d, sum(gpu_energy_kwh) as kwh, sum(facility_energy_kwh) as facility_kwh
    from marts.energy_per_million_tokens group by 1
)
select m.d, m.kwh, f.kwh, k.kwh, coalesce(f.unallocated_kwh, 0), f.facility_kwh, k.facility_kwh,
       coalesce(f.unallocated_facility_kwh, 0), f.estimated_rows
from measured m full join fact f on f.d = m.d full join kpi k on k.d = coalesce(m.d, f.d)
order by 1
"""


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def assert_conserved(warehouse: Path, expected_days: list[date]) -> dict:
    rows = query(warehouse, DAILY)
    assert [r[0] for r in rows] == expected_days
    for d, measured, fact, kpi, unallocated, facility, kpi_facility, unallocated_facility, estimated in rows:
        assert estimated == 0
        assert measured > 0 and unallocated > 0, d
        assert _close(fact, measured), (d, fact, measured)
        assert _close(kpi + unallocated, measured), (d, kpi, unallocated, measured)
        assert _close(kpi_facility + unallocated_facility, facility), d
    totals = query(warehouse, """select (select sum(gpu_energy_kwh) from intermediate.int_gpu_energy_hourly),
                                        (select sum(gpu_energy_kwh) from marts.inference_energy_fact),
                                        (select sum(gpu_energy_kwh) from marts.energy_per_million_tokens),
                                        (select sum(gpu_energy_kwh) from marts.inference_energy_fact where not is_allocated)""")[0]
    measured, fact, kpi, unallocated = totals
    assert _close(fact, measured) and _close(kpi + unallocated, measured), totals
    return {"measured_kwh": measured, "unallocated_kwh": unallocated}


def test_energy_is_conserved_over_the_demo_data(tmp_path):
    fleet = PROJECT_ROOT / "include" / "demo_fleet.yaml"
    s = settings_for(tmp_path / "landing", tmp_path / "wh.duckdb", fleet)
    start, n = date(2026, 11, 16), 2
    generate(s.landing_dir, fleet, start, n, seed=5)
    ingest.load_inventory(settings=s)
    ingest_days(s, days(start, n))
    # the models (and seeds) the identity needs; their data tests run in the 30-day build
    dbt(s.warehouse_path, "build", "--quiet", "--select", "+path:models/marts/core", "+energy_per_million_tokens",
        "--exclude", "resource_type:test", target_dir=tmp_path / "dbt-target")
    totals = assert_conserved(s.warehouse_path, days(start, n))
    # both kinds of telemetry were measured: nvidia-smi (fra1, power integrated) and dcgm (sea1, counters)
    methods = {r[0] for r in query(s.warehouse_path, "select distinct energy_method from intermediate.int_gpu_energy_hourly")}
    assert {"counter", "integrated_power"} <= methods
    assert totals["measured_kwh"] > 100


def test_energy_is_conserved_over_30_days(backfill):
    totals = assert_conserved(backfill.warehouse, backfill.days)
    assert totals["measured_kwh"] > 100
