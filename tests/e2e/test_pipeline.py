"""End to end: the real DAGs through `airflow dags test` over a small landing folder whose totals are
known by hand (tests/support/known_fleet.py), then exact energy, tokens, carbon and KPI values; a rerun
changes nothing; a bad line is quarantined while the run succeeds; an unreadable file fails the task
naming it.
"""

from __future__ import annotations

import hashlib

import pytest

from support.known_fleet import (
    DEP_A_H10, DEP_A_H11, DEP_B_H10, DEP_B_H11, TOTAL, UNALLOC_H11, Pipeline, assert_success,
)

pytestmark = pytest.mark.e2e


@pytest.fixture()
def pipeline(tmp_path, airflow_home):
    return Pipeline(tmp_path, airflow_home)


def _checksums(query) -> dict[str, str]:
    tables = [r[0] + "." + r[1] for r in query(
        "select table_schema, table_name from information_schema.tables where table_schema in ('raw', 'marts') order by 1, 2")]
    sums = {}
    for t in tables:
        cols = [r[0] for r in query(f"select column_name from information_schema.columns where table_schema || '.' || table_name = '{t}' "
                                    "and column_name not in ('_load_id', '_loaded_at') order by ordinal_position")]
        rows = query(f"select {', '.join(cols)} from {t} order by all")
        sums[t] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return sums


def test_known_day_end_to_end(pipeline):
    assert_success(pipeline.run("greenops_onprem"))
    transform = pipeline.run("greenops_transform")
    assert_success(transform)
    # p1's week is forecast above its budget: the notifier (the task log by default) says so
    assert "[carbon_budget] p1 2026-W46: at_risk" in transform.stdout + transform.stderr
    # the known day is long past: the freshness check alerts on the daily sources, and the run still succeeds
    assert "[source_freshness] raw.gpu_telemetry_samples " in transform.stdout + transform.stderr
    assert "[source_freshness] raw.inference_requests 2026-11-10" in transform.stdout + transform.stderr
    q = pipeline.query

    # conservation: every joule measured is in the fact, allocated or not
    assert q("select sum(gpu_energy_kwh) from marts.inference_energy_fact")[0][0] == pytest.approx(TOTAL, rel=1e-12)
    fact = {(h.hour, d, p): (e, c, cm, idle) for h, d, p, e, c, cm, idle in q(
        "select hour_utc, deployment_id, project_id, gpu_energy_kwh, carbon_kgco2e_location, carbon_kgco2e_market, is_idle "
        "from marts.inference_energy_fact")}
    assert set(fact) == {(10, "dep-a", "p1"), (11, "dep-a", "p1"), (11, "dep-a", "p2"), (10, "dep-b", "p2"), (11, "dep-b", "p2"),
                         (10, "unallocated@lab-gpu01", "unallocated"), (11, "unallocated@lab-gpu01", "unallocated")}
    # 10:00 has no requests: idle energy of the owner; 11:00 is split 600:200 by weighted tokens
    assert fact[(10, "dep-a", "p1")][0] == pytest.approx(DEP_A_H10) and fact[(10, "dep-a", "p1")][3] is True
    assert fact[(11, "dep-a", "p1")][0] == pytest.approx(0.75 * DEP_A_H11)
    assert fact[(11, "dep-a", "p2")][0] == pytest.approx(0.25 * DEP_A_H11)
    assert fact[(10, "dep-b", "p2")][0] == pytest.approx(DEP_B_H10)
    assert fact[(11, "dep-b", "p2")][0] == pytest.approx(DEP_B_H11)
    assert fact[(11, "unallocated@lab-gpu01", "unallocated")][0] == pytest.approx(UNALLOC_H11)
    # carbon = GPU kWh x PUE 1.5 x gCO2e/kWh / 1000; market falls back to location where none is given
    assert fact[(10, "dep-a", "p1")][1] == pytest.approx(DEP_A_H10 * 1.5 * 400 / 1000)
    assert fact[(10, "dep-a", "p1")][2] == pytest.approx(DEP_A_H10 * 1.5 * 400 / 1000)
    assert fact[(11, "dep-a", "p1")][1] == pytest.approx(0.75 * DEP_A_H11 * 1.5 * 200 / 1000)
    assert fact[(11, "dep-a", "p1")][2] == pytest.approx(0.75 * DEP_A_H11 * 1.5 * 100 / 1000)

    tokens = q("select deployment_id, project_id, sum(requests), sum(successful_requests), sum(prompt_tokens), "
               "sum(completion_tokens), sum(cached_prompt_tokens), sum(completed_tasks) from marts.inference_energy_fact "
               "where hour_utc = '2026-11-10 11:00' and not is_idle group by all order by all")
    assert tokens == [("dep-a", "p1", 2, 1, 1000, 400, 0, 1), ("dep-a", "p2", 1, 1, 500, 100, 0, 1),
                      ("dep-b", "p2", 1, 1, 2000, 1000, 1000, 1)]
    methods = dict(q("select deployment_id || '@' || hour(hour_utc), energy_method from marts.inference_energy_fact where project_id <> 'p2' or deployment_id = 'dep-b'"))
    assert methods["dep-b@11"] == "mixed" and methods["dep-b@10"] == "counter" and methods["dep-a@10"] == "integrated_power"

    # KPIs
    epm = q("select deployment_id, gpu_energy_kwh, total_tokens, gpu_kwh_per_million_tokens, facility_kwh_per_million_tokens "
            "from marts.energy_per_million_tokens order by 1")
    assert [r[0] for r in epm] == ["dep-a", "dep-b"]
    assert epm[0][1] == pytest.approx(DEP_A_H10 + DEP_A_H11) and epm[0][2] == 2000
    assert epm[0][3] == pytest.approx((DEP_A_H10 + DEP_A_H11) * 1e6 / 2000)
    assert epm[0][4] == pytest.approx((DEP_A_H10 + DEP_A_H11) * 1.5 * 1e6 / 2000)
    assert epm[1][3] == pytest.approx((DEP_B_H10 + DEP_B_H11) * 1e6 / 3000)
    cpi = q("select carbon_gco2e_per_inference, carbon_gco2e_per_1k_requests from marts.carbon_per_inference where deployment_id = 'dep-a'")[0]
    dep_a_carbon_g = (DEP_A_H10 * 400 + DEP_A_H11 * 200) * 1.5
    assert cpi[0] == pytest.approx(dep_a_carbon_g / 2) and cpi[1] == pytest.approx(dep_a_carbon_g * 1000 / 3)
    budget = {r[0]: r[1:] for r in q("select project_id, period, budget_kgco2e, actual_kgco2e, forecast_kgco2e, status from marts.carbon_budget_variance where period_type = 'week'")}
    p1_actual = (DEP_A_H10 * 400 + 0.75 * DEP_A_H11 * 200) * 1.5 / 1000
    # Monday 00:00 to the end of Tuesday 11:00 is 36 hours: forecast = actual / 36 x 168
    assert budget["p1"][:3] == ("2026-W46", 1.0, pytest.approx(p1_actual))
    assert budget["p1"][3] == pytest.approx(p1_actual / 36 * 168) and budget["p1"][4] == "at_risk"
    assert budget["p2"][4] == "on_track" and budget["unallocated"][4] == "no_budget"

    # the bad lines are in quarantine with file, line and reason; the run succeeded
    assert sorted(q("select source, _source_file, _source_line, reason from raw.quarantine")) == [
        ("gpu_telemetry_samples", "gpu_telemetry/host=lab-gpu01/date=2026-11-10/nvidia-smi.csv", 101, "power.draw not available: [N/A]"),
        ("inference_requests", "inference_logs/date=2026-11-10/requests.jsonl", 5, "not a JSON object"),
    ]
    assert q("select raw_table, reason_kind, quarantined_rows from marts.data_quality_quarantine order by 1") == [
        ("gpu_telemetry_samples", "power.draw not available", 1), ("inference_requests", "not a JSON object", 1)]

    # analysts read the published snapshot: the same marts, in a file the refresh never holds
    assert pipeline.query("select count(*), sum(gpu_energy_kwh) from marts.inference_energy_fact", pipeline.published) == \
        q("select count(*), sum(gpu_energy_kwh) from marts.inference_energy_fact")

    # rerunning the day changes nothing, row for row
    before = _checksums(q)
    assert_success(pipeline.run("greenops_onprem"))
    assert_success(pipeline.run("greenops_transform"))
    assert _checksums(q) == before


def test_unreadable_file_fails_the_task_naming_it(pipeline):
    assert_success(pipeline.run("greenops_onprem"))
    before = pipeline.query("select count(*), sum(power_w) from raw.gpu_telemetry_samples")
    bad = pipeline.landing / "gpu_telemetry" / "host=lab-gpu01" / "date=2026-11-10" / "nvidia-smi-2.csv.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    result = pipeline.run("greenops_onprem")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cannot read gpu_telemetry/host=lab-gpu01/date=2026-11-10/nvidia-smi-2.csv.gz" in output
    # the day's partition is untouched
    assert pipeline.query("select count(*), sum(power_w) from raw.gpu_telemetry_samples") == before
