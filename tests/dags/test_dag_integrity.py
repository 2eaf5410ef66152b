"""DAG integrity: every DAG imports, has tags, retries and docs, and is cheap to parse."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_IDS = ["greenops_onprem", "greenops_aws", "greenops_gcp", "greenops_azure", "greenops_focus", "greenops_transform"]


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == set(DAG_IDS)


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_tags_retries_docs(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags and "greenops" in dag.tags
    assert dag.doc_md and len(dag.doc_md) > 100
    assert dag.default_args["retries"] >= 1
    for task in dag.tasks:
        assert task.retries >= 1, f"{task.task_id} has no retries"


def test_every_warehouse_writer_takes_the_single_slot_pool(dagbag):
    for dag_id in DAG_IDS:
        for task in dagbag.dags[dag_id].tasks:
            if task.task_id not in ("kpi_summary", "efficiency_and_budget_alerts", "dbt_interval"):  # read only
                # (source_freshness_alerts runs dbt, which opens the DuckDB file for writing: it takes the slot)
                assert task.pool == "greenops_warehouse", task.task_id


def test_ingestion_tasks_update_assets_the_transformation_listens_to(dagbag):
    onprem = dagbag.dags["greenops_onprem"]
    outlets = {o.uri for t in onprem.tasks for o in t.outlets}
    assert {"greenops://raw/gpu_telemetry_samples", "greenops://raw/inference_requests"} <= outlets
    schedule = repr(dagbag.dags["greenops_transform"].timetable.asset_condition)
    assert "greenops://raw/gpu_telemetry_samples" in schedule and "greenops://raw/inference_requests" in schedule
    for cloud in ("aws_cur_line_items", "gcp_billing_export", "gcp_carbon_footprint", "focus_charges",
                  "azure_cost_details", "azure_usage_details", "azure_focus_charges"):
        assert f"greenops://raw/{cloud}" in schedule


def test_transformation_rebuilds_the_days_the_loads_replaced():
    from types import SimpleNamespace

    from greenops.airflow_support import dbt_vars_from_events

    events = {"greenops://raw/gpu_telemetry_samples": [SimpleNamespace(extra={"start_date": "2026-11-18", "end_date": "2026-11-18"})],
              "greenops://raw/inference_requests": [SimpleNamespace(extra={"start_date": "2026-11-15", "end_date": "2026-11-17"}),
                                                    SimpleNamespace(extra={})]}
    assert dbt_vars_from_events(events) == {"start_date": "2026-11-15", "end_date": "2026-11-18",
                                            "usage_start_date": "2026-11-15", "usage_end_date": "2026-11-18"}
    assert dbt_vars_from_events({}) == {} and dbt_vars_from_events(None) == {}
    # a CUR month reloaded beside a telemetry day: the marts rebuild the month's days, the raw samples
    # are aggregated for the telemetry day only, the charges for the billing month
    from greenops.airflow_support import RAW_AWS_CUR, RAW_GPU_TELEMETRY

    events = {RAW_GPU_TELEMETRY: [SimpleNamespace(extra={"start_date": "2026-12-05", "end_date": "2026-12-05"})],
              RAW_AWS_CUR: [SimpleNamespace(extra={"start_date": "2026-11-01", "end_date": "2026-11-30"}),
                            SimpleNamespace(extra={"start_date": "2026-12-01", "end_date": "2026-12-31"})]}
    assert dbt_vars_from_events(events) == {"start_date": "2026-10-01", "end_date": "2026-12-31",  # and October's usage
                                            "usage_start_date": "2026-12-05", "usage_end_date": "2026-12-05",
                                            "billing_start_date": "2026-11-01", "billing_end_date": "2026-12-31"}


def test_transformation_passes_the_days_to_dbt_as_environment(dagbag):
    """The dbt task gets the run's dates as environment variables rendered from the interval task's
    XCom (not --vars, which would make dbt parse the whole project again each run); a date the run
    lacks is set empty, so nothing in the worker's environment stands in for it."""
    from types import SimpleNamespace

    from greenops.settings import dbt_run_env

    dag = dagbag.dags["greenops_transform"]
    task = dag.get_task("dbt_build")
    assert task.vars in (None, {})  # nothing that changes from run to run reaches dbt's parse
    interval = dbt_run_env({"start_date": "2026-12-10", "end_date": "2026-12-11",
                            "usage_start_date": "2026-12-10", "usage_end_date": "2026-12-11"})
    ti = SimpleNamespace(xcom_pull=lambda task_ids: interval if task_ids == "dbt_interval" else None)
    env = task.render_template(task.env, {"ti": ti})
    assert {k: v for k, v in env.items() if k.startswith("GREENOPS_RUN_")} == {
        "GREENOPS_RUN_START_DATE": "2026-12-10", "GREENOPS_RUN_END_DATE": "2026-12-11",
        "GREENOPS_RUN_USAGE_START_DATE": "2026-12-10", "GREENOPS_RUN_USAGE_END_DATE": "2026-12-11",
        "GREENOPS_RUN_BILLING_START_DATE": "", "GREENOPS_RUN_BILLING_END_DATE": ""}
    assert env["GREENOPS_WAREHOUSE"] == task.env["GREENOPS_WAREHOUSE"]  # the profile's own variables stay


_BIGQUERY_DAG = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder="dags/greenops_transform.py")
dag = bag.dags.get("greenops_transform")
model = dag.get_task("dbt.int_gpu_energy_hourly.run") if dag else None
# each test of several models: the tasks that run it, and whether each has run all of its models
manifest = json.load(open("dbt_project/target/manifest.json"))
def before(task, seen):
    for u in task.upstream_list:
        if u.task_id not in seen:
            seen.add(u.task_id)
            before(u, seen)
    return seen
early, multi = [], 0
for test in manifest["nodes"].values():
    if test["resource_type"] != "test":
        continue
    models = {p.split(".")[-1] for p in test["depends_on"]["nodes"] if p.startswith("model.")}
    if len(models) < 2:
        continue
    multi += 1
    for task in (dag.tasks if dag else []):
        select, exclude = task.__dict__.get("select") or "", task.__dict__.get("exclude") or ""
        runs = select == test["name"] or (select in models and test["name"] not in exclude.split())
        if task.task_id.endswith("test") and runs and not {f"dbt.{m}.run" for m in models} <= before(task, set()):
            early.append([task.task_id, test["name"]])
print(json.dumps({"errors": {k: v[-500:] for k, v in bag.import_errors.items()},
                  "dbt_tasks": len([t for t in dag.tasks if t.task_id.startswith("dbt.")]) if dag else 0,
                  "target": model.env.get("GREENOPS_DBT_TARGET") if model else None,
                  "multi_model_tests": multi, "run_early": early}))
"""


def test_the_transformation_loads_on_bigquery_with_a_task_per_model():
    """On BigQuery the project is rendered from the manifest as a task per model (and its tests), each
    with the settings' dbt environment: the DAG must load (Cosmos refuses the environment given both to
    the project and to the operators: it did not load before) and every dbt command gets the target.
    A test of several models (equal_total, relationships) runs only after all of them: run with its
    first model, it read the others before they were rebuilt, or failed on a first run because they
    did not exist yet, and skipped them for good."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "GREENOPS_WAREHOUSE_KIND": "bigquery", "GREENOPS_BQ_PROJECT": "greenops-test",
           "PYTHONPATH": str(REPO / "plugins")}
    env.pop("GREENOPS_DBT_TARGET", None)
    out = subprocess.run([sys.executable, "-c", _BIGQUERY_DAG], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert result["dbt_tasks"] > 100 and result["target"] == "bigquery"
    assert result["multi_model_tests"] >= 10 and result["run_early"] == []
