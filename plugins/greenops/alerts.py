"""Alerts after each transformation: efficiency regressions and carbon budgets in trouble.

Read from the published snapshot (never the file the refresh writes). Each alert is a small dict;
delivering them is the notifier's job (greenops.airflow_support.AlertNotifier): the log by default,
a webhook or email when configured.
"""

from __future__ import annotations

from greenops.settings import Settings

REGRESSIONS = """
    select 'efficiency_regression' as kind, deployment_id as subject, cast(date_day as string) as period,
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
