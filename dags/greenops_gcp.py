"""
### GCP: Carbon Footprint and Cloud Billing exports

Daily. Each task reloads every month whose content changed since its last load (Google republishes a
month in place: a new carbon model version, late billing rows), each month replaced atomically with
its quarantine rows and load record. Carbon Footprint is replaced per usage month, billing per
invoice month (from BigQuery: the run's month and the ones before it that Google still restates).

Where from, by setting: with `GREENOPS_WAREHOUSE_KIND=bigquery` and `GREENOPS_GCP_CARBON_TABLE` /
`GREENOPS_GCP_BILLING_TABLE`, the export tables are copied inside BigQuery by one query job (the
rows never leave BigQuery); otherwise `bq extract` files (Parquet, JSON, CSV) are read from
`<landing>/gcp_carbon/` and `<landing>/gcp_billing/`. The work is in `greenops.ingest_gcp`; see
docs/gcp_bigquery.md.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from greenops import ingest_gcp
from greenops.airflow_support import (
    RAW_GCP_BILLING,
    RAW_GCP_CARBON,
    default_args,
    fail_fast_on_bad_input,
    period_days,
    record_loaded_days,
    warehouse_pool,
)


@dag(
    dag_id="greenops_gcp",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["greenops", "ingestion", "gcp"],
    doc_md=__doc__,
)
def greenops_gcp():
    @task(outlets=[RAW_GCP_BILLING], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def billing_export(data_interval_start=None, run_id=None, outlet_events=None):
        summary = period_days(ingest_gcp.ingest_gcp_billing(data_interval_start.date(), load_id=run_id))
        return record_loaded_days(outlet_events, RAW_GCP_BILLING, summary)

    @task(outlets=[RAW_GCP_CARBON], pool=warehouse_pool())
    @fail_fast_on_bad_input
    def carbon_footprint(run_id=None, outlet_events=None):
        summary = period_days(ingest_gcp.ingest_gcp_carbon(load_id=run_id))
        return record_loaded_days(outlet_events, RAW_GCP_CARBON, summary)

    # carbon is allocated with billing's GPU-hours and cost: billing first
    billing_export() >> carbon_footprint()


greenops_gcp()
