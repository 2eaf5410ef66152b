"""The embedded warehouse under concurrency: writers started as parallel processes serialise on the
DuckDB lock instead of failing, a lock held too long fails naming the holder, and a reader holding the
published snapshot open for a whole DAG run never blocks it and never sees an error or a partial copy.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from greenops.warehouse.duckdb_warehouse import WarehouseLockedError, connect
from support.known_fleet import Pipeline, assert_success

pytestmark = pytest.mark.e2e


def test_ingestion_tasks_as_concurrent_processes(tmp_path, airflow_home):
    p = Pipeline(tmp_path, airflow_home)
    # every task of the ingestion DAG at once, telemetry twice (a retry racing the first attempt)
    procs = [(f, p.start_ingest(f)) for f in ("load_inventory", "ingest_gpu_telemetry", "ingest_inference_logs",
                                              "ingest_grid_intensity", "ingest_gpu_telemetry")]
    for function, proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{function} failed:\n{out[-4000:]}"
    assert p.query("select count(*) from raw.gpu_telemetry_samples") == [(720 * 2 + 120,)]
    assert p.query("select count(*) from raw.inference_requests") == [(4,)]
    assert p.query("select count(*) from raw.grid_intensity_hourly") == [(2,)]


def test_lock_conflict_names_the_holder(tmp_path):
    path = tmp_path / "wh.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(path)!r})
        print("holding", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(WarehouseLockedError, match=rf"locked by process {holder.pid}"):
            with connect(path, max_wait_s=1.5, first_wait_s=0.5):
                pass
    finally:
        holder.kill()
        holder.wait()
    with connect(path) as con:  # free again once the holder is gone
        assert con.execute("select 1").fetchone() == (1,)


READER = """
import duckdb, sys, time
path, stop_file = sys.argv[1], sys.argv[2]
seen, errors = set(), []
con = duckdb.connect(path, read_only=True)   # held open for the whole run
import os
while not os.path.exists(stop_file):
    try:
        n, kwh = con.execute("select count(*), round(sum(gpu_energy_kwh), 9) from marts.inference_energy_fact").fetchone()
        seen.add((n, kwh))
        # a fresh connection each time sees whichever snapshot is current, whole
        with duckdb.connect(path, read_only=True) as fresh:
            seen.add(fresh.execute("select count(*), round(sum(gpu_energy_kwh), 9) from marts.inference_energy_fact").fetchone())
    except Exception as exc:
        errors.append(repr(exc))
    time.sleep(0.05)
print(sorted(seen)); print(errors)
"""


def test_reader_on_the_snapshot_never_blocks_a_refresh(tmp_path, airflow_home):
    p = Pipeline(tmp_path, airflow_home)
    assert_success(p.run("greenops_onprem"))
    assert_success(p.run("greenops_transform"))
    first = p.query("select count(*), round(sum(gpu_energy_kwh), 9) from marts.inference_energy_fact", p.published)[0]

    # a late file for the same day changes the totals the next refresh publishes
    late = p.landing / "gpu_telemetry" / "host=lab-gpu01" / "date=2026-11-10" / "late.csv"
    late.write_text("timestamp, index, uuid, name, power.draw [W]\n"
                    + "\n".join(f"2026/11/10 12:00:{s:02d}.000, 0, GPU-a0, NVIDIA H100 80GB HBM3, 300.00 W" for s in range(0, 60, 10)) + "\n")
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(p.published), str(stop)], stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    try:
        assert_success(p.run("greenops_onprem"))
        assert_success(p.run("greenops_transform"))
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    seen_line, errors_line = out.strip().splitlines()[-2:]
    assert errors_line == "[]"
    second = p.query("select count(*), round(sum(gpu_energy_kwh), 9) from marts.inference_energy_fact", p.published)[0]
    assert second != first
    # the reader only ever saw the old snapshot or the new one, never anything in between
    assert set(eval(seen_line)) <= {first, second}
    assert first in eval(seen_line)
