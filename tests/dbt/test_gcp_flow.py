"""The demo's GCP-hosted deployment flows from Cloud Billing and Carbon Footprint exports (files as
`bq extract` writes them) to the star schema: estimated GPU energy from GPU-VM hours and the power
model, billing cost in int_charges (FOCUS names, unlabelled spend kept), GCP's monthly carbon
allocated to days and deployments with every scope conserved, and the reconciliation. Google's
documented example row rides along: its totals differ from its scopes, it is kept and flagged."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pytest

from greenops import ingest, ingest_gcp
from greenops.demo.generate import GCP_CARBON_PER_VM_HOUR, GCP_CARBON_STORAGE_PER_DAY, GCP_EXPERIMENT_VM, GCP_VM, generate
from greenops.settings import PROJECT_ROOT
from support.dbt_runner import dbt_build

DAY = date(2026, 11, 16)
SCOPES = ("scope1_kgco2e", "scope2_location_kgco2e", "scope2_market_kgco2e", "scope3_kgco2e")


def _vm_usd_per_hour(vm: dict) -> float:
    return (round(vm["vcpus"] * vm["usd_per_vcpu_hour"], 6) + round(vm["memory_gib"] * vm["usd_per_gib_hour"], 6)
            + round(vm["gpus"] * vm["usd_per_gpu_hour"], 6) + vm["cud_credit_per_gpu_hour"] * vm["gpus"])


@pytest.mark.e2e
def test_gcp_deployment_in_the_star_schema(tmp_path, monkeypatch, external):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    monkeypatch.setenv("GREENOPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("GREENOPS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("GREENOPS_FLEET_FILE", str(PROJECT_ROOT / "include" / "demo_fleet.yaml"))
    for name in ("GREENOPS_WAREHOUSE_KIND", "GREENOPS_GCP_CARBON_TABLE", "GREENOPS_GCP_BILLING_TABLE"):
        monkeypatch.delenv(name, raising=False)
    generate(landing, PROJECT_ROOT / "include" / "demo_fleet.yaml", DAY, 1, seed=5)
    # Google's documented example row, as a CSV with flattened names, beside the demo's JSON export
    shutil.copy(external / "gcp_carbon_footprint_schema_docs" / "documented_example_row.csv", landing / "gcp_carbon" / "docs-example.csv")
    ingest.load_inventory()
    ingest.ingest_inference_logs(DAY)
    assert ingest_gcp.ingest_gcp_billing(DAY)["reloaded"] == ["2026-11"]
    assert ingest_gcp.ingest_gcp_carbon()["reloaded"] == ["2021-10", "2026-11"]
    dbt_build(warehouse)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        energy, cost, carbon, method, site, requests = q(
            "select sum(gpu_energy_kwh), sum(cloud_cost_usd), sum(carbon_kgco2e_location), any_value(energy_method), "
            "any_value(site_id), sum(requests) from marts.inference_energy_fact where deployment_id = 'chat-8b-gcp'")[0]
        # a2-highgpu-2g = 2 x A100 40GB: 24 h x 2 GPUs x (46 W idle + 50 % x (400 - 46) W) / 1000
        expected_kwh = 24 * 2 * (46 + 0.5 * (400 - 46)) / 1000
        assert energy == pytest.approx(expected_kwh) and method == "estimated" and site == "gcp/us-central1"
        assert requests > 1000
        # GCP PUE 1.1 x us-central1's 479 gCO2e/kWh (Cloud Carbon Footprint)
        assert carbon == pytest.approx(expected_kwh * 1.1 * 479 / 1000)
        assert cost == pytest.approx(24 * _vm_usd_per_hour(GCP_VM) + 0.0832)  # VM after its GPU credit, plus the bucket
        gpu = q("select sum(instance_hours), sum(gpu_hours), any_value(gpu_name) from intermediate.int_cloud_gpu_usage_hourly "
                "where provider = 'gcp'")[0]
        assert gpu == (pytest.approx(24.0), pytest.approx(48.0), "NVIDIA A100-SXM4-40GB")
        # the unlabelled experiment VM stays visible as unattributed spend, in FOCUS names
        assert q("select sum(EffectiveCost), any_value(ProviderName) from intermediate.int_charges "
                 "where charge_source = 'gcp_billing' and deployment_id is null") == [
            (pytest.approx(24 * _vm_usd_per_hour(GCP_EXPERIMENT_VM)), "Google Cloud")]

        # Google's documented row: totals kept as reported, flagged
        flags = q("select project_id, total_location_kgco2e, scopes_location_kgco2e, totals_match_scopes_location, "
                  "totals_match_scopes_market from staging.stg_gcp__carbon_footprint order by usage_month, service_id")
        assert flags[0] == ("my-project", 1587.3, pytest.approx(1396.8), False, False)
        assert all(row[3] and row[4] for row in flags[1:])

        # allocation: per carbon row and scope, allocated + unallocated = reported
        for scope in SCOPES:
            diff = q(f"""select max(abs(coalesce(a.total, 0) - coalesce(c.{scope}, 0))) from staging.stg_gcp__carbon_footprint c
                        left join (select carbon_row_id, sum({scope}) as total from marts.gcp_carbon_allocated_daily group by 1) a
                        on a.carbon_row_id = c.carbon_row_id""")[0][0]
            assert diff < 1e-9, scope
        alloc = dict(((d, basis, service), (kg, days)) for d, basis, service, kg, days in q(
            "select deployment_id, allocation_basis, service_description, sum(scope2_location_kgco2e), count(distinct date_day) "
            "from marts.gcp_carbon_allocated_daily group by all"))
        compute = 2 * 24 * GCP_CARBON_PER_VM_HOUR["scope2_location"]  # both VMs' hours
        assert alloc[("chat-8b-gcp", "gpu_hours", "Compute Engine")] == (pytest.approx(compute * 2 / 3), 1)  # 2 of 3 GPU-hours
        assert alloc[(None, "gpu_hours", "Compute Engine")] == (pytest.approx(compute / 3), 1)  # the experiment's L4
        assert alloc[("chat-8b-gcp", "cost_share", "Cloud Storage")] == (pytest.approx(GCP_CARBON_STORAGE_PER_DAY["scope2_location"]), 1)
        assert alloc[(None, "even_days", "BigQuery")] == (pytest.approx(GCP_CARBON_STORAGE_PER_DAY["scope2_location"]), 30)
        assert alloc[(None, "even_days", "Cloud Run")] == (pytest.approx(400.0), 31)  # the documented row: October 2021

        rec = q("select reported_scope2_location_kgco2e, estimated_kgco2e_location, ratio_location, has_both "
                "from marts.gcp_carbon_reconciliation where deployment_id = 'chat-8b-gcp'")
        reported = compute * 2 / 3 + GCP_CARBON_STORAGE_PER_DAY["scope2_location"]
        assert rec == [(pytest.approx(reported), pytest.approx(carbon), pytest.approx(carbon / reported), True)]
        kpi = q("select cost_usd, successful_requests, cost_usd_per_1k_inferences from marts.cost_per_1k_inferences "
                "where deployment_id = 'chat-8b-gcp'")
        assert len(kpi) == 1 and kpi[0][2] == pytest.approx(kpi[0][0] * 1000 / kpi[0][1])
