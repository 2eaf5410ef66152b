"""
### On-prem GPU fleet: telemetry, request logs, inventory, grid intensity

Daily. Each task loads its source's files for the run's UTC day (the data interval) from the
landing folder into the raw layer, replacing that day's partition atomically, and updates the
source's Asset; the transformation DAG (`greenops_transform`) is scheduled on those Assets.

Bad rows go to `raw.quarantine` with file, line and reason and the run goes on; a file that cannot
be read at all fails its task with a message naming the file. The work is in `greenops.ingest`.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from greenops import ingest
from greenops.airflow_support import (
    default_args,
    RAW_GPU_TELEMETRY,
    RAW_GRID_INTENSITY,
    RAW_INFERENCE_REQUESTS,
    RAW_INVENTORY,
    fail_fast_on_bad_input,
    record_loaded_days,
    warehouse_pool,
)


@dag(
    dag_id="greenops_onprem",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["greenops", "ingestion", "on-prem"],
    doc_md=__doc__,
)
def greenops_onprem():
    @task(outlets=[RAW_INVENTORY], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def fleet_inventory(run_id=None):
        return ingest.load_inventory(load_id=run_id)

    @task(outlets=[RAW_GPU_TELEMETRY], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def gpu_telemetry(data_interval_start=None, run_id=None, outlet_events=None):
        summary = ingest.ingest_gpu_telemetry(data_interval_start.date(), load_id=run_id)
        return record_loaded_days(outlet_events, RAW_GPU_TELEMETRY, summary)

    @task(outlets=[RAW_INFERENCE_REQUESTS], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def inference_logs(data_interval_start=None, run_id=None, outlet_events=None):
        summary = ingest.ingest_inference_logs(data_interval_start.date(), load_id=run_id)
        return record_loaded_days(outlet_events, RAW_INFERENCE_REQUESTS, summary)

    @task(outlets=[RAW_GRID_INTENSITY], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def grid_intensity(data_interval_start=None, run_id=None, outlet_events=None):
        summary = ingest.ingest_grid_intensity(data_interval_start.date(), load_id=run_id)
        return record_loaded_days(outlet_events, RAW_GRID_INTENSITY, summary)

    # The inventory first: parsing telemetry needs host time zones, requests need deployments.
    fleet_inventory() >> [gpu_telemetry(), inference_logs(), grid_intensity()]


greenops_onprem()
