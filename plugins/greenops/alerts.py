"""Alerts after each transformation: efficiency regressions and carbon budgets in trouble.

Read from the published snapshot (never the file the refresh writes). Each alert is a small dict;
delivering them is the notifier's job (greenops.airflow_support.AlertNotifier): the log by default,
a webhook or email when configured.
"""

from __future__ import annotations

from greenops.settings import Settings, get_settings
from greenops.warehouse.duckdb_warehouse import connect

REGRESSIONS = """
    select 'efficiency_regression' as kind, deployment_id as subject, cast(date_day as varchar) as period,
           metric || ' ' || round(change_pct, 1) || ' % worse than its 7-day baseline (likely driver: '
           || likely_driver || ')' as message
    from marts.efficiency_regressions
    where date_day = (select max(date_day) from marts.efficiency_regressions)
    order by change_pct desc
"""
BUDGETS = """
    select 'carbon_budget' as kind, project_id as subject, period,
           status || ': ' || round(actual_kgco2e, 2) || ' kgCO2e so far, forecast ' || round(forecast_kgco2e, 2)
           || ' against a budget of ' || round(budget_kgco2e, 2) as message
    from marts.carbon_budget_variance
    where status in ('at_risk', 'over_budget') and is_current_period
    order by project_id, period_type desc
"""


def collect_alerts(settings: Settings | None = None) -> list[dict]:
    s = settings or get_settings()
    path = s.published_path if s.published_path.exists() else s.warehouse_path
    alerts = []
    with connect(path, read_only=True) as con:
        for sql in (REGRESSIONS, BUDGETS):
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            alerts += [dict(zip(names, row)) for row in cur.fetchall()]
    return alerts


def format_alerts(alerts: list[dict]) -> str:
    return "\n".join(f"[{a['kind']}] {a['subject']} {a['period']}: {a['message']}" for a in alerts)
