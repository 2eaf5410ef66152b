"""
### Azure: Consumption API usage details and Cost Management exports (actual, amortized, FOCUS)

Daily. The Consumption API task (when `GREENOPS_AZURE_SCOPES` names subscriptions or billing
accounts) re-pulls the run's day and a trailing restatement window (the whole previous month in a
month's first five days) and replaces those days; throttling is waited out as the API asks. The
export tasks read `<landing>/azure_exports/` (the storage container's layout) and reload every month
whose latest export runs changed, each month replaced atomically. Credentials: the `azure_default`
Connection or azure-identity's default chain. The work is in `greenops.ingest_azure`; see docs/azure.md.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from greenops import ingest_azure
from greenops.airflow_support import (
    RAW_AZURE_COST_DETAILS,
    RAW_AZURE_FOCUS_CHARGES,
    RAW_AZURE_USAGE_DETAILS,
    default_args,
    fail_fast_on_bad_input,
    period_days,
    record_loaded_days,
    warehouse_pool,
)
from greenops.settings import get_settings

# One Asset per raw table this DAG writes (schedule the transformation on them to rebuild Azure days).


@dag(
    dag_id="greenops_azure",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["greenops", "ingestion", "azure"],
    doc_md=__doc__,
)
def greenops_azure():
    @task(outlets=[RAW_AZURE_USAGE_DETAILS], pool=warehouse_pool())
    def consumption_usage_details(data_interval_start=None, run_id=None, outlet_events=None):
        if not get_settings().azure_scopes:
            raise AirflowSkipException("no Azure scope configured (set GREENOPS_AZURE_SCOPES)")
        summary = ingest_azure.ingest_azure_consumption(data_interval_start.date(), load_id=run_id)
        return record_loaded_days(outlet_events, RAW_AZURE_USAGE_DETAILS, summary)

    @task(outlets=[RAW_AZURE_COST_DETAILS], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def cost_exports(run_id=None, outlet_events=None):
        summary = period_days(ingest_azure.ingest_azure_cost_exports(load_id=run_id))
        return record_loaded_days(outlet_events, RAW_AZURE_COST_DETAILS, summary)

    @task(outlets=[RAW_AZURE_FOCUS_CHARGES], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def focus_exports(run_id=None, outlet_events=None):
        summary = period_days(ingest_azure.ingest_azure_focus_exports(load_id=run_id))
        return record_loaded_days(outlet_events, RAW_AZURE_FOCUS_CHARGES, summary)

    consumption_usage_details()
    cost_exports() >> focus_exports()


greenops_azure()
