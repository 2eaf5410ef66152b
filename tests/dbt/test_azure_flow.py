"""The demo's Azure-hosted deployment flows from a Cost Management ActualCost export (the storage
container's layout, MCA columns, billed in EUR with USD beside it) to the fact: GPU-VM hours from the
VM size, estimated GPU energy, USD cost, region carbon, attribution by resource id whatever its case,
unattributed spend kept; and the Consumption API's rows of a month the export covers are not counted
twice."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pyarrow as pa
import pytest

from greenops import ingest, ingest_azure
from greenops import raw_tables as rt
from greenops.demo.generate import AZURE_DEV_VM, AZURE_DISK_USD_PER_DAY, AZURE_VM, generate
from greenops.settings import PROJECT_ROOT
from greenops.warehouse import PartitionWrite, get_warehouse
from support.dbt_runner import dbt_build

DAYS = [date(2026, 11, 16), date(2026, 11, 17)]


def _consumption_row(day: date, usd: float) -> dict:
    """A Consumption API item for the demo VM's day, as the API loader stores it."""
    return {"usage_date": day, "billing_period_start_date": day.replace(day=1), "subscription_id": "6f0b4a2c-1d3e-4f5a-8b9c-0d1e2f3a4b5c",
            "resource_id": AZURE_VM["id"], "resource_location": "eastus2", "meter_category": "Virtual Machines",
            "vm_size": AZURE_VM["size"], "unit_of_measure": "1 Hour", "quantity": 24.0, "cost_billing_currency": usd,
            "billing_currency": "USD", "cost_usd": usd, "charge_type": "Usage", "tags": "{}", "kind": "modern",
            "scope": "/subscriptions/6f0b4a2c-1d3e-4f5a-8b9c-0d1e2f3a4b5c", "usage_detail_id": f"/providers/x/usageDetails/{day}",
            "_source_file": "scope", "_source_line": 1, "_load_id": "t", "_loaded_at": datetime(2026, 11, 18)}


@pytest.mark.e2e
def test_azure_deployment_in_the_star_schema(tmp_path, monkeypatch):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    monkeypatch.setenv("GREENOPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("GREENOPS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("GREENOPS_FLEET_FILE", str(PROJECT_ROOT / "include" / "demo_fleet.yaml"))
    generate(landing, PROJECT_ROOT / "include" / "demo_fleet.yaml", DAYS[0], len(DAYS), seed=5)
    ingest.load_inventory()
    for day in DAYS:
        ingest.ingest_inference_logs(day)
    assert ingest_azure.ingest_azure_cost_exports()["reloaded"] == ["2026-11"]
    # the same VM-days also arrived through the Consumption API (a subscription scope): the export
    # covers that month and subscription, so these are left out rather than counted twice
    api_rows = pa.Table.from_pylist([_consumption_row(d, 999.0) for d in DAYS])
    get_warehouse().replace_partitions([PartitionWrite(rt.AZURE_USAGE_DETAILS, rt.conform(rt.AZURE_USAGE_DETAILS, api_rows), tuple(DAYS))])
    dbt_build(warehouse)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        energy, cost, carbon, method, site, pue, requests = q(
            "select sum(gpu_energy_kwh), sum(cloud_cost_usd), sum(carbon_kgco2e_location), any_value(energy_method), "
            "any_value(site_id), any_value(pue), sum(requests) from marts.inference_energy_fact where deployment_id = 'assist-24b-azure'")[0]
        # Standard_NC40ads_H100_v5 = 1 x H100 NVL, 24 h a day: (60 W idle + 50 % x (400 - 60) W) / 1000 per hour
        expected_kwh = len(DAYS) * 24 * (60 + 0.5 * (400 - 60)) / 1000
        assert energy == pytest.approx(expected_kwh)
        assert method == "estimated" and site == "azure/eastus2" and pue == 1.185
        # Azure PUE 1.185 x eastus2's 415.755 gCO2e/kWh (Cloud Carbon Footprint); the export writes 'EastUS2'
        assert carbon == pytest.approx(expected_kwh * 1.185 * 415.755 / 1000)
        # USD (costInUsd), not the EUR billing amount: the VM (by resource id) and its disk (by tag)
        assert cost == pytest.approx(len(DAYS) * (24 * AZURE_VM["usd_per_hour"] + AZURE_DISK_USD_PER_DAY))
        assert requests > 1000
        # a day's GPU-hours are spread over its hours: every hour of both days has 1 GPU-hour
        assert q("select count(*), min(gpu_hours), max(gpu_hours) from intermediate.int_cloud_gpu_usage_hourly "
                 "where deployment_id = 'assist-24b-azure'") == [(48, pytest.approx(1.0), pytest.approx(1.0))]
        by_route = q("select charge_source, attributed_by, count(*) from intermediate.int_azure_charges group by all order by all")
        assert by_route == [("azure_export_actual", "resource_id", 2), ("azure_export_actual", "tag", 2), ("azure_export_actual", None, 2)]
        # the untagged dev VM (a sixth of an A10) stays visible as unattributed spend, with its GPU-hours
        assert q("select sum(EffectiveCost), sum(gpu_hours), any_value(gpu_name) from intermediate.int_azure_charges where deployment_id is null") == [
            (pytest.approx(len(DAYS) * 24 * AZURE_DEV_VM["usd_per_hour"]), pytest.approx(len(DAYS) * 24 / 6, rel=1e-5), "NVIDIA A10")]
        assert q("select count(*) from intermediate.int_charges where ProviderName = 'Microsoft'") == [(6,)]
        kpi = q("select cost_usd, successful_requests, cost_usd_per_1k_inferences from marts.cost_per_1k_inferences "
                "where deployment_id = 'assist-24b-azure' order by date_day")
        assert len(kpi) == 2 and all(k[2] == pytest.approx(k[0] * 1000 / k[1]) for k in kpi)
