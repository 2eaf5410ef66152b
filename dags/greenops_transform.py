"""
### Transformation: dbt staging -> intermediate -> marts, then the KPI summary

Scheduled on the raw Assets the ingestion DAGs update. Runs the dbt project through Cosmos: on
the embedded DuckDB warehouse as one `dbt build` (one writer per file), on BigQuery one task per
model rendered from `dbt_project/target/manifest.json`. Each model's tests run right after it and a
failing test stops everything downstream, so broken numbers never reach the marts. Then logs the
KPI summary and updates the marts Asset.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from greenops import report
from greenops.airflow_support import MARTS, default_args, RAW_GPU_TELEMETRY, RAW_INFERENCE_REQUESTS, dbt_build_tasks


@dag(
    dag_id="greenops_transform",
    schedule=(RAW_GPU_TELEMETRY & RAW_INFERENCE_REQUESTS),
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["greenops", "dbt", "transformation"],
    doc_md=__doc__,
)
def greenops_transform():
    dbt = dbt_build_tasks()

    @task(outlets=[MARTS])
    def kpi_summary():
        return report.log_summary()

    dbt >> kpi_summary()


greenops_transform()
