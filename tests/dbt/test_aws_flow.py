"""The demo's AWS-hosted deployment flows from CUR and carbon exports in the S3 layout to the fact:
estimated GPU energy from instance-hours and the power model, CUR cost, region carbon, unattributed
spend kept, the reconciliation with AWS's own carbon figures, and an hour without requests counted
as idle (estimated at idle power)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from greenops import ingest, ingest_aws
from greenops.demo.generate import AWS_INSTANCE, generate
from greenops.settings import PROJECT_ROOT
from support.dbt_runner import dbt_build

DAY = date(2026, 11, 16)


@pytest.mark.e2e
def test_aws_deployment_in_the_star_schema(tmp_path, monkeypatch):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    monkeypatch.setenv("GREENOPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("GREENOPS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("GREENOPS_FLEET_FILE", str(PROJECT_ROOT / "include" / "demo_fleet.yaml"))
    generate(landing, PROJECT_ROOT / "include" / "demo_fleet.yaml", DAY, 1, seed=5)
    # the service received nothing from 03:00 to 04:00 UTC: its log lacks the hour
    log = landing / "inference_logs" / f"date={DAY}" / "rag-8b-aws.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    kept = [line for line in lines if f'"timestamp":"{DAY}T03:' not in line]
    assert 0 < len(lines) - len(kept) < len(lines)
    log.write_text("".join(kept))
    ingest.load_inventory()
    ingest.ingest_inference_logs(DAY)
    assert ingest_aws.ingest_aws_cur()["reloaded"] == ["2026-11"]
    assert ingest_aws.ingest_aws_carbon()["reloaded"] == ["2026-11"]
    assert ingest_aws.ingest_aws_cur()["unchanged"] == ["2026-11"]  # same manifest: not reloaded
    dbt_build(warehouse)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        energy, cost, carbon, method, site = q(
            "select sum(gpu_energy_kwh), sum(cloud_cost_usd), sum(carbon_kgco2e_location), any_value(energy_method), any_value(site_id) "
            "from marts.inference_energy_fact where deployment_id = 'rag-8b-aws'")[0]
        # g6e.12xlarge = 4 x L40S; 23 h x 4 GPUs x (37 W idle + 50 % x (350 - 37) W) / 1000, and the
        # hour without requests at idle power: 4 GPUs x 37 W
        expected_kwh = 23 * 4 * (37 + 0.5 * (350 - 37)) / 1000 + 4 * 37 / 1000
        assert energy == pytest.approx(expected_kwh)
        assert method == "estimated" and site == "aws/us-east-1"
        # AWS PUE 1.135 x us-east-1's 415.755 gCO2e/kWh (Cloud Carbon Footprint)
        assert carbon == pytest.approx(expected_kwh * 1.135 * 415.755 / 1000)
        s3 = q("select sum(EffectiveCost) from intermediate.int_charges where ServiceName = 'AmazonS3'")[0][0]
        assert cost == pytest.approx(24 * AWS_INSTANCE["usd_per_hour"] + s3)
        # the untagged experiment box stays visible as unattributed spend
        assert q("select sum(EffectiveCost) from intermediate.int_charges where charge_source = 'aws_cur' and deployment_id is null") == [
            (pytest.approx(24 * 1.006),)]
        # the idle hour's GPU-hours, energy and cost (the instance's, and the S3 share of the hour)
        hour_cost = q("select sum(cloud_cost_usd) from marts.inference_energy_fact where deployment_id = 'rag-8b-aws' "
                      f"and hour_utc = TIMESTAMP '{DAY} 03:00:00'")[0][0]
        assert hour_cost >= AWS_INSTANCE["usd_per_hour"]
        assert q("select idle_gpu_hours, idle_gpu_energy_kwh, idle_cost_usd, idle_energy_share_pct from marts.gpu_idle_waste "
                 "where deployment_id = 'rag-8b-aws'") == [
            (pytest.approx(4.0), pytest.approx(4 * 37 / 1000), pytest.approx(hour_cost), pytest.approx(4 * 37 / 1000 * 100 / expected_kwh))]
        kpi = q("select cost_usd, successful_requests, cost_usd_per_1k_inferences from marts.cost_per_1k_inferences where deployment_id = 'rag-8b-aws'")
        assert len(kpi) == 1 and kpi[0][2] == pytest.approx(kpi[0][0] * 1000 / kpi[0][1])
        rec = q("select reported_kgco2e_location, estimated_kgco2e_location, ratio_location from marts.aws_carbon_reconciliation")
        assert rec == [(pytest.approx(24 * 0.58), pytest.approx(carbon), pytest.approx(carbon / (24 * 0.58)))]
