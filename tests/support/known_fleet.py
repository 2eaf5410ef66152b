"""A small fleet whose totals are known by hand, and the helpers to run the real DAGs over it.

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

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from greenops.settings import airflow_env

DAY = date(2026, 11, 10)
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




def migrate_airflow(home: Path) -> None:
    env = {**os.environ, **airflow_env(), "AIRFLOW_HOME": str(home)}
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True)


class Pipeline:
    """A landing folder, a fleet file, a warehouse and an Airflow home of one test."""

    def __init__(self, root: Path, airflow_home: Path):
        self.landing = root / "landing"
        self.warehouse = root / "wh.duckdb"
        self.published = root / "published" / "greenops.duckdb"
        fleet = root / "fleet.yaml"
        fleet.write_text(FLEET)
        write_landing(self.landing)
        self.env = {
            **os.environ, **airflow_env(), "AIRFLOW_HOME": str(airflow_home),
            "GREENOPS_LANDING_DIR": str(self.landing), "GREENOPS_WAREHOUSE": str(self.warehouse),
            "GREENOPS_PUBLISHED_WAREHOUSE": str(self.published),
            "GREENOPS_FLEET_FILE": str(fleet), "GREENOPS_TASK_RETRIES": "0",
        }

    def run(self, dag_id: str, day: date = DAY) -> subprocess.CompletedProcess:
        return subprocess.run([str(AIRFLOW), "dags", "test", dag_id, day.isoformat()], env=self.env,
                              capture_output=True, text=True, timeout=600)

    def start_ingest(self, function: str, day: date = DAY) -> subprocess.Popen:
        """A DAG task's work (a ``greenops.ingest`` function) in a process of its own, as a parallel
        executor runs it (`airflow tasks test` cannot run concurrently on one SQLite metadata DB)."""
        args = "" if function == "load_inventory" else f"date.fromisoformat({day.isoformat()!r})"
        code = (f"import logging; logging.basicConfig(level=logging.INFO); from datetime import date; "
                f"from greenops import ingest; print(ingest.{function}({args}))")
        return subprocess.Popen([sys.executable, "-c", code], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def query(self, sql: str, path: Path | None = None):
        with duckdb.connect(str(path or self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()


def assert_success(result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "state=success" in output, output[-5000:]
