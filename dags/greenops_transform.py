"""
### Transformation: dbt staging -> intermediate -> marts, then the KPI summary

Scheduled on the raw Assets the ingestion DAGs update. The models are rebuilt incrementally for what
the triggering loads replaced (read from their Asset events; everything when run by hand): the raw
samples and requests aggregated for the usage days loaded, the charges for the billing months
reloaded, the fact and daily KPIs for the days of both (docs/methodology.md, "Incremental builds").
Runs the dbt project through Cosmos: on
the embedded DuckDB warehouse as one `dbt build` (one writer per file), on BigQuery one task per
model rendered from `dbt_project/target/manifest.json`. Each model's tests run right after it and a
failing test stops everything downstream, so broken numbers never reach the marts. On DuckDB the
marts are then published as a read-only snapshot (`data/published/greenops.duckdb`, swapped in
atomically) for analysts and BI tools. Finally the KPI summary is logged, the marts Asset updated,
and alerts (efficiency regressions, carbon budgets at risk or over) go out through the notifier:
the task log by default, a webhook with GREENOPS_ALERT_WEBHOOK_CONN. A failing dbt test fails the
run before anything is published.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from greenops import alerts, publish, report
from greenops.airflow_support import (
    MARTS,
    RAW_AWS_CUR,
    RAW_AZURE_COST_DETAILS,
    RAW_AZURE_FOCUS_CHARGES,
    RAW_AZURE_USAGE_DETAILS,
    RAW_FOCUS,
    RAW_GCP_BILLING,
    RAW_GCP_CARBON,
    AlertNotifier,
    RAW_GPU_TELEMETRY,
    RAW_INFERENCE_REQUESTS,
    dbt_build_tasks,
    dbt_vars_from_events,
    default_args,
    warehouse_pool,
)
from greenops.settings import dbt_run_env, get_settings


@dag(
    dag_id="greenops_transform",
    schedule=((RAW_GPU_TELEMETRY & RAW_INFERENCE_REQUESTS) | RAW_AWS_CUR | RAW_GCP_BILLING | RAW_GCP_CARBON | RAW_FOCUS
              | RAW_AZURE_COST_DETAILS | RAW_AZURE_USAGE_DETAILS | RAW_AZURE_FOCUS_CHARGES),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["greenops", "dbt", "transformation"],
    doc_md=__doc__,
)
def greenops_transform():
    @task
    def dbt_interval(triggering_asset_events=None):
        # the days the triggering loads replaced; empty (rebuild everything) for a manual run
        return dbt_run_env(dbt_vars_from_events(triggering_asset_events))

    interval = dbt_interval()
    dbt = dbt_build_tasks(interval_task_id="dbt_interval")
    interval >> dbt

    @task(pool=warehouse_pool())
    def publish_snapshot():
        # Analysts and BI tools read this copy, never the file the refresh writes (DuckDB only).
        if get_settings().warehouse_kind != "duckdb":
            return {"skipped": "the BigQuery warehouse serves readers itself"}
        return publish.publish_snapshot()

    @task(outlets=[MARTS])
    def kpi_summary():
        return report.log_summary()

    @task(on_success_callback=[AlertNotifier()])
    def efficiency_and_budget_alerts():
        # regressions of the latest day, budgets at risk or over in the latest week
        return alerts.collect_alerts()

    @task(on_success_callback=[AlertNotifier()], pool=warehouse_pool())
    def source_freshness_alerts():
        # sources whose newest data is older than _sources.yml allows: alerted, never blocking
        return alerts.freshness_alerts()

    published = dbt >> publish_snapshot()
    published >> [kpi_summary(), efficiency_and_budget_alerts(), source_freshness_alerts()]


greenops_transform()
