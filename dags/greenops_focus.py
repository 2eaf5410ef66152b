"""
### FOCUS exports: any provider's cost in the FinOps Open Cost and Usage Specification

Daily. Reads every FOCUS file (CSV, gzip CSV, Parquet) under `<landing>/focus/` and replaces each
billing period present, atomically. The way in for providers without a native connector, and an
alternative to them: a FOCUS row is left out of the cost model when the same provider's native
export covers that month. The work is in `greenops.ingest_focus`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from greenops import ingest_focus
from greenops.airflow_support import RAW_FOCUS, default_args, fail_fast_on_bad_input, record_loaded_days, warehouse_pool


@dag(
    dag_id="greenops_focus",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["greenops", "ingestion", "focus"],
    doc_md=__doc__,
)
def greenops_focus():
    @task(outlets=[RAW_FOCUS], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def focus_charges(run_id=None, outlet_events=None):
        return record_loaded_days(outlet_events, RAW_FOCUS, ingest_focus.ingest_focus(load_id=run_id))

    focus_charges()


greenops_focus()
