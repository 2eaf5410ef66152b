"""
### AWS: Cost Explorer, CUR 2.0 (or legacy CUR) and AWS's carbon export

Daily. Cost Explorer (when `GREENOPS_AWS_COST_EXPLORER=true`) re-pulls the run's day and a trailing
restatement window and replaces those days; the CUR and carbon tasks reload every billing period
whose export manifest changed since the last load, each period replaced atomically. Exports are read
from S3 (`GREENOPS_AWS_CUR_BUCKET`) or, with no bucket, from `<landing>/aws_cur/` and
`<landing>/aws_carbon/` in the same layout. Credentials: the `aws_default` Connection or boto3's
default chain. The work is in `greenops.ingest_aws`; see docs/aws.md.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from greenops import ingest_aws
from greenops.airflow_support import (
    RAW_AWS_CARBON,
    RAW_AWS_COST_EXPLORER,
    RAW_AWS_CUR,
    default_args,
    fail_fast_on_bad_input,
    period_days,
    record_loaded_days,
    warehouse_pool,
)
from greenops.settings import get_settings


@dag(
    dag_id="greenops_aws",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["greenops", "ingestion", "aws"],
    doc_md=__doc__,
)
def greenops_aws():
    @task(outlets=[RAW_AWS_COST_EXPLORER], pool=warehouse_pool())
    def cost_explorer(data_interval_start=None, run_id=None, outlet_events=None):
        if not get_settings().aws_cost_explorer_enabled:
            raise AirflowSkipException("Cost Explorer is off (set GREENOPS_AWS_COST_EXPLORER=true)")
        summary = ingest_aws.ingest_aws_cost_explorer(data_interval_start.date(), load_id=run_id)
        days = [summary["window_start"], summary["window_end"]]
        return record_loaded_days(outlet_events, RAW_AWS_COST_EXPLORER, {**summary, "days": days})

    @task(outlets=[RAW_AWS_CUR], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def cost_and_usage_report(run_id=None, outlet_events=None):
        summary = period_days(ingest_aws.ingest_aws_cur(load_id=run_id))
        return record_loaded_days(outlet_events, RAW_AWS_CUR, summary)

    @task(outlets=[RAW_AWS_CARBON], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def carbon_emissions(run_id=None, outlet_events=None):
        summary = period_days(ingest_aws.ingest_aws_carbon(load_id=run_id))
        return record_loaded_days(outlet_events, RAW_AWS_CARBON, summary)

    cost_explorer()
    cost_and_usage_report() >> carbon_emissions()


greenops_aws()
