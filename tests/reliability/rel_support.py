"""What the reliability tests share: a small generated fleet, dbt runs on a test's own warehouse, and a
row-for-row fingerprint of a warehouse (raw and published schemas) that ignores when rows were loaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from greenops import ingest
from greenops.settings import PROJECT_ROOT, Settings, dbt_env, get_settings
from support.compare import same_rows  # noqa: F401  (re-exported for the reliability tests)

DBT = Path(sys.executable).with_name("dbt")

#: The demo generator's fleet cut down to one host: GPU 0 serves chat-70b-fra (owner search,
#: support-bot sends 15 % of its traffic), GPU 1 is listed by no deployment (unallocated energy).
#: nvidia-smi CSV in Europe/Berlin local time, so UTC days span two local-date files.
SMALL_FLEET = """
sites:
  - {site: fra1, pue: 1.35, grid_zone: DE, timezone: Europe/Berlin}
hosts:
  - {host: fra1-gpu01, site: fra1, gpu_model: NVIDIA H100 80GB HBM3, gpu_count: 2}
models:
  - {model: llama-3.1-70b-instruct, family: llama-3.1, parameters_billion: 70, tier: large}
projects:
  - {project: search, team: discovery, weekly_carbon_budget_kgco2e: 95}
  - {project: support-bot, team: customer-care, weekly_carbon_budget_kgco2e: 90}
deployments:
  - {deployment: chat-70b-fra, model: llama-3.1-70b-instruct, project: search, host: fra1-gpu01, gpus: [0],
     valid_from: 2025-01-01T00:00:00Z}
"""

#: The demo's nvidia-smi logs sample every 15 s and chat-70b-fra peaks at 1,000 requests an hour; the
#: backfill tests thin both (60 s, 150 an hour) so that 30 days load in seconds. Nothing else changes.
THIN_SMI_INTERVAL_S = 60
THIN_CHAT_PEAK_PER_HOUR = 150


@contextmanager
def thinned_demo():
    """The demo generator writing fewer telemetry lines and requests (see THIN_*)."""
    from greenops.demo import generate as gen

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gen, "SMI_INTERVAL_S", THIN_SMI_INTERVAL_S)
        mp.setitem(gen.TRAFFIC, "chat-70b-fra", {**gen.TRAFFIC["chat-70b-fra"], "peak_per_hour": THIN_CHAT_PEAK_PER_HOUR})
        yield


#: Columns that say when or by which run a row was loaded: excluded from fingerprints.
LOAD_COLUMNS = ("_load_id", "_loaded_at", "load_id", "loaded_at")
#: Schemas compared row for row: the raw layer and what analysts read.
COMPARED_SCHEMAS = ("raw", "marts", "reporting")


def days(start: date, n: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


@contextmanager
def greenops_env(**values: str | Path):
    """Set GREENOPS_* (or any) environment variables for the block, restoring them afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in values.items():
            mp.setenv(name, str(value))
        yield


def settings_for(landing: Path, warehouse: Path, fleet: Path, **extra: str | Path) -> Settings:
    """The GreenOps settings of one test's own landing folder, warehouse and fleet file."""
    with greenops_env(GREENOPS_LANDING_DIR=landing, GREENOPS_WAREHOUSE=warehouse, GREENOPS_FLEET_FILE=fleet,
                      GREENOPS_PUBLISHED_WAREHOUSE=warehouse.parent / "published" / "greenops.duckdb", **extra):
        return get_settings()


def ingest_days(settings: Settings, day_list: list[date], load_prefix: str = "test") -> None:
    """Each day's three ingestion tasks, in the order the on-prem DAG runs them."""
    for day in day_list:
        ingest.ingest_gpu_telemetry(day, load_id=f"{load_prefix}-{day}", settings=settings)
        ingest.ingest_inference_logs(day, load_id=f"{load_prefix}-{day}", settings=settings)
        ingest.ingest_grid_intensity(day, load_id=f"{load_prefix}-{day}", settings=settings)


def dbt(warehouse: Path, command: str, *args: str, target_dir: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``dbt <command> <args>`` (command: "build", "source freshness"...) on ``warehouse`` with its
    own target and log folders.

    The shared dbt_project/target is left alone (Cosmos reads its manifest); dbt's partial-parse
    file is copied from it when present, which saves a full parse.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    cached = PROJECT_ROOT / "dbt_project" / "target" / "partial_parse.msgpack"
    if cached.exists() and not (target_dir / "partial_parse.msgpack").exists():
        shutil.copy(cached, target_dir / "partial_parse.msgpack")
    env = {**os.environ, **dbt_env(), "GREENOPS_WAREHOUSE": str(warehouse)}
    result = subprocess.run(
        [str(DBT), *command.split(), *args, "--target-path", str(target_dir), "--log-path", str(target_dir / "logs")],
        cwd=PROJECT_ROOT / "dbt_project", env=env, capture_output=True, text=True, timeout=900)
    if check:
        assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    return result


def dbt_vars(first: date, last: date) -> tuple[str, str]:
    """The --vars an incremental transformation run over [first, last] passes (as the DAG does)."""
    return "--vars", f"{{start_date: '{first}', end_date: '{last}'}}"


def _row_key(row: tuple) -> str:
    return repr(tuple(f"{v:.9g}" if isinstance(v, float) else v for v in row))


def fingerprint(warehouse: Path, schemas: tuple[str, ...] = COMPARED_SCHEMAS) -> dict[str, list[tuple]]:
    """Every table of ``schemas``: its rows (sorted) without the columns that say when they were loaded."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
            "and table_schema in (select unnest(?::varchar[])) order by 1, 2", [list(schemas)]).fetchall()
        for schema, table in tables:
            cols = [r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
                "order by ordinal_position", [schema, table]).fetchall() if r[0] not in LOAD_COLUMNS]
            select = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(f'select {select} from "{schema}"."{table}"').fetchall()
            out[f"{schema}.{table}"] = sorted(rows, key=_row_key)
    return out


def differences(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> list[str]:
    """Tables that differ between two fingerprints (added, dropped or changed), with row counts."""
    out = []
    for table in sorted(set(before) | set(after)):
        a, b = before.get(table), after.get(table)
        if a is None or b is None or not same_rows(a, b):
            out.append(f"{table}: {len(a) if a is not None else 'absent'} rows before, {len(b) if b is not None else 'absent'} after")
    return out


def query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()
