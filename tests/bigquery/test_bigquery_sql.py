"""Every dbt model compiles for the BigQuery target offline and reads as BigQuery SQL.

`dbt compile --no-populate-cache` with the project's own profile (method oauth-secrets and a made-up
token, as ../shared/reference/sources.md says) needs no Google endpoint. Each compiled model and
data test is then checked by ``bq_sql_lint.problems``: it parses as BigQuery SQL with sqlglot
(ErrorLevel.RAISE), calls only GoogleSQL functions, and applies no text operation to numbers or dates.
A DuckDB-only function in a model fails here. That DuckDB still builds is proven by tests/dbt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bq_sql_lint import problems
from greenops.settings import PROJECT_ROOT

DBT = Path(sys.executable).with_name("dbt")
DAILY_MARTS = {"inference_energy_fact", "energy_per_million_tokens", "carbon_per_inference", "cost_per_1k_inferences",
               "energy_to_solution", "sci_per_million_tokens", "tokens_per_joule", "gpu_idle_waste",
               "efficiency_breakdown", "efficiency_regressions"}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("bq-target")
    env = {**os.environ,
           "GREENOPS_DBT_TARGET": "bigquery", "GREENOPS_BQ_METHOD": "oauth-secrets",
           "GREENOPS_BQ_TOKEN": "ya29.not-a-real-token", "GREENOPS_BQ_PROJECT": "greenops-ci",
           "GREENOPS_BQ_LOCATION": "EU", "DBT_PROFILES_DIR": str(PROJECT_ROOT / "dbt_project"),
           "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    # our own target path: the project's manifest.json (read by Cosmos and the DAG tests) stays as it is
    result = subprocess.run([str(DBT), "compile", "--no-populate-cache", "--quiet", "--target-path", str(target),
                             "--log-path", str(target / "logs")],
                            cwd=PROJECT_ROOT / "dbt_project", env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return target


def _models(target: Path) -> dict[str, dict]:
    manifest = json.loads((target / "manifest.json").read_text())
    return {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def test_every_model_compiles_to_bigquery_sql(compiled):
    models = _models(compiled)
    files = {p.stem: p for p in (compiled / "compiled" / "greenops" / "models").rglob("*.sql")}
    missing = sorted(set(models) - set(files))
    assert not missing, f"models without compiled SQL: {missing}"
    assert {"stg_gcp__carbon_footprint", "stg_gcp__billing_export", "int_gcp_charges", "gcp_carbon_allocated_daily",
            "gcp_carbon_reconciliation"} <= set(models)
    # BigQuery names: relations are `project`.`dataset`.`table`, the raw dataset is `raw`
    fact = files["inference_energy_fact"].read_text()
    assert "`greenops-ci`.`intermediate`.`int_deployment_energy_hourly`" in fact
    assert "`greenops-ci`.`raw`.`gcp_carbon_footprint`" in files["stg_gcp__carbon_footprint"].read_text()


def test_every_compiled_model_and_test_reads_as_bigquery_sql(compiled):
    found = {}
    paths = sorted((compiled / "compiled" / "greenops").rglob("*.sql"))
    assert len(paths) > 100  # models and data tests
    for path in paths:
        issues = problems(path.read_text())
        if issues:
            found[str(path.relative_to(compiled / "compiled" / "greenops"))] = issues
    assert not found, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_marts_are_partitioned_and_clustered_on_bigquery(compiled):
    models = _models(compiled)
    for name in DAILY_MARTS:
        cfg = models[name]["config"]
        assert cfg["materialized"] == "incremental" and cfg["incremental_strategy"] == "insert_overwrite", name
        assert cfg["partition_by"] == {"field": "date_day", "data_type": "date", "granularity": "day"}, name
    assert models["inference_energy_fact"]["config"]["cluster_by"] == ["deployment_id", "project_id", "model_id"]
    alloc = models["gcp_carbon_allocated_daily"]["config"]
    assert alloc["partition_by"]["field"] == "date_day" and alloc["cluster_by"] == ["deployment_id", "project_id"]
    assert models["data_quality_quarantine"]["config"]["partition_by"]["granularity"] == "month"
    for name in ("dim_deployment", "dim_project", "carbon_budget_variance", "aws_carbon_reconciliation", "gcp_carbon_reconciliation"):
        assert models[name]["config"].get("cluster_by"), name


@pytest.mark.parametrize("sql, expected", [
    ("select (epoch_us(b) - epoch_us(a)) / 1e6 from t", "epoch_us() is not a BigQuery function"),
    ("select strftime(d, '%G-W%V') from t", "strftime() is not a BigQuery function"),
    ("select cast(unnest(generate_series(a, b, interval 1 day)) as date) from t", "generate_series() is not a BigQuery function"),
    ("select json_extract_string(tags, '$.deployment') from t", "json_extract_string() is not a BigQuery function"),
    ("select try_cast(x as double) from t", "try_cast() is not a BigQuery function"),
    ("select x::double from t", "`::` cast"),
    ("select date_trunc('hour', ts) from t", "argument order"),
    ("select isfinite(x) from t", "isfinite() is not a BigQuery function"),
    ("select unnest(xs) as x from t", "unnest() in a select list"),
    ("select bool_and(ok) from t", "bool_and() is not a BigQuery function"),
    ("select trim(split_part(reason, ':', 1)) from t", "split_part() is not a BigQuery function"),
    ("select substr(date_day, 1, 7) from t", "substr on the date/time column date_day"),
    ("select host || '/' || 1 from t", "|| on the number 1"),
    ("select 1 from t where sample_date like '2026-%'", "like on the date/time column sample_date"),
    ("select a from t union select a from u", "Expected DISTINCT or ALL"),
])
def test_the_check_catches_duckdb_only_sql(sql, expected):
    assert any(expected in p for p in problems(sql)), problems(sql)


def test_the_check_accepts_the_bigquery_forms():
    sql = """select timestamp_diff(b, a, microsecond) / 1e6, format_date('%G-W%V', d), safe_cast(x as float64),
                    json_value(tags, '$."deployment"'), split(reason, ':')[safe_offset(0)], timestamp_trunc(ts, hour),
                    host || '/' || cast(gpu_index as string), logical_and(ok)
             from t cross join unnest(generate_date_array(a, b)) as day
             union distinct select 1, 2, 3, 4, 5, 6, 7, 8"""
    assert problems(sql) == []


def test_the_freshness_check_reads_a_weeks_partitions_on_bigquery_only(compiled):
    # on BigQuery max(sample_ts_utc) over the whole retention is paid for on every run (400 days of a
    # large fleet's samples) and a GREENOPS_BQ_MAX_BYTES_BILLED cap may refuse it; DuckDB reads it all
    filters = {}
    for target in (compiled, PROJECT_ROOT / "dbt_project" / "target"):
        manifest = json.loads((target / "manifest.json").read_text())
        filters[target] = {n["name"]: (n.get("freshness") or {}).get("filter") for n in manifest["sources"].values()}
    bigquery, duckdb = filters[compiled], filters[PROJECT_ROOT / "dbt_project" / "target"]
    assert bigquery["gpu_telemetry_samples"] == "sample_date >= date_sub(current_date(), interval 7 day)"
    assert bigquery["inference_requests"] == "request_date >= date_sub(current_date(), interval 7 day)"
    assert bigquery["grid_intensity_hourly"] == "hour_date >= date_sub(current_date(), interval 7 day)"
    assert not any(duckdb.values())
    assert problems(f"select max(sample_ts_utc) from raw.gpu_telemetry_samples where {bigquery['gpu_telemetry_samples']}") == []
