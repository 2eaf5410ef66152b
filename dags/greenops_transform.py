"""
### Transformation: dbt staging -> intermediate -> marts, then the KPI summary

Scheduled on the raw Assets the ingestion DAGs update. Runs the dbt project through Cosmos: on
the embedded DuckDB warehouse as one `dbt build` (one writer per file), on BigQuery one task per
model rendered from `dbt_project/target/manifest.json`. Each model's tests run right after it and a
failing test stops everything downstream, so broken numbers never reach the marts. On DuckDB the
marts are then published as a read-only snapshot (`data/published/greenops.duckdb`, swapped in
atomically) for analysts and BI tools. Finally the KPI summary is logged and the marts Asset updated.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from greenops import publish, report
from greenops.airflow_support import (
    MARTS,
    RAW_GPU_TELEMETRY,
    RAW_INFERENCE_REQUESTS,
    dbt_build_tasks,
    default_args,
    warehouse_pool,
)
from greenops.settings import get_settings


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

    @task(pool=warehouse_pool())
    def publish_snapshot():
        # Analysts and BI tools read this copy, never the file the refresh writes (DuckDB only).
        if get_settings().warehouse_kind != "duckdb":
            return {"skipped": "the BigQuery warehouse serves readers itself"}
        return publish.publish_snapshot()

    @task(outlets=[MARTS])
    def kpi_summary():
        return report.log_summary()

    dbt >> publish_snapshot() >> kpi_summary()


greenops_transform()
