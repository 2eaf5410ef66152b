"""Fact and KPI models built incrementally day by day (dbt vars start_date/end_date, a run by hand),
and the cloud charges month by month (the run's dates as the transformation DAG passes them: environment
variables), equal a full refresh over the same raw data, row for row. The builds leave the data and
unit tests out (``WITHOUT_TESTS``): the tables are what is compared."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from greenops import ingest, ingest_aws, ingest_azure, ingest_gcp
from greenops.airflow_support import RAW_AWS_CUR, RAW_GPU_TELEMETRY, dbt_vars_from_events
from greenops.demo.generate import generate
from greenops.settings import PROJECT_ROOT, dbt_run_env, get_settings
from support.compare import same_rows
from support.dbt_runner import WITHOUT_TESTS, dbt_build, dbt_command

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


def _demo_days(tmp_path: Path, monkeypatch, days: list[date]) -> tuple[Path, Path]:
    """The demo fleet's ``days`` generated and loaded (inventory, telemetry, requests, grid) into the full
    warehouse (the current one); returns it and the path of the incremental warehouse beside it."""
    landing, full = tmp_path / "landing", tmp_path / "full.duckdb"
    monkeypatch.setenv("GREENOPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("GREENOPS_WAREHOUSE", str(full))
    monkeypatch.setenv("GREENOPS_FLEET_FILE", str(PROJECT_ROOT / "include" / "demo_fleet.yaml"))
    generate(landing, get_settings().fleet_file, days[0], len(days), seed=11)
    ingest.load_inventory()
    for day in days:
        ingest.ingest_gpu_telemetry(day)
        ingest.ingest_inference_logs(day)
        ingest.ingest_grid_intensity(day)
    return full, tmp_path / "incremental.duckdb"


@pytest.mark.e2e
def test_incremental_days_equal_a_full_refresh(tmp_path, monkeypatch):
    full, incremental = _demo_days(tmp_path, monkeypatch, DAYS)

    # the incremental warehouse receives the same raw data one day at a time
    shutil.copy(full, incremental)
    with duckdb.connect(str(incremental)) as con:
        for table, column in DAY_TABLES.items():
            con.execute(f"delete from raw.{table} where {column} > ?", [DAYS[0]])
    dbt_build(incremental, *WITHOUT_TESTS)  # the first build creates the tables
    for day in DAYS[1:]:
        with duckdb.connect(str(incremental)) as con:
            _copy_raw(con, full, [day], [])
        dbt_build(incremental, *WITHOUT_TESTS, "--vars", f"{{start_date: '{day}', end_date: '{day}'}}")

    dbt_build(full, *WITHOUT_TESTS, "--full-refresh")
    full_marts, incremental_marts = _tables(full, HOURLY_TABLES), _tables(incremental, HOURLY_TABLES)
    assert set(full_marts) >= {"inference_energy_fact", "energy_per_million_tokens", "efficiency_regressions", "gpu_idle_waste",
                               *HOURLY_TABLES}
    assert set(incremental_marts) == set(full_marts)
    assert all(full_marts[t] for t in HOURLY_TABLES)
    differing = [t for t in full_marts if not same_rows(full_marts[t], incremental_marts[t])]
    assert differing == []


#: The raw tables of the cloud exports and their partition (a billing month, 'YYYY-MM').
MONTH_TABLES = {"aws_cur_line_items": "billing_period", "gcp_billing_export": "invoice_month", "azure_cost_details": "billing_period"}
#: What the fact reads by the hour, incremental by day (on-prem charges by the month of the hour):
#: compared with a full refresh beside the marts.
HOURLY_TABLES = ["int_deployment_energy_hourly", "int_site_hour_grid_intensity", "int_onprem_charges"]
#: The charge tables, incremental by month: compared with a full refresh beside the marts.
CHARGE_TABLES = ["int_aws_charges", "int_gcp_charges", "int_azure_charges", "int_charges", "int_deployment_costs_hourly",
                 "int_cloud_gpu_usage_hourly", *HOURLY_TABLES]


def _tables(warehouse: Path, intermediate: list[str] = CHARGE_TABLES) -> dict[str, list[tuple]]:
    rows = _marts(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for t in intermediate:
            rows[t] = sorted(con.execute(f"select * from intermediate.{t}").fetchall(), key=_key)
    return rows


def _dag_env(loads: dict) -> dict[str, str]:
    """The run's dates the transformation DAG derives from its loads' Asset events, as it passes them
    to dbt (environment variables)."""
    events = {asset: [SimpleNamespace(extra={"start_date": start, "end_date": end})] for asset, (start, end) in loads.items()}
    return dbt_run_env(dbt_vars_from_events(events))


def _copy_raw(con: duckdb.DuckDBPyConnection, source: Path, days: list[date], months: list[str]) -> None:
    """Replace the raw partitions of ``days`` and ``months`` with those of the warehouse at ``source``."""
    con.execute("attach ? as src (read_only)", [str(source)])
    for table, column in DAY_TABLES.items():
        con.execute(f"delete from raw.{table} where {column} in (select unnest(?::date[]))", [days])
        con.execute(f"insert into raw.{table} select * from src.raw.{table} where {column} in (select unnest(?::date[]))", [days])
    for table, column in MONTH_TABLES.items():
        con.execute(f"delete from raw.{table} where {column} in (select unnest(?::varchar[]))", [months])
        con.execute(f"insert into raw.{table} select * from src.raw.{table} where {column} in (select unnest(?::varchar[]))", [months])
    con.execute("detach src")


@pytest.mark.e2e
def test_charges_month_by_month_equal_a_full_refresh(tmp_path, monkeypatch):
    """The cloud charges, incremental by billing month: a new month's exports and days, then a restated
    old month (its export reloaded with other costs), each built with the interval the DAGs pass (a
    reloaded period brings all of its days), give the full refresh's charge tables and marts."""
    days = [date(2026, 10, 30) + timedelta(days=i) for i in range(4)]  # two in October, two in November
    full, incremental = _demo_days(tmp_path, monkeypatch, days)
    assert ingest_aws.ingest_aws_cur()["reloaded"] == ["2026-10", "2026-11"]
    assert sorted(ingest_gcp.ingest_gcp_billing()["reloaded"]) == ["2026-10", "2026-11"]
    assert sorted(ingest_azure.ingest_azure_cost_exports()["reloaded"]) == ["2026-10", "2026-11"]

    # late usage: a line of October 31 billed in November's invoice (Cloud Billing does this), so
    # November's rebuild must reach October's hourly costs and GPU usage too
    with duckdb.connect(str(full)) as con:
        late = con.execute("select count(*) from raw.gcp_billing_export where invoice_month = '2026-10' "
                           "and cast(usage_start_time as date) = date '2026-10-31' and labels like '%chat-8b-gcp%'").fetchone()[0]
        con.execute("insert into raw.gcp_billing_export select * replace ('2026-11' as invoice_month) from raw.gcp_billing_export "
                    "where invoice_month = '2026-10' and cast(usage_start_time as date) = date '2026-10-31' and labels like '%chat-8b-gcp%'")
    assert late > 0

    # October first, then November (its days and exports) as the daily run after the loads sees it
    shutil.copy(full, incremental)
    with duckdb.connect(str(incremental)) as con:
        for table, column in DAY_TABLES.items():
            con.execute(f"delete from raw.{table} where {column} > ?", [days[1]])
        for table, column in MONTH_TABLES.items():
            con.execute(f"delete from raw.{table} where {column} = '2026-11'")
    dbt_build(incremental, *WITHOUT_TESTS)
    with duckdb.connect(str(incremental)) as con:
        _copy_raw(con, full, days[2:], ["2026-11"])
        # int_charges is a view over the charge tables; a warehouse built before holds it as a table
        # of copied rows, which the next run replaces with the view
        con.execute("create table intermediate.int_charges_copy as select * from intermediate.int_charges")
        con.execute("drop view intermediate.int_charges")
        con.execute("alter table intermediate.int_charges_copy rename to int_charges")
    # as the transformation DAG passes them: November's two telemetry/request days, its billing month
    dbt_build(incremental, *WITHOUT_TESTS, env=_dag_env({RAW_GPU_TELEMETRY: ("2026-11-01", "2026-11-02"), RAW_AWS_CUR: ("2026-11-01", "2026-11-30")}))
    dbt_build(full, *WITHOUT_TESTS, "--full-refresh")
    full_rows, incremental_rows = _tables(full), _tables(incremental)
    assert {t: len(r) for t, r in incremental_rows.items() if t in CHARGE_TABLES} == {t: len(r) for t, r in full_rows.items() if t in CHARGE_TABLES}
    assert [t for t in full_rows if not same_rows(full_rows[t], incremental_rows[t])] == []
    months = {m for (m,) in duckdb.connect(str(incremental), read_only=True).execute(
        "select distinct strftime(billing_month_start, '%Y-%m') from intermediate.int_charges").fetchall()}
    assert months == {"2026-10", "2026-11"}
    assert duckdb.connect(str(incremental), read_only=True).execute(
        "select table_type from information_schema.tables where table_schema = 'intermediate' and table_name = 'int_charges'"
    ).fetchall() == [("VIEW",)]

    # a restated October: every raw CUR and Cloud Billing cost of the month doubled, the month rebuilt
    for warehouse in (full, incremental):
        with duckdb.connect(str(warehouse)) as con:
            con.execute("update raw.aws_cur_line_items set line_item_unblended_cost = 2 * line_item_unblended_cost, "
                        "line_item_net_unblended_cost = 2 * line_item_net_unblended_cost where billing_period = '2026-10'")
            con.execute("update raw.gcp_billing_export set cost = 2 * cost where invoice_month = '2026-10'")
    dbt_build(incremental, *WITHOUT_TESTS, env=_dag_env({RAW_AWS_CUR: ("2026-10-01", "2026-10-31")}))  # billing only
    dbt_build(full, *WITHOUT_TESTS, "--full-refresh")
    full_rows, incremental_rows = _tables(full), _tables(incremental)
    assert [t for t in full_rows if not same_rows(full_rows[t], incremental_rows[t])] == []
    with duckdb.connect(str(incremental), read_only=True) as con:
        # the restatement reached the hourly costs and the fact: October's AWS cost is now doubled
        aws_oct = con.execute("select sum(EffectiveCost) from intermediate.int_charges where charge_source = 'aws_cur' "
                              "and billing_month_start = date '2026-10-01'").fetchone()[0]
        raw_oct = con.execute("select sum(line_item_net_unblended_cost) from raw.aws_cur_line_items where billing_period = '2026-10'").fetchone()[0]
    assert aws_oct == pytest.approx(raw_oct) and aws_oct > 0

    # a warehouse whose table predates its key (a charge table's month, a daily model's day): the run
    # stops and names the rebuild instead of appending beside rows it cannot replace
    for table, key in [("int_aws_charges", "billing_month_start"), ("int_deployment_energy_hourly", "date_day")]:
        with duckdb.connect(str(incremental)) as con:
            con.execute(f"alter table intermediate.{table} drop column {key}")
            before = con.execute(f"select count(*) from intermediate.{table}").fetchone()[0]
        result = dbt_command(incremental, "run", "--select", table, env=_dag_env({RAW_AWS_CUR: ("2026-11-01", "2026-11-30")}))
        assert result.returncode != 0
        assert f"has no column {key}" in result.stdout and f"--full-refresh --select {table}+" in result.stdout
        with duckdb.connect(str(incremental), read_only=True) as con:
            assert con.execute(f"select count(*) from intermediate.{table}").fetchone()[0] == before
