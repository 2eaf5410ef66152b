"""Alerts after each transformation: efficiency regressions, carbon budgets in trouble, stale sources.

Read from the published snapshot (never the file the refresh writes). Each alert is a small dict;
delivering them is the notifier's job (greenops.airflow_support.AlertNotifier): the log by default,
a webhook or email when configured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from greenops.settings import Settings, dbt_env, get_settings

REGRESSIONS = """
    select 'efficiency_regression' as kind, concat(deployment_id, ' ', model_id) as subject, cast(date_day as string) as period,
           concat(metric, ' ', cast(round(change_pct, 1) as string), ' % worse than its 7-day baseline (likely driver: ',
                  likely_driver, ')') as message
    from marts.efficiency_regressions
    where date_day = (select max(date_day) from marts.efficiency_regressions)
    order by change_pct desc
"""
BUDGETS = """
    select 'carbon_budget' as kind, project_id as subject, period,
           concat(status, ': ', cast(round(actual_kgco2e, 2) as string), ' kgCO2e so far, forecast ',
                  cast(round(forecast_kgco2e, 2) as string), ' against a budget of ', cast(round(budget_kgco2e, 2) as string)) as message
    from marts.carbon_budget_variance
    where status in ('at_risk', 'over_budget') and is_current_period
    order by project_id, period_type desc
"""


def collect_alerts(settings: Settings | None = None) -> list[dict]:
    """The alerts, from the published snapshot (DuckDB) or the warehouse (BigQuery)."""
    from greenops.report import read_marts

    alerts = []
    for names, rows in read_marts({"regressions": REGRESSIONS, "budgets": BUDGETS}, settings).values():
        alerts += [dict(zip(names, row)) for row in rows]
    return alerts


def format_alerts(alerts: list[dict]) -> str:
    return "\n".join(f"[{a['kind']}] {a['subject']} {a['period']}: {a['message']}" for a in alerts)


def freshness_alerts(settings: Settings | None = None, target_dir: Path | None = None) -> list[dict]:
    """`dbt source freshness` over the raw sources, as alerts: one per source at warn or error.

    The thresholds are the ones `dbt_project/models/staging/_sources.yml` sets (the data's own newest
    timestamp, not its load time). dbt writes into its own target folder (a temporary one unless
    given), so the project's manifest is left alone. A source that dbt could not check at all is an
    alert too ('runtime error'); the run itself never fails on staleness: stale sources are news for
    whoever runs the pipeline, the KPIs of the data that is there are still right.
    """
    s = settings or get_settings()
    with tempfile.TemporaryDirectory(prefix="greenops-freshness-") as tmp:
        target = Path(target_dir or tmp)
        result = subprocess.run(
            [str(Path(sys.executable).with_name("dbt")), "source", "freshness", "--quiet", "--target-path", str(target),
             "--log-path", str(target / "logs")],
            cwd=s.dbt_project_dir, env={**os.environ, **dbt_env(s)}, capture_output=True, text=True, timeout=900)
        sources = target / "sources.json"
        if not sources.exists():
            raise RuntimeError(f"dbt source freshness wrote no results (exit {result.returncode}):\n"
                               f"{(result.stdout + result.stderr)[-3000:]}")
        results = json.loads(sources.read_text())["results"]
    return [freshness_alert(r) for r in sorted(results, key=lambda r: r["unique_id"]) if r["status"] != "pass"]


def freshness_alert(r: dict) -> dict:
    """The alert of one source's result in dbt's sources.json (warn, error or runtime error)."""
    name = ".".join(r["unique_id"].split(".")[-2:])
    newest = r.get("max_loaded_at") or ""
    if r["status"] in ("warn", "error"):
        criteria = r.get("criteria") or {}
        limits = ", ".join(f"{level} after {c['count']} {c['period']}s" for level, c in
                           (("warn", criteria.get("warn_after") or {}), ("error", criteria.get("error_after") or {}))
                           if c.get("count"))
        if newest.startswith("0001-01-01"):
            # no row at all where the check looked (an empty table; on BigQuery, nothing in the last
            # 7 days' partitions, the freshness filter of _sources.yml): dbt reports year 1
            newest = ""
            message = f"{r['status']}: no data in the days the check reads ({limits})"
        else:
            message = f"{r['status']}: newest data {newest} UTC, {r['max_loaded_at_time_ago_in_s'] / 3600:.1f} h old ({limits})"
    else:
        message = f"{r['status']}: {r.get('message') or 'not checked'}"
    return {"kind": "source_freshness", "subject": name, "period": newest, "message": message}
