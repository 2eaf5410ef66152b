"""Freshness and gates: `dbt source freshness` warns and errors on stale daily sources (and never on
the inventory), and a transformation run whose blocking dbt test fails publishes nothing: the
analysts' snapshot and the marts stay as the last good run left them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from greenops import ingest
from reliability.rel_support import dbt, fingerprint, differences, settings_for
from support.known_fleet import FLEET

pytestmark = pytest.mark.e2e


def test_source_freshness_warns_and_errors_on_stale_sources(tmp_path):
    # The data's own times decide (not the load time): telemetry 30 h old, requests 60 h, grid 3 h.
    # The test builds them from the wall clock because `dbt source freshness` measures against it.
    now = datetime.now(timezone.utc).replace(tzinfo=None, minute=0, second=0, microsecond=0)
    telemetry_at, requests_at, grid_at = now - timedelta(hours=30), now - timedelta(hours=60), now - timedelta(hours=3)
    landing = tmp_path / "landing"
    smi = landing / "gpu_telemetry" / "host=lab-gpu01" / f"date={telemetry_at.date()}" / "nvidia-smi.csv"
    smi.parent.mkdir(parents=True)
    # the samples at and after telemetry_at (an hour start) stay in its day whatever the hour: a
    # sample 10 s before 00:00 belongs to the day before and the day's run would rightly leave it out
    smi.write_text("timestamp, index, power.draw [W]\n" + "".join(
        f"{(telemetry_at + timedelta(seconds=s)):%Y/%m/%d %H:%M:%S}.000, 0, 300 W\n" for s in (0, 10)))
    logs = landing / "inference_logs" / f"date={requests_at.date()}" / "requests.jsonl"
    logs.parent.mkdir(parents=True)
    logs.write_text(json.dumps({"request_id": "r1", "timestamp": f"{requests_at:%Y-%m-%dT%H:%M:%S}Z", "deployment": "dep-a",
                                "model": "m-a", "project": "p1", "prompt_tokens": 10, "completion_tokens": 5,
                                "status": "success"}) + "\n")
    grid = landing / "grid_intensity" / f"date={grid_at.date()}" / "DE.csv"
    grid.parent.mkdir(parents=True)
    grid.write_text(f"zone,hour_utc,gco2e_per_kwh_location\nDE,{grid_at:%Y-%m-%dT%H:00:00}Z,300\n")
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    s = settings_for(landing, tmp_path / "wh.duckdb", fleet)
    ingest.load_inventory(settings=s)
    assert ingest.ingest_gpu_telemetry(telemetry_at.date(), settings=s)["rows"] == 2
    assert ingest.ingest_inference_logs(requests_at.date(), settings=s)["rows"] == 1
    assert ingest.ingest_grid_intensity(grid_at.date(), settings=s)["rows"] == 1

    target = tmp_path / "dbt-target"
    result = dbt(s.warehouse_path, "source freshness", "--select", "source:raw.gpu_telemetry_samples",
                 "source:raw.inference_requests", "source:raw.grid_intensity_hourly", "source:raw.inventory_sites",
                 "source:raw.inventory_deployments", target_dir=target, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output  # an error-level staleness fails the command (and a CI step running it)
    status = {r["unique_id"].split(".")[-1]: r["status"] for r in json.loads((target / "sources.json").read_text())["results"]}
    assert status.get("gpu_telemetry_samples") == "warn", output[-3000:]
    assert status.get("inference_requests") == "error", output[-3000:]
    assert status.get("grid_intensity_hourly") == "pass", output[-3000:]
    # the inventory is a snapshot of a YAML file: no freshness, never a warning
    assert status.get("inventory_sites") in (None, "pass") and status.get("inventory_deployments") in (None, "pass")


def _file_digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_failing_blocking_test_publishes_nothing(end_to_end):
    p = end_to_end.pipeline
    published_before, mtime_before = _file_digest(p.published), p.published.stat().st_mtime_ns
    marts_before = fingerprint(p.warehouse, ("marts",))
    # a request_id loaded twice violates stg_inference__requests' unique test (severity error)
    with duckdb.connect(str(p.warehouse)) as con:
        con.execute("insert into raw.inference_requests select * replace (_source_line + 1000 as _source_line) "
                    "from raw.inference_requests where request_id = 'r1'")
    result = p.run("greenops_transform")
    output = result.stdout + result.stderr
    end_to_end.outputs.append(output)  # scanned for credentials too (test_security.py)
    assert result.returncode != 0, output[-5000:]
    assert "unique_stg_inference__requests_request_id" in output, output[-5000:]
    with sqlite3.connect(end_to_end.airflow_home / "airflow.db") as db:  # the run's task states
        states = dict(db.execute("select task_id, state from task_instance where dag_id = 'greenops_transform' and run_id = "
                                 "(select max(run_id) from dag_run where dag_id = 'greenops_transform')").fetchall())
    assert states["dbt_build"] == "failed" and states["publish_snapshot"] == "upstream_failed", states
    assert states["kpi_summary"] == "upstream_failed", states
    # nothing downstream of the failing test ran: the snapshot file and the marts are the last good ones
    assert (_file_digest(p.published), p.published.stat().st_mtime_ns) == (published_before, mtime_before)
    assert differences(marts_before, fingerprint(p.warehouse, ("marts",))) == []
    with duckdb.connect(str(p.warehouse)) as con:  # put the warehouse back as it was
        con.execute("delete from raw.inference_requests where _source_line > 1000")
