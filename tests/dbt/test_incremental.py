"""Fact and KPI models built incrementally day by day (dbt vars start_date/end_date, as the
transformation DAG passes them) equal a full refresh over the same raw data, row for row."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from greenops import ingest
from greenops.demo.generate import generate
from greenops.settings import PROJECT_ROOT, get_settings
from support.compare import same_rows
from support.dbt_runner import dbt_build

START = date(2026, 11, 16)
DAYS = [START + timedelta(days=i) for i in range(3)]
DAY_TABLES = {"gpu_telemetry_samples": "sample_date", "inference_requests": "request_date", "grid_intensity_hourly": "hour_date"}


def _marts(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        return {t: sorted(con.execute(f"select * from marts.{t}").fetchall(), key=_key) for t in tables}


def _key(row: tuple) -> str:
    return repr(tuple(v for v in row if not isinstance(v, float)))


@pytest.mark.e2e
def test_incremental_days_equal_a_full_refresh(tmp_path, monkeypatch):
    landing, full, incremental = tmp_path / "landing", tmp_path / "full.duckdb", tmp_path / "incremental.duckdb"
    monkeypatch.setenv("GREENOPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("GREENOPS_WAREHOUSE", str(full))
    monkeypatch.setenv("GREENOPS_FLEET_FILE", str(PROJECT_ROOT / "include" / "demo_fleet.yaml"))
    generate(landing, get_settings().fleet_file, START, len(DAYS), seed=11)
    ingest.load_inventory()
    for day in DAYS:
        ingest.ingest_gpu_telemetry(day)
        ingest.ingest_inference_logs(day)
        ingest.ingest_grid_intensity(day)

    # the incremental warehouse receives the same raw data one day at a time
    shutil.copy(full, incremental)
    with duckdb.connect(str(incremental)) as con:
        for table, column in DAY_TABLES.items():
            con.execute(f"delete from raw.{table} where {column} > ?", [DAYS[0]])
    dbt_build(incremental)  # the first build creates the tables
    for day in DAYS[1:]:
        with duckdb.connect(str(incremental)) as con:
            con.execute("attach ? as src (read_only)", [str(full)])
            for table, column in DAY_TABLES.items():
                con.execute(f"insert into raw.{table} select * from src.raw.{table} where {column} = ?", [day])
        dbt_build(incremental, "--vars", f"{{start_date: '{day}', end_date: '{day}'}}")

    dbt_build(full, "--full-refresh")
    full_marts, incremental_marts = _marts(full), _marts(incremental)
    assert set(full_marts) >= {"inference_energy_fact", "energy_per_million_tokens", "efficiency_regressions", "gpu_idle_waste"}
    assert set(incremental_marts) == set(full_marts)
    differing = [t for t in full_marts if not same_rows(full_marts[t], incremental_marts[t])]
    assert differing == []
