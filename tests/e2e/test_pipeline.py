"""End to end: the real DAGs through `airflow dags test` over a small landing folder whose totals are
known by hand, then exact energy, tokens, carbon and KPI values; a rerun changes nothing; a bad line is
quarantined while the run succeeds; an unreadable file fails the task naming it.

The fleet (all times UTC, day 2026-11-10, a Tuesday, ISO week 2026-W46):
- site `lab` (PUE 1.5, zone DE); hourly grid intensity 400 gCO2e/kWh at 10:00 and 200 (market 100) at 11:00.
- host `lab-gpu01` (nvidia-smi CSV, 10 s samples 10:00:00-11:59:50): GPU 0 at 300 W serves `dep-a`
  (owner p1); GPU 1 at 100 W is listed by no deployment (unallocated). One line has `[N/A]` power.
- host `lab-gpu02` (dcgm-exporter, 60 s samples 10:00-11:59): GPU 0 at 200 W with an energy counter
  that resets (driver reload) at 11:30; serves `dep-b` (owner p2).
- requests at 11:xx only: dep-a gets p1 (1000 prompt + 400 completion = weight 600), p2 (500 + 100 =
  weight 200) and a failed p1 request (0 tokens); dep-b gets p2 (2000 + 1000, 1000 cached = 1200).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from greenops.settings import airflow_env

pytestmark = pytest.mark.e2e

DAY = date(2026, 11, 10)
REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")
KWH = 3.6e6  # J

FLEET = """
sites:
  - {site: lab, pue: 1.5, grid_zone: DE, timezone: UTC}
hosts:
  - {host: lab-gpu01, site: lab, gpu_model: NVIDIA H100 80GB HBM3, gpu_count: 2}
  - {host: lab-gpu02, site: lab, gpu_model: NVIDIA L40S, gpu_count: 1}
models:
  - {model: m-a, family: test, parameters_billion: 8, tier: small}
projects:
  - {project: p1, team: t1, weekly_carbon_budget_kgco2e: 1.0}
  - {project: p2, team: t2, weekly_carbon_budget_kgco2e: 5.0}
deployments:
  - {deployment: dep-a, model: m-a, project: p1, host: lab-gpu01, gpus: [0], valid_from: 2026-01-01}
  - {deployment: dep-b, model: m-b, project: p2, host: lab-gpu02, gpus: [GPU-b0], valid_from: 2026-01-01}
"""


def write_landing(landing: Path) -> None:
    start = datetime(2026, 11, 10, 10, 0, 0)
    smi = landing / "gpu_telemetry" / "host=lab-gpu01" / "date=2026-11-10" / "nvidia-smi.csv"
    smi.parent.mkdir(parents=True)
    lines = ["timestamp, index, uuid, name, power.draw [W], utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB]"]
    for i in range(720):
        ts = (start + timedelta(seconds=10 * i)).strftime("%Y/%m/%d %H:%M:%S.000")
        lines.append(f"{ts}, 0, GPU-a0, NVIDIA H100 80GB HBM3, 300.00 W, 60 %, 20 %, 60000 MiB, 81559 MiB")
        lines.append(f"{ts}, 1, GPU-a1, NVIDIA H100 80GB HBM3, 100.00 W, 0 %, 0 %, 0 MiB, 81559 MiB")
    lines.insert(100, "2026/11/10 10:04:05.000, 0, GPU-a0, NVIDIA H100 80GB HBM3, [N/A], 60 %, 20 %, 60000 MiB, 81559 MiB")
    smi.write_text("\n".join(lines) + "\n")

    prom = landing / "gpu_telemetry" / "host=lab-gpu02" / "date=2026-11-10" / "dcgm-10.prom"
    prom.parent.mkdir(parents=True)
    labels = '{gpu="0",UUID="GPU-b0",modelName="NVIDIA L40S",Hostname="lab-gpu02"}'
    out, counter = [], 5_000_000_000
    for i in range(120):
        t = start + timedelta(minutes=i)
        if t == datetime(2026, 11, 10, 11, 30):
            counter = 777  # driver reload: the counter restarts
        elif i:
            counter += 200 * 60 * 1000  # 200 W for 60 s, in mJ
        ms = int((t - datetime(1970, 1, 1)).total_seconds() * 1000)
        out += [f"DCGM_FI_DEV_POWER_USAGE{labels} 200.000 {ms}", f"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{labels} {counter} {ms}"]
    prom.write_text("\n".join(out) + "\n")

    logs = landing / "inference_logs" / "date=2026-11-10" / "requests.jsonl"
    logs.parent.mkdir(parents=True)
    req = '{{"request_id": "{id}", "timestamp": "2026-11-10T{t}+00:00", "latency_ms": 500, "deployment": "{d}", "model": "{m}", "project": "{p}", "prompt_tokens": {pt}, "completion_tokens": {ct}, "cached_prompt_tokens": {cp}, "status": "{s}", "task_id": "{task}", "task_completed": {done}}}'
    logs.write_text("\n".join([
        req.format(id="r1", t="11:05:00", d="dep-a", m="m-a", p="p1", pt=1000, ct=400, cp=0, s="success", task="t1", done="true"),
        req.format(id="r2", t="11:10:00", d="dep-a", m="m-a", p="p2", pt=500, ct=100, cp=0, s="success", task="t2", done="true"),
        req.format(id="r3", t="11:15:00", d="dep-a", m="m-a", p="p1", pt=0, ct=0, cp=0, s="timeout", task="t3", done="false"),
        req.format(id="r4", t="11:20:00", d="dep-b", m="m-b", p="p2", pt=2000, ct=1000, cp=1000, s="success", task="t4", done="true"),
        '{"request_id": "r5", "timestamp": ',
    ]) + "\n")

    grid = landing / "grid_intensity" / "date=2026-11-10" / "DE.csv"
    grid.parent.mkdir(parents=True)
    grid.write_text("zone,hour_utc,gco2e_per_kwh_location,gco2e_per_kwh_market\n"
                    "DE,2026-11-10T10:00:00Z,400,\nDE,2026-11-10T11:00:00Z,200,100\n")


# Hand-computed expectations (J -> kWh by / 3.6e6). Each interval belongs to the hour it ends in.
DEP_A_H10 = 359 * 10 * 300 / KWH      # intervals ending 10:00:10 .. 10:59:50 (the [N/A] line is an extra, rejected row)
DEP_A_H11 = 360 * 10 * 300 / KWH      # 0.3 kWh
UNALLOC_H10 = 359 * 10 * 100 / KWH
UNALLOC_H11 = 360 * 10 * 100 / KWH    # 0.1 kWh
DEP_B_H10 = 59 * 60 * 200 / KWH       # counter differences
DEP_B_H11 = 60 * 60 * 200 / KWH       # 0.2 kWh; the reset interval integrates 200 W x 60 s
TOTAL = DEP_A_H10 + DEP_A_H11 + UNALLOC_H10 + UNALLOC_H11 + DEP_B_H10 + DEP_B_H11


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {**os.environ, **airflow_env(), "AIRFLOW_HOME": str(home)}
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True)
    return home


@pytest.fixture()
def pipeline(tmp_path, airflow_home):
    landing = tmp_path / "landing"
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    write_landing(landing)
    env = {
        **os.environ, **airflow_env(), "AIRFLOW_HOME": str(airflow_home),
        "GREENOPS_LANDING_DIR": str(landing), "GREENOPS_WAREHOUSE": str(tmp_path / "wh.duckdb"),
        "GREENOPS_FLEET_FILE": str(fleet), "GREENOPS_TASK_RETRIES": "0",
    }

    def run(dag_id: str, day: date = DAY) -> subprocess.CompletedProcess:
        return subprocess.run([str(AIRFLOW), "dags", "test", dag_id, day.isoformat()], env=env,
                              capture_output=True, text=True, timeout=600)

    def query(sql: str):
        with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
            return con.execute(sql).fetchall()

    return type("Pipeline", (), {"run": staticmethod(run), "query": staticmethod(query), "landing": landing,
                                 "warehouse": tmp_path / "wh.duckdb"})


def _ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0 and "state=success" in result.stdout + result.stderr, (
        (result.stdout + result.stderr)[-5000:])


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
    _ok(pipeline.run("greenops_onprem"))
    _ok(pipeline.run("greenops_transform"))
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
    budget = {r[0]: r[1:] for r in q("select project_id, iso_week, budget_kgco2e, actual_kgco2e, forecast_kgco2e, status from marts.carbon_budget_variance")}
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

    # rerunning the day changes nothing, row for row
    before = _checksums(q)
    _ok(pipeline.run("greenops_onprem"))
    _ok(pipeline.run("greenops_transform"))
    assert _checksums(q) == before


def test_unreadable_file_fails_the_task_naming_it(pipeline):
    _ok(pipeline.run("greenops_onprem"))
    before = pipeline.query("select count(*), sum(power_w) from raw.gpu_telemetry_samples")
    bad = pipeline.landing / "gpu_telemetry" / "host=lab-gpu01" / "date=2026-11-10" / "nvidia-smi-2.csv.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    result = pipeline.run("greenops_onprem")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "cannot read gpu_telemetry/host=lab-gpu01/date=2026-11-10/nvidia-smi-2.csv.gz" in output
    # the day's partition is untouched
    assert pipeline.query("select count(*), sum(power_w) from raw.gpu_telemetry_samples") == before
