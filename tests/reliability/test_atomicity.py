"""Atomicity: a load killed with SIGKILL while it writes leaves the day's old partition or its new one
(the telemetry rows and the day's quarantine rows together), never a mixture; the next run completes.

The load is the real `greenops.ingest.ingest_gpu_telemetry` in a process of its own, over a day large
enough (NVML collector Parquet, 400,000 samples) that its write takes a measurable time. The process
is killed at the first sign of writing (the warehouse file grows: DuckDB writes large inserts to the
file before the commit), at the first sign of the commit (the write-ahead log appears), and at fixed
fractions of a full run's duration.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from greenops import ingest
from reliability.rel_support import query, settings_for
from support.known_fleet import FLEET

pytestmark = pytest.mark.e2e

DAY = datetime(2026, 11, 10)
NEW_SAMPLES = 400_000
OLD_SAMPLES = 20_000


def _parquet(path: Path, n: int, power_w: float, bad_rows: int) -> None:
    """``n`` samples of 16 GPUs over the day at ``power_w``, then ``bad_rows`` rows with negative power."""
    gpus = 16
    per_gpu = n // gpus
    step_us = 86_400_000_000 // per_gpu
    ts = np.datetime64(DAY, "us") + (np.arange(per_gpu, dtype=np.int64) * step_us).astype("timedelta64[us]")
    power = np.full(per_gpu * gpus + bad_rows, power_w)
    power[per_gpu * gpus:] = -1.0
    table = pa.table({
        "sample_ts_utc": pa.array(np.concatenate([np.tile(ts, gpus), ts[:bad_rows]])),
        "gpu_index": pa.array(np.concatenate([np.repeat(np.arange(gpus, dtype=np.int32), per_gpu), np.zeros(bad_rows, np.int32)])),
        "power_w": pa.array(power),
        "energy_counter_mj": pa.array(np.arange(per_gpu * gpus + bad_rows, dtype=np.float64)),
        "utilization_gpu_pct": pa.array(np.full(per_gpu * gpus + bad_rows, 50.0)),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _state(warehouse: Path) -> tuple:
    """What a reader sees of the day: samples, their total power, and the day's quarantine rows."""
    return query(warehouse, """
        select (select count(*) from raw.gpu_telemetry_samples where sample_date = ?),
               (select sum(power_w) from raw.gpu_telemetry_samples where sample_date = ?),
               (select count(*) from raw.quarantine where partition_date = ? and source = 'gpu_telemetry_samples')
        """, [DAY.date()] * 3)[0]


CHILD = ("import sys; from datetime import date; from greenops import ingest; "
         "ingest.ingest_gpu_telemetry(date.fromisoformat(sys.argv[1])); print('done', flush=True)")


def _start(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, DAY.date().isoformat()], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill_when(proc: subprocess.Popen, ready, timeout_s: float = 120) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()`` is true; False when the process ended first."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.wait(timeout=timeout_s)
    return False


@pytest.fixture()
def day(tmp_path):
    """Two landing folders for one warehouse: the day as first loaded (old) and as redelivered (new)."""
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    warehouse = tmp_path / "wh.duckdb"
    folder = "gpu_telemetry/host=lab-gpu01/date=2026-11-10/nvml-00-0000.parquet"
    _parquet(tmp_path / "old" / folder, OLD_SAMPLES, 100.0, bad_rows=1)
    _parquet(tmp_path / "new" / folder, NEW_SAMPLES, 200.0, bad_rows=3)
    old = settings_for(tmp_path / "old", warehouse, fleet)
    new = settings_for(tmp_path / "new", warehouse, fleet)
    ingest.load_inventory(settings=old)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "GREENOPS_LANDING_DIR": str(new.landing_dir),
           "GREENOPS_WAREHOUSE": str(warehouse), "GREENOPS_FLEET_FILE": str(fleet), "GREENOPS_LOCK_WAIT_S": "30"}
    return old, new, env


OLD = (OLD_SAMPLES, OLD_SAMPLES * 100.0, 1)
NEW = (NEW_SAMPLES, NEW_SAMPLES * 200.0, 3)


def test_a_load_killed_while_writing_leaves_the_old_or_the_new_day(day):
    old, new, env = day
    warehouse, wal = old.warehouse_path, Path(str(old.warehouse_path) + ".wal")

    def reset() -> int:
        ingest.ingest_gpu_telemetry(DAY.date(), settings=old)
        assert _state(warehouse) == OLD and not wal.exists()  # closed cleanly: no log left to replay
        return warehouse.stat().st_size

    outcomes = []

    # 1. killed at the first block the insert writes to the file: before the commit, so the old day
    size = reset()
    assert _kill_when(_start(env), lambda: warehouse.stat().st_size > size or wal.exists())
    grown = warehouse.stat().st_size - size
    assert _state(warehouse) == OLD
    assert grown > 0 or wal.exists()  # the kill did land inside the write
    outcomes.append(("while inserting", "old"))

    # 2. killed as the commit starts writing the log: either side of the commit point, never between
    reset()
    killed = _kill_when(_start(env), wal.exists)
    state = _state(warehouse)
    assert state in (OLD, NEW)
    outcomes.append(("at the commit" if killed else "(finished first)", "old" if state == OLD else "new"))

    # 3. killed at fractions of a full run's duration (the parse, the write, the commit, the checkpoint)
    reset()
    t = time.monotonic()
    proc = _start(env)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0 and "done" in out, out
    full_s = time.monotonic() - t
    assert _state(warehouse) == NEW
    for fraction in (0.7, 0.95):
        reset()
        proc = _start(env)
        time.sleep(full_s * fraction)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        state = _state(warehouse)
        assert state in (OLD, NEW), (fraction, state)
        outcomes.append((f"at {fraction:.0%} of {full_s:.1f} s", "old" if state == OLD else "new"))

    # the next run completes the day, and the file is sound
    ingest.ingest_gpu_telemetry(DAY.date(), settings=new)
    assert _state(warehouse) == NEW
    assert query(warehouse, "select count(*) from raw.gpu_telemetry_samples where sample_date <> ?", [DAY.date()]) == [(0,)]
    print("kill outcomes:", outcomes)
