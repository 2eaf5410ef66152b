"""What the DAG files share: Assets, default arguments, task wrappers and the Cosmos configuration.

This is the one module of the package that imports Airflow; everything it calls is plain Python.
Nothing here touches the network, the warehouse or dbt at import time, so DAG parsing stays cheap.
"""

from __future__ import annotations

import functools
import logging
import sys
from datetime import timedelta
from pathlib import Path

from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk import Asset, BaseNotifier

from greenops.settings import RUN_DATE_ENV, WAREHOUSE_POOL, dbt_env, get_settings
from greenops.sources.common import UnreadableFileError
from greenops.sources.inventory import InventoryError

log = logging.getLogger(__name__)

# Assets: one per raw table the ingestion DAGs write. The transformation DAG is scheduled on them.
RAW_GPU_TELEMETRY = Asset("greenops://raw/gpu_telemetry_samples", group="greenops_raw")
RAW_INFERENCE_REQUESTS = Asset("greenops://raw/inference_requests", group="greenops_raw")
RAW_GRID_INTENSITY = Asset("greenops://raw/grid_intensity_hourly", group="greenops_raw")
RAW_INVENTORY = Asset("greenops://raw/inventory", group="greenops_raw")
MARTS = Asset("greenops://marts", group="greenops_marts")


def default_args() -> dict:
    s = get_settings()
    return {
        "owner": "greenops",
        "retries": s.task_retries,
        "retry_delay": timedelta(seconds=s.retry_delay_s),
        "retry_exponential_backoff": True,
    }


def warehouse_pool() -> str:
    """Tasks that write the warehouse share this pool: one slot on DuckDB (one writer per file)."""
    return WAREHOUSE_POOL


def fail_fast_on_bad_input(fn):
    """A file or inventory that cannot be read will not read better on retry: fail the task now,
    with the message naming the file, instead of retrying."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (UnreadableFileError, InventoryError) as exc:
            raise AirflowFailException(str(exc)) from exc

    return wrapper


def dbt_build_tasks(group_id: str = "dbt", interval_task_id: str | None = None):
    """The dbt project as Airflow tasks, through Cosmos.

    ``interval_task_id``: the task whose XCom holds the run's dates (settings.dbt_run_env); dbt gets them
    as environment variables, not vars, so that the project parsed by one run serves the next.

    On the embedded DuckDB warehouse (one writing process per file) the whole project runs as one
    ``dbt build`` task in one process: tests run right after their model inside dbt, and a failing
    test skips everything downstream of it. On BigQuery the project is rendered from manifest.json
    as one task per model (with its tests), in parallel. Nothing runs dbt at DAG-parse time.
    """
    from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
    from cosmos.operators.local import DbtBuildLocalOperator

    s = get_settings()
    env = dbt_env(s)
    profile = ProfileConfig(
        profile_name="greenops",
        target_name=s.dbt_target,
        profiles_yml_filepath=Path(s.dbt_profiles_dir) / "profiles.yml",
    )
    # dbt runs as a subprocess: when it exits, its hold on the DuckDB file is released with it.
    common = {"install_deps": False, "env": env, "append_env": True, "invocation_mode": InvocationMode.SUBPROCESS,
              "dbt_executable_path": str(Path(sys.executable).with_name("dbt"))}
    if interval_task_id:
        common["env"] = {**env, **{name: f"{{{{ ti.xcom_pull(task_ids='{interval_task_id}')['{name}'] }}}}" for name in RUN_DATE_ENV}}
    if s.warehouse_kind == "duckdb":
        return DbtBuildLocalOperator(
            task_id=f"{group_id}_build",
            project_dir=str(s.dbt_project_dir),
            profile_config=profile,
            pool=warehouse_pool(),
            **common,
        )
    return DbtTaskGroup(
        group_id=group_id,
        # the environment goes to the operators only: Cosmos refuses it in both places, and rendering
        # from the manifest runs no dbt
        project_config=ProjectConfig(dbt_project_path=s.dbt_project_dir, manifest_path=s.dbt_manifest),
        profile_config=profile,
        # a test that reads several models (equal_total, relationships) runs in a task of its own after
        # all of them, not after the first: it would read the others before they are rebuilt, or before
        # they exist (and its failure would skip them for good)
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH,
                                   should_detach_multiple_parents_tests=True),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.SUBPROCESS,
                                         dbt_executable_path=common["dbt_executable_path"]),
        operator_args={k: v for k, v in common.items() if k not in ("invocation_mode", "dbt_executable_path")},
    )


def record_loaded_days(outlet_events, asset: Asset, summary: dict) -> dict:
    """Attach the days a load replaced to its Asset event, so the transformation rebuilds just those."""
    days = summary.get("days") or ([summary["day"]] if "day" in summary else [])
    if outlet_events is not None and days:
        outlet_events[asset].extra = {"start_date": min(days), "end_date": max(days)}
    return summary


#: The raw tables of usage (by day); every other raw Asset is billing (by billing period).
USAGE_ASSETS = (RAW_GPU_TELEMETRY, RAW_INFERENCE_REQUESTS, RAW_GRID_INTENSITY)


def dbt_vars_from_events(triggering_asset_events) -> dict:
    """dbt vars for an incremental build: the span of days the triggering loads replaced (start_date,
    end_date: the fact and daily KPIs), and apart the days of usage loads (usage_start_date,
    usage_end_date: the models that aggregate raw samples and requests) and of billing loads
    (billing_start_date, billing_end_date: the charge models, by billing month; the span reaches back to
    the first day of the month before, whose usage a billing period can hold). A kind without
    events is left out: its models rebuild nothing (macros/incremental.sql), so a CUR reload does not
    re-aggregate a month of raw samples.

    No events (a manual or `dags test` run) or events without days mean an empty dict: rebuild all.
    """
    from datetime import date, timedelta

    usage_uris = {a.uri for a in USAGE_ASSETS}
    spans: dict[str, tuple[list[str], list[str]]] = {"usage_": ([], []), "billing_": ([], [])}
    for asset, events in (triggering_asset_events or {}).items():
        uri = str(getattr(asset, "uri", asset))
        starts, ends = spans["usage_" if uri in usage_uris else "billing_"]
        for event in events:
            extra = getattr(event, "extra", None) or {}
            if extra.get("start_date") and extra.get("end_date"):
                # anyone who may post an Asset event reaches this: only ISO dates go on into SQL
                try:
                    starts.append(date.fromisoformat(str(extra["start_date"])).isoformat())
                    ends.append(date.fromisoformat(str(extra["end_date"])).isoformat())
                except ValueError as exc:
                    raise ValueError(f"Asset event extra has a non-date interval: {extra!r}") from exc
    found = {kind: (min(starts), max(ends)) for kind, (starts, ends) in spans.items() if starts}
    if not found:
        return {}
    # the fact's days: a reloaded billing period can hold usage of the month before it (Cloud Billing
    # bills late usage in the next invoice month), whose days' costs it changes
    firsts = [s for kind, (s, _) in found.items() if kind == "usage_"]
    if "billing_" in found:
        first = date.fromisoformat(found["billing_"][0]).replace(day=1)
        firsts.append((first - timedelta(days=1)).replace(day=1).isoformat())
    result = {"start_date": min(firsts), "end_date": max(e for _, e in found.values())}
    for kind, (start, end) in found.items():
        result.update({f"{kind}start_date": start, f"{kind}end_date": end})
    return result


class AlertNotifier(BaseNotifier):
    """Delivers the alerts the `alerts` task returned, through Airflow's notifier mechanism.

    Channel by setting: GREENOPS_ALERT_WEBHOOK_CONN (an Airflow HTTP Connection id, see webhook_url:
    the URL and any token stay out of the repository and the logs) posts JSON; else the task log.
    Nothing is sent when there are no alerts. Alerts that cannot be delivered (no such connection, the
    endpoint refuses them) are written to the task log as an error with the reason: a callback cannot
    fail its task, so they are never dropped silently.
    """

    template_fields = ()

    def notify(self, context):
        import json
        import os
        import urllib.request

        from greenops.alerts import format_alerts

        alerts = context["ti"].xcom_pull(task_ids=context["ti"].task_id) or []
        if not alerts:
            log.info("no alerts")
            return
        conn_id = os.environ.get("GREENOPS_ALERT_WEBHOOK_CONN")
        if not conn_id:
            log.warning("GreenOps alerts (%d):\n%s", len(alerts), format_alerts(alerts))
            return
        try:
            from airflow.sdk import BaseHook

            url = webhook_url(BaseHook.get_connection(conn_id))
            body = json.dumps({"text": format_alerts(alerts), "alerts": alerts}).encode()
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (operator-configured URL)
                log.info("sent %d alerts to webhook connection %s (HTTP %s)", len(alerts), conn_id, response.status)
        except Exception as exc:  # noqa: BLE001 (whatever fails, the alerts go to the log)
            log.error("could not send %d GreenOps alerts to webhook connection %s (%s: %s); the alerts:\n%s",
                      len(alerts), conn_id, type(exc).__name__, exc, format_alerts(alerts))


def webhook_url(conn) -> str:
    """The URL an Airflow HTTP Connection names: its host when that is a whole URL (the UI, or JSON
    ``{"conn_type": "http", "host": "https://hooks.example.com/T/B/X"}``); else built from its parts,
    as a connection URI gives them (``http://127.0.0.1:8080/hook``: type, host, port, and the path in
    ``schema``), with ``schema`` taken as the scheme when it is http or https (the HTTP provider's
    convention) and https when nothing says."""
    host = conn.host or ""
    if "://" in host:
        return host
    if conn.schema in ("http", "https"):
        scheme, path = conn.schema, ""
    else:
        scheme, path = (conn.conn_type if conn.conn_type in ("http", "https") else "https"), conn.schema or ""
    netloc = host + (f":{conn.port}" if conn.port else "")
    return f"{scheme}://{netloc}" + (f"/{path.lstrip('/')}" if path else "")

RAW_AWS_COST_EXPLORER = Asset("greenops://raw/aws_ce_costs_daily", group="greenops_raw")
RAW_AWS_CUR = Asset("greenops://raw/aws_cur_line_items", group="greenops_raw")
RAW_AWS_CARBON = Asset("greenops://raw/aws_carbon_emissions", group="greenops_raw")
RAW_GCP_CARBON = Asset("greenops://raw/gcp_carbon_footprint", group="greenops_raw")
RAW_GCP_BILLING = Asset("greenops://raw/gcp_billing_export", group="greenops_raw")
RAW_FOCUS = Asset("greenops://raw/focus_charges", group="greenops_raw")
RAW_AZURE_USAGE_DETAILS = Asset("greenops://raw/azure_usage_details", group="greenops_raw")
RAW_AZURE_COST_DETAILS = Asset("greenops://raw/azure_cost_details", group="greenops_raw")
RAW_AZURE_FOCUS_CHARGES = Asset("greenops://raw/azure_focus_charges", group="greenops_raw")


def period_days(summary: dict) -> dict:
    """Add the days of the billing periods a load replaced (for the transformation's interval)."""
    import calendar
    from datetime import date

    days = []
    for period in summary.get("reloaded") or []:
        year, month = int(period[:4]), int(period[5:7])
        days += [date(year, month, 1).isoformat(), date(year, month, calendar.monthrange(year, month)[1]).isoformat()]
    return {**summary, "days": days}
