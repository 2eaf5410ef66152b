"""Every GreenOps setting in one place.

Settings come from the environment (read on each call, never cached at import time, so a DAG file
stays cheap to parse and a test can change them). Secrets are never settings: they come from Airflow
Connections (ids below) or the cloud SDKs' default credential chains.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

#: The repository root: plugins/greenops/settings.py -> ../../..
PROJECT_ROOT = Path(__file__).resolve().parents[2]

#: Airflow Connection ids for the cloud sources (the secret handles, declared once).
AWS_CONN_ID = "aws_default"
GCP_CONN_ID = "google_cloud_default"
AZURE_CONN_ID = "azure_default"

#: The Airflow pool that serialises every task writing the embedded DuckDB warehouse.
WAREHOUSE_POOL = "greenops_warehouse"


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def number_setting(name: str, default: float) -> float:
    """A number setting (every one is a count, a duration or a size: 0 or more); unset or empty: the default."""
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        number = float(value)
    except ValueError as exc:
        raise ValueError(f"setting {name}={value!r} is not a number") from exc
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"setting {name}={value!r} must be a number, 0 or more")
    return number


def _retention_days(name: str, default: int) -> int:
    days = number_setting(name, default)
    if days < 0 or days != int(days):
        raise ValueError(f"setting {name}={os.environ.get(name)!r} must be a whole number of days, 0 or more")
    return int(days)


@dataclass(frozen=True)
class Settings:
    """A snapshot of the settings. Paths are absolute."""

    home: Path
    warehouse_kind: str  # GREENOPS_WAREHOUSE_KIND: "duckdb" (default) or "bigquery"
    warehouse_path: Path  # GREENOPS_WAREHOUSE: the DuckDB file the pipeline writes
    published_path: Path  # GREENOPS_PUBLISHED_WAREHOUSE: the read-only snapshot analysts and BI read
    landing_dir: Path  # GREENOPS_LANDING_DIR
    fleet_file: Path  # GREENOPS_FLEET_FILE: the fleet inventory YAML
    dbt_project_dir: Path
    dbt_profiles_dir: Path
    dbt_target: str  # GREENOPS_DBT_TARGET, defaults to the warehouse kind
    max_power_gap_s: float  # GREENOPS_MAX_POWER_GAP_S: longest gap between power samples we integrate over
    task_retries: int  # GREENOPS_TASK_RETRIES: Airflow retries per task (the demo and tests use 0)
    retry_delay_s: float  # GREENOPS_RETRY_DELAY_S: first retry delay, doubled each retry
    #: GREENOPS_RAW_TELEMETRY_RETENTION_DAYS: days of raw GPU samples kept before the loaded day (0 keeps
    #: all). The hourly energy is built incrementally and keeps its history; only a full refresh
    #: needs the raw samples again (and then rebuilds just the days still kept).
    raw_telemetry_retention_days: int = 400
    #: GREENOPS_RAW_REQUESTS_RETENTION_DAYS: the same for raw inference requests (a 1,000-GPU fleet's
    #: 20 million a day weigh more than its samples); int_requests_hourly keeps their history.
    raw_requests_retention_days: int = 400

    # --- AWS source (Cost Explorer, CUR 2.0, carbon export); see docs/aws.md -------------------
    # Defaults here so a Settings built without them keeps working; get_settings() reads the env.
    aws_cost_explorer_enabled: bool = False  # GREENOPS_AWS_COST_EXPLORER: pull Cost Explorer (needs credentials)
    aws_region: str = "us-east-1"  # GREENOPS_AWS_REGION: Cost Explorer lives in us-east-1
    aws_endpoint_url: str | None = None  # GREENOPS_AWS_ENDPOINT_URL: a local endpoint (tests, moto)
    aws_max_attempts: int = 5  # GREENOPS_AWS_MAX_ATTEMPTS: botocore standard-mode attempts per call
    aws_ce_restatement_days: int = 3  # GREENOPS_AWS_CE_RESTATEMENT_DAYS: trailing days re-pulled each run
    aws_ce_group_by: tuple[tuple[str, str], ...] = (("DIMENSION", "SERVICE"), ("TAG", "deployment"))
    aws_cur_bucket: str | None = None  # GREENOPS_AWS_CUR_BUCKET: unset = read <landing>/aws_cur/
    aws_cur_prefix: str = ""  # GREENOPS_AWS_CUR_PREFIX: the export's S3 prefix (also a sub-folder locally)
    aws_cur_export: str | None = None  # GREENOPS_AWS_CUR_EXPORT: pick one export when several share the prefix
    aws_carbon_bucket: str | None = None  # GREENOPS_AWS_CARBON_BUCKET: defaults to the CUR bucket
    aws_carbon_prefix: str = ""  # GREENOPS_AWS_CARBON_PREFIX: defaults to the CUR prefix

    # --- GCP sources and the BigQuery warehouse; see docs/gcp_bigquery.md --------------------
    bq_project: str | None = None  # GREENOPS_BQ_PROJECT: the project holding the warehouse's datasets
    bq_location: str = "US"  # GREENOPS_BQ_LOCATION: where the datasets and jobs live
    bq_api_endpoint: str | None = None  # GREENOPS_BQ_API_ENDPOINT: another endpoint (tests, a proxy)
    bq_method: str = "oauth"  # GREENOPS_BQ_METHOD: oauth (default credentials) | service-account | oauth-secrets
    bq_keyfile: str | None = None  # GREENOPS_BQ_KEYFILE: service-account key file (outside the repository)
    gcp_carbon_table: str | None = None  # GREENOPS_GCP_CARBON_TABLE: project.dataset.carbon_footprint (BigQuery path)
    gcp_billing_table: str | None = None  # GREENOPS_GCP_BILLING_TABLE: project.dataset.gcp_billing_export_v1_<ACCOUNT>
    gcp_billing_lookback_months: int = 2  # GREENOPS_GCP_BILLING_LOOKBACK_MONTHS: invoice months re-checked per run

    # --- Azure source (Consumption API, Cost Management exports); see docs/azure.md ------------
    azure_scopes: tuple[str, ...] = ()  # GREENOPS_AZURE_SCOPES: '/subscriptions/<id>', '/providers/Microsoft.Billing/billingAccounts/<id>'
    azure_arm_endpoint: str = "https://management.azure.com"  # GREENOPS_AZURE_ARM_ENDPOINT: another cloud, or a test server
    azure_restatement_days: int = 3  # GREENOPS_AZURE_RESTATEMENT_DAYS: trailing days re-pulled each run
    azure_max_attempts: int = 5  # GREENOPS_AZURE_MAX_ATTEMPTS: attempts per API request in all
    azure_retry_after_max_s: float = 120.0  # GREENOPS_AZURE_RETRY_AFTER_MAX_S: cap on a server-requested wait
    azure_credential: str = "auto"  # GREENOPS_AZURE_CREDENTIAL: auto | connection | managed_identity | default
    azure_managed_identity_client_id: str | None = None  # GREENOPS_AZURE_MANAGED_IDENTITY_CLIENT_ID (not a secret)
    azure_exports_prefix: str = ""  # GREENOPS_AZURE_EXPORTS_PREFIX: a sub-folder of <landing>/azure_exports/
    azure_export_names: tuple[str, ...] = ()  # GREENOPS_AZURE_EXPORTS: only these export names (default: all)

    @property
    def dbt_manifest(self) -> Path:
        return self.dbt_project_dir / "target" / "manifest.json"


def get_settings() -> Settings:
    home = _path("GREENOPS_HOME", PROJECT_ROOT)
    kind = os.environ.get("GREENOPS_WAREHOUSE_KIND", "duckdb").strip().lower()
    if kind not in ("duckdb", "bigquery"):
        raise ValueError(f"GREENOPS_WAREHOUSE_KIND must be 'duckdb' or 'bigquery', not {kind!r}")
    return Settings(
        home=home,
        warehouse_kind=kind,
        warehouse_path=_path("GREENOPS_WAREHOUSE", home / "data" / "warehouse.duckdb"),
        published_path=_path("GREENOPS_PUBLISHED_WAREHOUSE", home / "data" / "published" / "greenops.duckdb"),
        landing_dir=_path("GREENOPS_LANDING_DIR", home / "data" / "landing"),
        fleet_file=_path("GREENOPS_FLEET_FILE", home / "include" / "demo_fleet.yaml"),
        dbt_project_dir=_path("GREENOPS_DBT_PROJECT_DIR", home / "dbt_project"),
        dbt_profiles_dir=_path("GREENOPS_DBT_PROFILES_DIR", home / "dbt_project"),
        dbt_target=os.environ.get("GREENOPS_DBT_TARGET", kind),
        max_power_gap_s=number_setting("GREENOPS_MAX_POWER_GAP_S", 120.0),
        task_retries=int(number_setting("GREENOPS_TASK_RETRIES", 2)),
        retry_delay_s=number_setting("GREENOPS_RETRY_DELAY_S", 300.0),
        raw_telemetry_retention_days=_retention_days("GREENOPS_RAW_TELEMETRY_RETENTION_DAYS", 400),
        raw_requests_retention_days=_retention_days("GREENOPS_RAW_REQUESTS_RETENTION_DAYS", 400),
        **_aws_settings(),
        **_azure_settings(),
        **_gcp_settings(),
    )


# --- AWS settings ------------------------------------------------------------------------------

_CE_GROUP_TYPES = ("DIMENSION", "TAG", "COST_CATEGORY")


def parse_ce_group_by(value: str) -> tuple[tuple[str, str], ...]:
    """``"DIMENSION:SERVICE,TAG:deployment"`` -> ``(("DIMENSION", "SERVICE"), ("TAG", "deployment"))``.

    Cost Explorer accepts at most two groupings; the key after the first ':' is kept as written (tag
    keys are case-sensitive).
    """
    pairs = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        kind, sep, key = item.partition(":")
        kind = kind.strip().upper()
        if not sep or kind not in _CE_GROUP_TYPES or not key.strip():
            raise ValueError(f"setting GREENOPS_AWS_CE_GROUP_BY: {item!r} is not TYPE:KEY with TYPE one of {', '.join(_CE_GROUP_TYPES)}")
        pairs.append((kind, key.strip()))
    if not 1 <= len(pairs) <= 2:
        raise ValueError(f"setting GREENOPS_AWS_CE_GROUP_BY={value!r}: Cost Explorer groups by one or two keys")
    return tuple(pairs)


def _text(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _aws_settings() -> dict:
    cur_bucket = _text("GREENOPS_AWS_CUR_BUCKET")
    cur_prefix = (_text("GREENOPS_AWS_CUR_PREFIX") or "").strip("/")
    group_by = _text("GREENOPS_AWS_CE_GROUP_BY")
    restatement = int(number_setting("GREENOPS_AWS_CE_RESTATEMENT_DAYS", 3))
    if restatement < 0:
        raise ValueError("setting GREENOPS_AWS_CE_RESTATEMENT_DAYS must be 0 or more")
    return {
        "aws_cost_explorer_enabled": (_text("GREENOPS_AWS_COST_EXPLORER") or "false").lower() in ("1", "true", "yes", "on"),
        "aws_region": _text("GREENOPS_AWS_REGION") or "us-east-1",
        "aws_endpoint_url": _text("GREENOPS_AWS_ENDPOINT_URL"),
        "aws_max_attempts": max(1, int(number_setting("GREENOPS_AWS_MAX_ATTEMPTS", 5))),
        "aws_ce_restatement_days": restatement,
        "aws_ce_group_by": parse_ce_group_by(group_by) if group_by else Settings.aws_ce_group_by,
        "aws_cur_bucket": cur_bucket,
        "aws_cur_prefix": cur_prefix,
        "aws_cur_export": _text("GREENOPS_AWS_CUR_EXPORT"),
        "aws_carbon_bucket": _text("GREENOPS_AWS_CARBON_BUCKET") or cur_bucket,
        "aws_carbon_prefix": (_text("GREENOPS_AWS_CARBON_PREFIX") or cur_prefix).strip("/"),
    }


# --- Azure settings ----------------------------------------------------------------------------

_AZURE_SCOPE = re.compile(
    r"^(subscriptions/[^/]+(/resourceGroups/[^/]+)?"
    r"|providers/Microsoft\.Billing/billingAccounts/[^/]+(/(billingProfiles|invoiceSections|departments|enrollmentAccounts|customers)/[^/]+)*"
    r"|providers/Microsoft\.Management/managementGroups/[^/]+)$",
    re.IGNORECASE,
)
AZURE_CREDENTIAL_MODES = ("auto", "connection", "managed_identity", "default")


def parse_azure_scopes(value: str) -> tuple[str, ...]:
    """``"/subscriptions/a, providers/Microsoft.Billing/billingAccounts/b"`` -> both with a leading '/'.

    Accepted: subscriptions (and their resource groups), billing accounts (and their billing
    profiles, invoice sections, departments, enrollment accounts, customers), management groups.
    """
    scopes = []
    for item in filter(None, (part.strip().strip("/") for part in value.split(","))):
        if not _AZURE_SCOPE.match(item):
            raise ValueError(f"setting GREENOPS_AZURE_SCOPES: {item!r} is not a subscription, billing account or management group scope")
        scope = "/" + item
        if scope.lower() not in {s.lower() for s in scopes}:
            scopes.append(scope)
    return tuple(scopes)


def _azure_settings() -> dict:
    restatement = int(number_setting("GREENOPS_AZURE_RESTATEMENT_DAYS", 3))
    if restatement < 0:
        raise ValueError("setting GREENOPS_AZURE_RESTATEMENT_DAYS must be 0 or more")
    credential = (_text("GREENOPS_AZURE_CREDENTIAL") or "auto").lower()
    if credential not in AZURE_CREDENTIAL_MODES:
        raise ValueError(f"setting GREENOPS_AZURE_CREDENTIAL must be one of {', '.join(AZURE_CREDENTIAL_MODES)}, not {credential!r}")
    endpoint = (_text("GREENOPS_AZURE_ARM_ENDPOINT") or Settings.azure_arm_endpoint).rstrip("/")
    if not endpoint.lower().startswith(("https://", "http://")):
        raise ValueError(f"setting GREENOPS_AZURE_ARM_ENDPOINT={endpoint!r} is not an http(s) URL")
    names = _text("GREENOPS_AZURE_EXPORTS") or ""
    return {
        "azure_scopes": parse_azure_scopes(_text("GREENOPS_AZURE_SCOPES") or ""),
        "azure_arm_endpoint": endpoint,
        "azure_restatement_days": restatement,
        "azure_max_attempts": max(1, int(number_setting("GREENOPS_AZURE_MAX_ATTEMPTS", 5))),
        "azure_retry_after_max_s": max(0.0, number_setting("GREENOPS_AZURE_RETRY_AFTER_MAX_S", 120.0)),
        "azure_credential": credential,
        "azure_managed_identity_client_id": _text("GREENOPS_AZURE_MANAGED_IDENTITY_CLIENT_ID"),
        "azure_exports_prefix": (_text("GREENOPS_AZURE_EXPORTS_PREFIX") or "").strip("/"),
        "azure_export_names": tuple(n for n in (p.strip() for p in names.split(",")) if n),
    }


# --- GCP and BigQuery settings ---------------------------------------------------------------

_BQ_METHODS = ("oauth", "service-account", "oauth-secrets")
_TABLE_ID = re.compile(r"^[A-Za-z0-9_.:-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_$]+$")


def _table_setting(name: str) -> str | None:
    value = _text(name)
    if value is not None:
        value = value.replace(":", ".", 1) if value.count(":") == 1 else value  # bq's project:dataset.table
        if not _TABLE_ID.match(value):
            raise ValueError(f"setting {name}={value!r} is not a table id project.dataset.table")
    return value


def _gcp_settings() -> dict:
    method = (_text("GREENOPS_BQ_METHOD") or "oauth").lower()
    if method not in _BQ_METHODS:
        raise ValueError(f"setting GREENOPS_BQ_METHOD must be one of {', '.join(_BQ_METHODS)}, not {method!r}")
    if method == "service-account" and not _text("GREENOPS_BQ_KEYFILE"):
        # dbt would fail on it, while the Python client would quietly use the default credentials
        raise ValueError("setting GREENOPS_BQ_METHOD=service-account needs GREENOPS_BQ_KEYFILE, the key file's path")
    lookback = int(number_setting("GREENOPS_GCP_BILLING_LOOKBACK_MONTHS", 2))
    if lookback < 1:
        raise ValueError("setting GREENOPS_GCP_BILLING_LOOKBACK_MONTHS must be 1 or more")
    return {
        "bq_project": _text("GREENOPS_BQ_PROJECT"),
        "bq_location": _text("GREENOPS_BQ_LOCATION") or "US",
        "bq_api_endpoint": _text("GREENOPS_BQ_API_ENDPOINT"),
        "bq_method": method,
        "bq_keyfile": _text("GREENOPS_BQ_KEYFILE"),
        "gcp_carbon_table": _table_setting("GREENOPS_GCP_CARBON_TABLE"),
        "gcp_billing_table": _table_setting("GREENOPS_GCP_BILLING_TABLE"),
        "gcp_billing_lookback_months": lookback,
    }


def dbt_env(settings: Settings | None = None) -> dict[str, str]:
    """Environment variables the dbt profile reads (profiles.yml uses env_var() only)."""
    s = settings or get_settings()
    return {
        "GREENOPS_WAREHOUSE": str(s.warehouse_path),
        "GREENOPS_DBT_TARGET": s.dbt_target,  # profiles.yml's target: every dbt command, not only Cosmos's
        "GREENOPS_MAX_POWER_GAP_S": str(s.max_power_gap_s),
        "DBT_PROFILES_DIR": str(s.dbt_profiles_dir),
    }


#: The run's dates (the names of airflow_support.dbt_vars_from_events) as the environment variables dbt
#: reads them from (macros/incremental.sql, _run_date).
RUN_DATE_NAMES = ("start_date", "end_date", "usage_start_date", "usage_end_date", "billing_start_date", "billing_end_date")
RUN_DATE_ENV = {f"GREENOPS_RUN_{name.upper()}": name for name in RUN_DATE_NAMES}


def dbt_run_env(interval: dict) -> dict[str, str]:
    """The run's dates (``airflow_support.dbt_vars_from_events``) as dbt's environment: every variable
    set, empty for a date the run does not have, so that nothing left in the worker's environment
    stands in for it.

    Environment variables, not ``--vars``: dbt parses the whole project again whenever a var changes
    (about 3 s a run), while these are read only when dbt executes (macros/incremental.sql)."""
    return {env: str(interval.get(name) or "") for env, name in RUN_DATE_ENV.items()}


def airflow_env(settings: Settings | None = None) -> dict[str, str]:
    """Environment for running Airflow from this checkout (metadata DB in a git-ignored folder)."""
    s = settings or get_settings()
    airflow_home = Path(os.environ.get("AIRFLOW_HOME", s.home / ".airflow"))
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(s.home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(s.home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        # Cosmos reports usage over the internet unless told not to; no telemetry leaves the machine.
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(s.home / "plugins"), os.environ.get("PYTHONPATH")])),
    }
