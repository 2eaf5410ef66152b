"""The raw layer's tables: one Arrow schema each, shared by every parser, loader and warehouse.

Every raw table carries lineage: ``_source_file`` (path relative to the landing folder),
``_source_line`` (1-based line or row number in that file, where the format has one), ``_load_id``
(one id per task run) and ``_loaded_at`` (UTC). The large daily tables loaded from landing files
(telemetry samples, requests, grid intensity: ``FILE_TABLES``) keep the per-file part of it once per
file in ``loaded_files`` and carry only ``_file_id`` and ``_source_line`` on each row: four constant
columns cost a quarter of the time of inserting 86 million samples (docs/benchmarks.md, round 6).
Each table is replaced one partition at a time (``partition_column``), so a rerun of a day gives the
same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

LINEAGE = [
    pa.field("_source_file", pa.string()),
    pa.field("_source_line", pa.int64()),
    pa.field("_load_id", pa.string()),
    pa.field("_loaded_at", pa.timestamp("us")),
]


@dataclass(frozen=True)
class RawTable:
    name: str  # table name inside the raw schema
    schema: pa.Schema
    partition_column: str | None  # None: the whole table is one snapshot, replaced as a whole
    description: str

    @property
    def columns(self) -> list[str]:
        return self.schema.names


#: A row of a FILE_TABLES table: its file (``loaded_files._file_id`` of the same table and partition)
#: and its line in that file.
FILE_LINEAGE = [
    pa.field("_file_id", pa.int32()),
    pa.field("_source_line", pa.int64()),
]


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t in fields] + LINEAGE)


def _file_schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t in fields] + FILE_LINEAGE)


GPU_TELEMETRY = RawTable(
    "gpu_telemetry_samples",
    _file_schema(
        ("sample_date", pa.date32()),  # UTC date of sample_ts_utc: the partition
        ("sample_ts_utc", pa.timestamp("us")),
        ("host", pa.string()),
        ("gpu_index", pa.int32()),
        ("gpu_uuid", pa.string()),
        ("gpu_name", pa.string()),
        ("power_w", pa.float64()),
        ("energy_counter_mj", pa.float64()),  # total energy since driver load, when the GPU has one
        ("utilization_gpu_pct", pa.float64()),
        ("utilization_memory_pct", pa.float64()),
        ("memory_used_mib", pa.float64()),
        ("memory_total_mib", pa.float64()),
        ("power_limit_w", pa.float64()),
        ("temperature_c", pa.float64()),
        ("sm_clock_mhz", pa.float64()),
        ("mig_instance", pa.string()),
    ),
    "sample_date",
    "One row per GPU telemetry sample (GPU x timestamp), all formats in one schema.",
)

INFERENCE_REQUESTS = RawTable(
    "inference_requests",
    _file_schema(
        ("request_date", pa.date32()),  # UTC date of request_ts_utc: the partition
        ("request_id", pa.string()),
        ("request_ts_utc", pa.timestamp("us")),
        ("latency_ms", pa.float64()),
        ("deployment", pa.string()),
        ("model", pa.string()),
        ("project", pa.string()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cached_prompt_tokens", pa.int64()),
        ("status", pa.string()),
        ("task_id", pa.string()),
        ("task_completed", pa.bool_()),
    ),
    "request_date",
    "One row per inference request.",
)

GRID_INTENSITY = RawTable(
    "grid_intensity_hourly",
    _file_schema(
        ("hour_date", pa.date32()),  # UTC date of hour_utc: the partition
        ("zone", pa.string()),
        ("hour_utc", pa.timestamp("us")),
        ("gco2e_per_kwh_location", pa.float64()),
        ("gco2e_per_kwh_market", pa.float64()),
    ),
    "hour_date",
    "One row per grid zone and UTC hour.",
)

INVENTORY_SITES = RawTable(
    "inventory_sites",
    _schema(("site", pa.string()), ("pue", pa.float64()), ("grid_zone", pa.string()), ("timezone", pa.string())),
    None,
    "One row per site in the fleet inventory (snapshot).",
)

INVENTORY_HOSTS = RawTable(
    "inventory_hosts",
    _schema(
        ("host", pa.string()),
        ("site", pa.string()),
        ("gpu_model", pa.string()),
        ("gpu_count", pa.int32()),
    ),
    None,
    "One row per host in the fleet inventory (snapshot).",
)

INVENTORY_DEPLOYMENTS = RawTable(
    "inventory_deployments",
    _schema(
        ("deployment", pa.string()),
        ("model", pa.string()),
        ("project", pa.string()),  # owning project: idle energy is charged to it
        ("host", pa.string()),  # on-prem only
        ("gpu_ref", pa.string()),  # on-prem: a GPU index ("0") or UUID ("GPU-...") on the host
        ("valid_from_utc", pa.timestamp("us")),
        ("valid_to_utc", pa.timestamp("us")),  # exclusive; NULL = still running
        ("provider", pa.string()),  # onprem | aws | gcp | azure
        ("resource_ref", pa.string()),  # cloud: a resource id the deployment runs on (tags come first)
    ),
    None,
    "One row per deployment and GPU (on-prem) or cloud resource it runs on, with its validity (snapshot).",
)

INVENTORY_MODELS = RawTable(
    "inventory_models",
    _schema(
        ("model", pa.string()),
        ("family", pa.string()),
        ("parameters_billion", pa.float64()),
        ("tier", pa.string()),
    ),
    None,
    "One row per model described in the fleet inventory (snapshot).",
)

INVENTORY_PROJECTS = RawTable(
    "inventory_projects",
    _schema(
        ("project", pa.string()),
        ("team", pa.string()),
        ("period_type", pa.string()),  # week | month
        ("budget_period", pa.string()),  # '*' = the project's default for every period, else '2026-W47' / '2026-11'
        ("carbon_budget_kgco2e", pa.float64()),
    ),
    None,
    "One row per project, budget period type and period ('*' = default for every period) (snapshot).",
)

LOADED_FILES = RawTable(
    "loaded_files",
    pa.schema([
        pa.field("raw_table", pa.string()),  # the FILE_TABLES table the file's rows went to
        pa.field("partition_date", pa.date32()),  # the day loaded: the partition (with raw_table)
        pa.field("_file_id", pa.int32()),  # 1, 2, ... in path order, per raw table and day
        pa.field("_source_file", pa.string()),
        pa.field("source_format", pa.string()),  # nvidia_smi_csv | dcgm_prometheus | nvml_parquet | jsonl | csv
        pa.field("_load_id", pa.string()),
        pa.field("_loaded_at", pa.timestamp("us")),
        # the file as it was read: a later run finds it unchanged by these two
        pa.field("file_size_bytes", pa.int64()),
        pa.field("file_modified_utc", pa.timestamp("us")),
        # the earliest and latest UTC timestamp of all the file's rows (every day's, loaded or
        # quarantined); NULL where not taken (files read many at once) or the file has none
        pa.field("first_ts_utc", pa.timestamp("us")),
        pa.field("last_ts_utc", pa.timestamp("us")),
        # the time zone the file's local timestamps were read in (the host's, from the fleet file);
        # NULL where every timestamp says its own offset
        pa.field("time_zone", pa.string()),
    ]),
    "partition_date",
    "One row per landing file of a day of a file-loaded raw table (read, or known unchanged from an "
    "earlier load to hold none of the day's rows): the lineage its rows share.",
)

QUARANTINE = RawTable(
    "quarantine",
    _schema(
        ("source", pa.string()),  # the raw table the row was meant for
        ("partition_date", pa.date32()),
        ("reason", pa.string()),
        ("raw_record", pa.string()),
    ),
    "partition_date",
    "One row per input row that could not be loaded, with its file, line and reason.",
)

# --- AWS (Cost Explorer, CUR 2.0, carbon export); see docs/aws.md ------------------------------

AWS_CE_COSTS_DAILY = RawTable(
    "aws_ce_costs_daily",
    _schema(
        ("usage_date", pa.date32()),  # TimePeriod.Start of the result: the partition
        ("period_start_date", pa.date32()),
        ("period_end_date", pa.date32()),  # exclusive, as Cost Explorer returns it
        ("is_estimated", pa.bool_()),  # Estimated: true rows are restated by a later run
        ("group1_type", pa.string()),  # DIMENSION | TAG | COST_CATEGORY
        ("group1_key", pa.string()),  # e.g. SERVICE
        ("group1_value", pa.string()),  # e.g. Amazon Elastic Compute Cloud - Compute
        ("group2_type", pa.string()),
        ("group2_key", pa.string()),  # e.g. deployment (a cost-allocation tag key)
        ("group2_value", pa.string()),  # the tag's value; NULL for resources without the tag
        ("unblended_cost_usd", pa.float64()),
        ("unblended_cost_unit", pa.string()),  # the currency Cost Explorer reported (USD)
        ("net_amortized_cost_usd", pa.float64()),
        ("net_amortized_cost_unit", pa.string()),
        ("usage_quantity", pa.float64()),  # sums across units unless grouped by usage type
        ("usage_quantity_unit", pa.string()),
    ),
    "usage_date",
    "One row per Cost Explorer result day and group (e.g. service x deployment tag).",
)

AWS_CUR_LINE_ITEMS = RawTable(
    "aws_cur_line_items",
    _schema(
        ("billing_period", pa.string()),  # 'YYYY-MM' of the manifest: the partition
        ("line_item_usage_start_date", pa.timestamp("us")),  # UTC
        ("line_item_usage_end_date", pa.timestamp("us")),  # UTC
        ("line_item_product_code", pa.string()),
        ("line_item_usage_type", pa.string()),
        ("line_item_operation", pa.string()),
        ("line_item_resource_id", pa.string()),
        ("line_item_line_item_type", pa.string()),
        ("line_item_usage_account_id", pa.string()),
        ("line_item_currency_code", pa.string()),  # the currency of every cost column of the row
        ("line_item_usage_amount", pa.float64()),
        ("line_item_unblended_cost", pa.float64()),
        ("line_item_net_unblended_cost", pa.float64()),
        ("line_item_unblended_rate", pa.string()),  # a string in CUR 2.0 too: kept as delivered
        ("product_instance_type", pa.string()),
        ("product_region_code", pa.string()),
        ("pricing_unit", pa.string()),
        ("resource_tags", pa.string()),  # JSON object {"user:deployment": "chat-70b", ...}; '{}' when none
        ("bill_billing_period_start_date", pa.timestamp("us")),
        ("cur_format", pa.string()),  # cur2 | legacy: the manifest layout the rows came from
        ("export_name", pa.string()),
    ),
    "billing_period",
    "One row per CUR line item (CUR 2.0 and legacy CUR normalised to one schema), per billing period.",
)

AWS_CARBON_EMISSIONS = RawTable(
    "aws_carbon_emissions",
    _schema(
        ("usage_period", pa.string()),  # 'YYYY-MM' of the usage_period= folder: the partition
        ("model_version", pa.string()),  # AWS delivers old and new models side by side for a while
        ("usage_period_start", pa.date32()),
        ("usage_period_end", pa.date32()),
        ("payer_account_id", pa.string()),
        ("usage_account_id", pa.string()),
        ("region_code", pa.string()),
        ("location", pa.string()),
        ("product_code", pa.string()),
        ("carbon_kgco2e_location", pa.float64()),  # location-based (LBM) total, MTCO2e x 1000
        ("carbon_kgco2e_market", pa.float64()),  # market-based (MBM) total, MTCO2e x 1000
        ("last_refresh_ts_utc", pa.timestamp("us")),
    ),
    "usage_period",
    "One row per usage month, model version, account, region and product of AWS's carbon export.",
)

AWS_EXPORT_LOADS = RawTable(
    "aws_export_loads",
    _schema(
        ("source", pa.string()),  # the raw table loaded (aws_cur_line_items | aws_carbon_emissions)
        ("period", pa.string()),  # 'YYYY-MM' billing or usage period: the partition (with source)
        ("export_name", pa.string()),
        ("object_key", pa.string()),  # the manifest (CUR) or the period's folder (carbon)
        ("object_etag", pa.string()),
        ("fingerprint_sha256", pa.string()),  # manifest bytes + every data file's key and ETag
        ("data_files", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
    ),
    "period",
    "One row per export period last loaded: a period is reloaded only when its fingerprint changes.",
)

ALL_TABLES = [
    GPU_TELEMETRY,
    INFERENCE_REQUESTS,
    GRID_INTENSITY,
    LOADED_FILES,
    INVENTORY_SITES,
    INVENTORY_HOSTS,
    INVENTORY_DEPLOYMENTS,
    INVENTORY_MODELS,
    INVENTORY_PROJECTS,
    QUARANTINE,
    AWS_CE_COSTS_DAILY,
    AWS_CUR_LINE_ITEMS,
    AWS_CARBON_EMISSIONS,
    AWS_EXPORT_LOADS,
]


#: The tables loaded from landing files a day at a time, with their lineage in LOADED_FILES.
FILE_TABLES = (GPU_TELEMETRY, INFERENCE_REQUESTS, GRID_INTENSITY)


def empty(table: RawTable) -> pa.Table:
    return table.schema.empty_table()


def conform(table: RawTable, data: pa.Table) -> pa.Table:
    """Select and cast ``data``'s columns to the raw table's schema (missing columns become NULL)."""
    arrays = []
    for field in table.schema:
        if field.name in data.column_names:
            arrays.append(data.column(field.name).cast(field.type))
        else:
            arrays.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=table.schema)

FOCUS_CHARGES = RawTable(
    "focus_charges",
    _schema(
        ("billing_period", pa.string()),  # 'YYYY-MM' of BillingPeriodStart: the partition
        ("billed_cost", pa.float64()),
        ("effective_cost", pa.float64()),
        ("list_cost", pa.float64()),
        ("contracted_cost", pa.float64()),
        ("billing_account_id", pa.string()),
        ("billing_currency", pa.string()),
        ("billing_period_start", pa.timestamp("us")),
        ("billing_period_end", pa.timestamp("us")),
        ("charge_period_start", pa.timestamp("us")),
        ("charge_period_end", pa.timestamp("us")),
        ("charge_category", pa.string()),
        ("charge_description", pa.string()),
        ("provider_name", pa.string()),
        ("publisher_name", pa.string()),
        ("invoice_issuer_name", pa.string()),
        ("service_category", pa.string()),
        ("service_name", pa.string()),
        ("region_id", pa.string()),
        ("resource_id", pa.string()),
        ("resource_name", pa.string()),
        ("sub_account_id", pa.string()),
        ("consumed_quantity", pa.float64()),
        ("consumed_unit", pa.string()),
        ("tags", pa.string()),  # JSON object text, as FOCUS delivers it
    ),
    "billing_period",
    "One row per FOCUS charge (any provider's FOCUS export), replaced per billing period.",
)
ALL_TABLES.append(FOCUS_CHARGES)

# --- Azure (Consumption API, Cost Management exports); see docs/azure.md ------------------------

#: Usage-detail columns shared by the Consumption API table and the exports table (one naming for
#: EA, MCA, legacy and modern items; costs are doubles in the currency named beside them).
_AZURE_USAGE_COLUMNS = (
    ("billing_period_start_date", pa.date32()),
    ("billing_period_end_date", pa.date32()),
    ("billing_account_id", pa.string()),
    ("billing_profile_id", pa.string()),
    ("subscription_id", pa.string()),  # legacy subscriptionId / modern subscriptionGuid
    ("subscription_name", pa.string()),
    ("resource_group", pa.string()),
    ("resource_id", pa.string()),  # legacy resourceId / modern instanceName (an ARM id)
    ("resource_name", pa.string()),
    ("resource_location", pa.string()),  # as Azure writes it: 'eastus', 'EastUS2', 'US East 2'
    ("consumed_service", pa.string()),
    ("meter_id", pa.string()),
    ("meter_category", pa.string()),  # e.g. Virtual Machines
    ("meter_subcategory", pa.string()),  # e.g. NCads H100 v5 Series
    ("meter_name", pa.string()),  # e.g. NC40ads H100 v5
    ("meter_region", pa.string()),
    ("product", pa.string()),
    ("unit_of_measure", pa.string()),  # e.g. '1 Hour', '10 Hours', '1 GB/Month'
    ("vm_size", pa.string()),  # additionalInfo.ServiceType, e.g. Standard_NC40ads_H100_v5
    ("quantity", pa.float64()),  # in unit_of_measure
    ("effective_price", pa.float64()),
    ("unit_price", pa.float64()),
    ("cost_billing_currency", pa.float64()),  # legacy cost / modern costInBillingCurrency / old PreTaxCost
    ("billing_currency", pa.string()),
    ("cost_usd", pa.float64()),  # modern costInUSD; else the billing cost when the currency is USD; else NULL
    ("charge_type", pa.string()),  # Usage | Purchase | Refund | ...
    ("pricing_model", pa.string()),  # OnDemand | Reservation | SavingsPlan | Spot
    ("frequency", pa.string()),
    ("publisher_type", pa.string()),
    ("reservation_id", pa.string()),
    ("tags", pa.string()),  # JSON object {"deployment": "chat-70b"}, keys sorted, empty values dropped; '{}' when none
    ("additional_info", pa.string()),  # the JSON text as Azure delivered it
)

AZURE_USAGE_DETAILS = RawTable(
    "azure_usage_details",
    _schema(
        ("usage_date", pa.date32()),  # UTC date of the usage: the partition
        *_AZURE_USAGE_COLUMNS,
        ("kind", pa.string()),  # legacy (EA, pay-as-you-go) | modern (MCA)
        ("scope", pa.string()),  # the scope queried, e.g. /subscriptions/<id>
        ("usage_detail_id", pa.string()),  # the item's ARM id
    ),
    "usage_date",
    "One row per Consumption API usage detail (legacy and modern kinds in one schema), per usage day.",
)

AZURE_COST_DETAILS = RawTable(
    "azure_cost_details",
    _schema(
        ("billing_period", pa.string()),  # 'YYYY-MM' of the export's period folder: the partition
        ("usage_date", pa.date32()),
        *_AZURE_USAGE_COLUMNS,
        ("dataset", pa.string()),  # ActualCost | AmortizedCost | Usage (manifest exportConfig.type); NULL if unknown
        ("export_name", pa.string()),
        ("export_path", pa.string()),  # <dir>/<export> under the exports root
        ("export_period", pa.string()),  # the period folder, e.g. 20231101-20231130
        ("run_id", pa.string()),  # the run folder loaded (the latest run of that export and period)
    ),
    "billing_period",
    "One row per Cost Management export row (ActualCost, AmortizedCost; EA and MCA columns), per billing month.",
)

AZURE_FOCUS_CHARGES = RawTable(
    "azure_focus_charges",
    pa.schema(
        [f for f in FOCUS_CHARGES.schema if f.name not in {x.name for x in LINEAGE}]
        + [pa.field(n, pa.string()) for n in ("export_name", "export_path", "export_period", "run_id")]
        + LINEAGE
    ),
    "billing_period",
    "One row per FOCUS charge of a Cost Management FocusCost export (raw.focus_charges' columns), per billing month.",
)

AZURE_EXPORT_LOADS = RawTable(
    "azure_export_loads",
    _schema(
        ("source", pa.string()),  # the raw table loaded (azure_cost_details | azure_focus_charges)
        ("period", pa.string()),  # 'YYYY-MM': the partition (with source)
        ("runs", pa.string()),  # JSON list of {export_path, export_period, run_id, manifest, dataset}
        ("fingerprint_sha256", pa.string()),  # every chosen manifest's bytes + every data file's name and size/ETag
        ("data_files", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
    ),
    "period",
    "One row per exports month last loaded: a month is reloaded only when its fingerprint changes.",
)

ALL_TABLES.extend([AZURE_USAGE_DETAILS, AZURE_COST_DETAILS, AZURE_FOCUS_CHARGES, AZURE_EXPORT_LOADS])

# --- GCP (Carbon Footprint export, Cloud Billing export); see docs/gcp_bigquery.md ------------

GCP_CARBON_FOOTPRINT = RawTable(
    "gcp_carbon_footprint",
    _schema(
        ("usage_month", pa.string()),  # 'YYYY-MM' of usage_month: the partition
        ("usage_month_start", pa.date32()),  # usage_month as Google delivers it (first day of the month)
        ("billing_account_id", pa.string()),
        ("project_id", pa.string()),  # NULL: usage not associated with a project (or the project was deleted)
        ("project_number", pa.string()),
        ("service_id", pa.string()),
        ("service_description", pa.string()),
        ("location", pa.string()),  # location.location: zone, region, multi-region or country
        ("region", pa.string()),  # location.region
        ("carbon_model_version", pa.int64()),  # a restated month comes with a new version
        ("scope1_kgco2e", pa.float64()),
        ("scope2_location_kgco2e", pa.float64()),
        ("scope2_market_kgco2e", pa.float64()),
        ("scope3_kgco2e", pa.float64()),
        ("total_location_kgco2e", pa.float64()),  # carbon_footprint_total_kgCO2e.location_based, as reported
        ("total_market_kgco2e", pa.float64()),  # carbon_footprint_total_kgCO2e.market_based, as reported
    ),
    "usage_month",
    "One row per usage month, carbon model version, project, service and location of GCP's Carbon Footprint export.",
)

GCP_BILLING_EXPORT = RawTable(
    "gcp_billing_export",
    _schema(
        ("invoice_month", pa.string()),  # 'YYYY-MM' of invoice.month (else of usage_start_time): the partition
        ("usage_date", pa.date32()),  # UTC date of usage_start_time
        ("billing_account_id", pa.string()),
        ("service_id", pa.string()),
        ("service_description", pa.string()),
        ("sku_id", pa.string()),
        ("sku_description", pa.string()),
        ("usage_start_time", pa.timestamp("us")),  # UTC
        ("usage_end_time", pa.timestamp("us")),  # UTC
        ("project_id", pa.string()),
        ("project_number", pa.string()),
        ("project_name", pa.string()),
        ("project_labels", pa.string()),  # JSON object {"key": "value"}; '{}' when none
        ("labels", pa.string()),  # JSON object of the resource's labels, e.g. {"deployment": "chat-8b-gcp"}
        ("system_labels", pa.string()),  # JSON object, e.g. {"compute.googleapis.com/machine_spec": "a2-highgpu-2g"}
        ("location_location", pa.string()),
        ("location_country", pa.string()),
        ("location_region", pa.string()),
        ("location_zone", pa.string()),
        ("resource_name", pa.string()),  # detailed (resource-level) export only
        ("resource_global_name", pa.string()),
        ("cost", pa.float64()),  # in currency, before credits
        ("currency", pa.string()),
        ("currency_conversion_rate", pa.float64()),
        ("usage_amount", pa.float64()),  # in usage_unit (e.g. seconds; vCPU-seconds for core SKUs)
        ("usage_unit", pa.string()),
        ("usage_amount_in_pricing_units", pa.float64()),
        ("usage_pricing_unit", pa.string()),
        ("credits", pa.string()),  # JSON array of the credits as delivered ([] when none)
        ("credits_amount", pa.float64()),  # sum of credits[].amount (negative or 0), in currency
        ("cost_type", pa.string()),  # regular | tax | adjustment | rounding_error
        ("export_time", pa.timestamp("us")),
    ),
    "invoice_month",
    "One row per GCP Cloud Billing export line (standard or detailed export), replaced per invoice month.",
)

GCP_EXPORT_LOADS = RawTable(
    "gcp_export_loads",
    _schema(
        ("source", pa.string()),  # the raw table loaded (gcp_carbon_footprint | gcp_billing_export)
        ("period", pa.string()),  # 'YYYY-MM' usage or invoice month: the partition (with source)
        ("origin", pa.string()),  # files:<landing folder> | bigquery:<project.dataset.table>
        ("fingerprint", pa.string()),  # of the period's content (rows and rejected rows), not of file names
        ("carbon_model_versions", pa.string()),  # e.g. '1,2' (carbon only)
        ("data_files", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
    ),
    "period",
    "One row per GCP export period last loaded: a period is reloaded only when its content fingerprint changes.",
)
ALL_TABLES.extend([GCP_CARBON_FOOTPRINT, GCP_BILLING_EXPORT, GCP_EXPORT_LOADS])
