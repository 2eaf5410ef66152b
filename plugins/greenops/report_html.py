"""The HTML report and the monthly disclosure, from the published snapshot's `reporting` schema.

``build_report(out_dir, month=None)`` writes one self-contained HTML file: inline CSS and inline SVG
charts drawn here in Python, no script, no font or image from anywhere, so it opens offline, can be
mailed or archived, and renders the same in ten years. With ``month`` ('YYYY-MM') it is the periodic
disclosure: ``<out_dir>/<YYYY-MM>/report.html`` plus one CSV per table it shows (the data behind each
chart included), so every published number can be traced. Without it, the latest month with data
goes to ``<out_dir>/report.html``.

Every figure comes from SQL over the reporting views (the same objects BI tools read); Python only
formats values and draws. ``render_bi_files`` fills the Power BI / Tableau templates of include/bi/.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from string import Template

from greenops.settings import PROJECT_ROOT, Settings, get_settings
from greenops.warehouse.duckdb_warehouse import connect

#: The reporting views (dbt_project/models/reporting): what BI files and docs point at.
REPORTING_VIEWS = (
    "kpi_monthly_summary",
    "energy_vs_business_kpi",
    "efficiency_trend",
    "carbon_by_project_service",
    "carbon_budget_by_period",
    "daily_cost_vs_budget",
    "model_portfolio_quadrant",
    "model_criticality",
    "project_cost_budget",
)

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
STATUS_COLOURS = {"over_budget": "#D55E00", "at_risk": "#E69F00", "on_track": "#009E73", "no_budget": "#9E9E9E"}
QUADRANT_COLOURS = {"protect": "#E8F5E9", "optimize": "#FFF3E0", "maintain": "#E3F2FD", "rationalize": "#FBE9E7"}

# --- the report's tables: (file name, title, SQL). Parameters: $month (first day of the month),
# $next_month, $first_week (Monday six days before the month: weeks that overlap it).
QUERIES: dict[str, tuple[str, str]] = {
    "kpi_headline": ("Headline KPIs", """
        select k.*,
               b.projects_over_carbon_budget,
               b.projects_at_risk_of_carbon_budget
        from reporting.kpi_monthly_summary k
        left join (
            -- the month's budget and its last week's
            select count(distinct project_id) filter (where status = 'over_budget') as projects_over_carbon_budget,
                   count(distinct project_id) filter (where status = 'at_risk')     as projects_at_risk_of_carbon_budget
            from reporting.carbon_budget_by_period
            where (period_type = 'month' and period_start_date = $month)
               or (period_type = 'week' and period = (
                      select max(period) from reporting.carbon_budget_by_period
                      where period_type = 'week' and period_start_date >= $first_week and period_start_date < $next_month))
        ) b on true
        where k.month_start_date = $month"""),
    "energy_per_million_tokens_daily": ("Energy per million tokens, per model and day", """
        select date_day, model_id, is_baseline_period, total_tokens, energy_kwh,
               energy_per_million_tokens_kwh, gpu_energy_per_million_tokens_kwh,
               baseline_energy_per_million_tokens_kwh, change_vs_baseline_pct,
               energy_avoided_kwh, cost_avoided_usd, carbon_avoided_kgco2e
        from reporting.efficiency_trend
        where month_start_date = $month
        order by model_id, date_day"""),
    "carbon_budget_by_period": ("Carbon budget variance per project: the month and its ISO weeks", """
        select project_id, team, period_type, period, is_current_period, carbon_budget_kgco2e,
               carbon_location_based_kgco2e, carbon_market_based_kgco2e, budget_used_pct,
               variance_kgco2e, forecast_kgco2e, forecast_budget_used_pct, status
        from reporting.carbon_budget_by_period
        where (period_type = 'month' and period_start_date = $month)
           or (period_type = 'week' and period_start_date >= $first_week and period_start_date < $next_month)
        order by period_type, period, project_id  -- the month first, then its weeks"""),
    "carbon_by_project_service": ("Carbon by project and service", """
        select project_id, service_name, model_id, site_id,
               sum(energy_kwh)                   as energy_kwh,
               sum(carbon_location_based_kgco2e) as carbon_location_based_kgco2e,
               sum(carbon_market_based_kgco2e)   as carbon_market_based_kgco2e,
               sum(embodied_carbon_kgco2e)       as embodied_carbon_kgco2e,
               sum(cost_usd)                     as cost_usd
        from reporting.carbon_by_project_service
        where month_start_date = $month
        group by project_id, service_name, model_id, site_id
        order by project_id, service_name"""),
    "model_portfolio_quadrant": ("Model portfolio: criticality against efficiency", """
        select model_id, model_tier, criticality_score, criticality_label, criticality_source,
               total_tokens, energy_per_million_tokens_kwh, fleet_energy_per_million_tokens_kwh,
               efficiency_index, quadrant
        from reporting.model_portfolio_quadrant
        where month_start_date = $month
        order by model_id"""),
    "energy_vs_business_kpi": ("Energy score against the business KPI, per model", """
        select model_id, max(model_tier) as model_tier,
               sum(successful_inferences) as successful_inferences,
               sum(total_tokens)          as total_tokens,
               sum(energy_kwh)            as energy_kwh,
               sum(cost_usd)              as cost_usd,
               sum(energy_kwh) * 1000 / nullif(sum(successful_inferences), 0) as energy_per_1k_inferences_kwh,
               sum(cost_usd) / nullif(sum(successful_inferences), 0)          as cost_per_transaction_usd,
               sum(carbon_location_based_kgco2e) * 1e6 / nullif(sum(successful_inferences), 0) as carbon_per_1k_inferences_gco2e
        from reporting.energy_vs_business_kpi
        where month_start_date = $month
        group by model_id
        order by model_id"""),
    "daily_cost_vs_budget": ("Inference cost against the daily budget, latest day", """
        select date_day, project_id, team, is_latest_day, hours_with_data, cost_usd,
               daily_cost_budget_usd, budget_used_pct, forecast_cost_usd, variance_usd, status
        from reporting.daily_cost_vs_budget
        where date_day = (select max(date_day) from reporting.daily_cost_vs_budget where month_start_date = $month)
        order by project_id"""),
    "sites": ("Sites: PUE and grid intensity applied", """
        select site_id,
               sum(gpu_energy_kwh)                                                      as gpu_energy_kwh,
               sum(energy_kwh)                                                          as energy_kwh,
               sum(energy_kwh) / nullif(sum(gpu_energy_kwh), 0)                         as pue,
               sum(carbon_location_based_kgco2e) * 1000 / nullif(sum(energy_kwh), 0)    as location_based_gco2e_per_kwh,
               sum(carbon_market_based_kgco2e) * 1000 / nullif(sum(energy_kwh), 0)      as market_based_gco2e_per_kwh,
               sum(energy_with_hourly_intensity_kwh) * 100 / nullif(sum(energy_kwh), 0) as hourly_intensity_share_pct,
               sum(energy_with_market_factor_kwh) * 100 / nullif(sum(energy_kwh), 0)    as market_factor_share_pct,
               sum(estimated_energy_kwh) * 100 / nullif(sum(energy_kwh), 0)             as estimated_energy_share_pct
        from reporting.carbon_by_project_service
        where month_start_date = $month
        group by site_id
        order by site_id"""),
}


# duckdb 2.0.0 returns wrong sums from GROUP BY ... ORDER BY when rows are
# filtered through a join or a scalar subquery (its compressed materialization); off for our queries.
# the pinned duckdb's wrong-sum workaround, defined once with the warehouse connection
from greenops.warehouse.duckdb_warehouse import SAFE_SETTINGS as DUCKDB_WORKAROUND  # noqa: E402


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, r)) for r in self.rows]


class ReportError(RuntimeError):
    """The snapshot cannot give the report (missing file, schema or month)."""


def _month_start(month: str) -> date:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
        raise ReportError(f"month must be YYYY-MM, not {month!r}")
    return date.fromisoformat(month + "-01")


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def load_tables(snapshot: Path, month: str | None = None) -> tuple[date, dict[str, Table], dict]:
    """Run the report's queries on the snapshot for one UTC month (default: the latest with data).

    Returns (first day of the month, tables by name, facts about the data: first/last day).
    Raises ReportError when the snapshot, its reporting schema or the month is missing.
    """
    if not snapshot.exists():
        raise ReportError(f"no published snapshot at {snapshot}: run the transformation (make demo) or publish_snapshot() first")
    with connect(snapshot, read_only=True) as con:
        con.execute(DUCKDB_WORKAROUND)
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'reporting'").fetchall()}
        missing = sorted(set(REPORTING_VIEWS) - present)
        if missing:
            raise ReportError(f"{snapshot} lacks reporting.{', reporting.'.join(missing)}: run dbt build, then publish the snapshot again")
        months = [r[0] for r in con.execute(
            "select month_start_date from reporting.kpi_monthly_summary order by 1").fetchall()]
        if not months:
            raise ReportError(f"{snapshot} holds no data yet")
        start = _month_start(month) if month else months[-1]
        if start not in months:
            raise ReportError(f"no data for {start:%Y-%m} in {snapshot}; months with data: {', '.join(f'{m:%Y-%m}' for m in months)}")
        params = {"month": start, "next_month": _next_month(start),
                  "first_week": date.fromordinal(start.toordinal() - 6)}
        tables = {}
        for name, (title, sql) in QUERIES.items():
            used = {k: v for k, v in params.items() if f"${k}" in sql}
            cur = con.execute(sql, used)
            tables[name] = Table(name, title, [d[0] for d in cur.description], cur.fetchall())
        first_day, last_day = con.execute(
            "select min(date_day), max(date_day) from reporting.carbon_by_project_service where month_start_date = $month",
            {"month": start}).fetchone()
    return start, tables, {"first_day": first_day, "last_day": last_day}


def write_csvs(tables: dict[str, Table], out_dir: Path) -> list[Path]:
    """One CSV per table (header row, ISO dates, full precision); returns the paths."""
    paths = []
    for t in tables.values():
        path = out_dir / f"{t.name}.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(t.columns)
            writer.writerows(t.rows)
        paths.append(path)
    return paths


def build_report(out_dir: Path | str | None = None, month: str | None = None, settings: Settings | None = None) -> Path:
    """Write the HTML report (and, for a given month, its CSV extracts). Returns the HTML's path.

    out_dir defaults to <GREENOPS_HOME>/reports. month 'YYYY-MM' (UTC calendar month) writes
    <out_dir>/<YYYY-MM>/report.html and one CSV per table; without it the latest month with data is
    written to <out_dir>/report.html, without CSVs.
    """
    s = settings or get_settings()
    out = Path(out_dir) if out_dir else s.home / "reports"
    start, tables, facts = load_tables(s.published_path, month)
    target_dir = out / f"{start:%Y-%m}" if month else out
    target_dir.mkdir(parents=True, exist_ok=True)
    csv_names = []
    if month:
        csv_names = [p.name for p in write_csvs(tables, target_dir)]
    path = target_dir / "report.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(start, tables, facts, s.published_path, csv_names), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a report
    return path


# --- formatting ---------------------------------------------------------------------------------

def fmt(value, column: str = "") -> str:
    """A value for people: units from the column name decide the precision."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        a = abs(value)
        if column.endswith("_pct"):
            return f"{value:,.1f}"
        if column.endswith("_usd"):
            return f"{value:,.4f}" if 0 < a < 1 else f"{value:,.2f}"
        if a >= 1000:
            return f"{value:,.0f}"
        if a >= 100:
            return f"{value:,.1f}"
        if a >= 1 or a == 0:
            return f"{value:,.2f}" if not column.endswith(("_kwh", "_kgco2e")) else f"{value:,.3f}"
        return f"{value:.3g}"
    return str(value)


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least `top`."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(math.ceil(top / step)) + 1)]


def _svg(width: int, height: int, body: list[str], label: str, chart: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-label="{_e(label)}" data-chart="{chart}" class="chart">' + "".join(body) + "</svg>")


def _colours(keys) -> dict:
    return {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(sorted(keys))}


# --- charts -------------------------------------------------------------------------------------

def chart_energy_trend(t: Table) -> str:
    """Lines of facility kWh per million tokens per model over the days; dashed: each baseline."""
    rows = [r for r in t.dicts() if r["energy_per_million_tokens_kwh"] is not None]
    if not rows:
        return '<p class="empty">No tokens served in this month.</p>'
    days = sorted({r["date_day"] for r in rows})
    models = sorted({r["model_id"] for r in rows})
    colour = _colours(models)
    top = max(max(r["energy_per_million_tokens_kwh"] for r in rows),
              max(r["baseline_energy_per_million_tokens_kwh"] or 0 for r in rows))
    ticks = _nice_ticks(top * 1.05)
    w, h, left, right, top_m, bottom = 960, 340, 60, 250, 20, 40
    pw, ph = w - left - right, h - top_m - bottom

    def x(d):
        return left + (pw * days.index(d) / max(len(days) - 1, 1))

    def y(v):
        return top_m + ph - ph * v / ticks[-1]

    body = []
    for tv in ticks:
        body.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(tv):.1f}" y2="{y(tv):.1f}" class="grid"/>'
                    f'<text x="{left - 6}" y="{y(tv) + 4:.1f}" class="tick" text-anchor="end">{fmt(float(tv))}</text>')
    label_every = max(1, len(days) // 10)
    for i, d in enumerate(days):
        if i % label_every == 0:
            body.append(f'<text x="{x(d):.1f}" y="{h - bottom + 18}" class="tick" text-anchor="middle">{d:%d %b}</text>')
    body.append(f'<text x="14" y="{top_m + ph / 2}" class="axis" transform="rotate(-90 14 {top_m + ph / 2})" '
                'text-anchor="middle">facility kWh per million tokens</text>')
    for i, m in enumerate(models):
        pts = [r for r in rows if r["model_id"] == m]
        d_attr = " ".join(f'{"M" if j == 0 else "L"}{x(r["date_day"]):.1f},{y(r["energy_per_million_tokens_kwh"]):.1f}'
                          for j, r in enumerate(pts))
        body.append(f'<path d="{d_attr}" fill="none" stroke="{colour[m]}" stroke-width="2.5" class="series" '
                    f'data-series="{_e(m)}" data-points="{len(pts)}"/>')
        base = pts[0]["baseline_energy_per_million_tokens_kwh"]
        if base is not None:
            body.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(base):.1f}" y2="{y(base):.1f}" stroke="{colour[m]}" '
                        f'stroke-dasharray="5 4" stroke-width="1.2" class="baseline" data-baseline-model="{_e(m)}" data-value="{base}"/>')
        for r in pts:
            v = r["energy_per_million_tokens_kwh"]
            body.append(f'<circle cx="{x(r["date_day"]):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour[m]}" class="point" '
                        f'data-model="{_e(m)}" data-date="{r["date_day"]}" data-value="{v}">'
                        f'<title>{_e(m)} {r["date_day"]}: {fmt(v)} kWh per million tokens</title></circle>')
        ly = top_m + 14 + i * 22
        body.append(f'<line x1="{w - right + 16}" x2="{w - right + 40}" y1="{ly}" y2="{ly}" stroke="{colour[m]}" stroke-width="3"/>'
                    f'<text x="{w - right + 46}" y="{ly + 4}" class="legend">{_e(m)}</text>')
    ly = top_m + 14 + len(models) * 22
    body.append(f'<line x1="{w - right + 16}" x2="{w - right + 40}" y1="{ly}" y2="{ly}" stroke="#555" stroke-dasharray="5 4"/>'
                f'<text x="{w - right + 46}" y="{ly + 4}" class="legend">baseline (first days)</text>')
    return _svg(w, h, body, "Facility energy per million tokens per model and day", "energy-trend")


def chart_budget_variance(t: Table) -> str:
    """One bar per project and period (the month, then its weeks): share of the carbon budget used and
    the current period's forecast."""
    rows = t.dicts()
    if not rows:
        return '<p class="empty">No carbon budget weeks in this month.</p>'
    w, left, right, bar_h, gap, top_m = 900, 230, 120, 22, 12, 30
    h = top_m + len(rows) * (bar_h + gap) + 30
    values = [v for r in rows for v in (r["budget_used_pct"], r["forecast_budget_used_pct"]) if v is not None]
    scale_top = max([150.0] + values) * 1.05
    pw = w - left - right

    def x(pct):
        return left + pw * pct / scale_top

    body = []
    for tv in _nice_ticks(scale_top, 6):
        if tv <= scale_top:
            body.append(f'<line x1="{x(tv):.1f}" x2="{x(tv):.1f}" y1="{top_m - 6}" y2="{h - 26}" class="grid"/>'
                        f'<text x="{x(tv):.1f}" y="{top_m - 10}" class="tick" text-anchor="middle">{tv:.0f} %</text>')
    body.append(f'<line x1="{x(100):.1f}" x2="{x(100):.1f}" y1="{top_m - 6}" y2="{h - 26}" stroke="#333" stroke-width="1.5"/>')
    for i, r in enumerate(rows):
        y0 = top_m + i * (bar_h + gap)
        label = f'{r["project_id"]} · {r["period"]}{" (current)" if r["is_current_period"] else ""}'
        body.append(f'<text x="{left - 8}" y="{y0 + bar_h * 0.7:.1f}" class="label" text-anchor="end">{_e(label)}</text>')
        status = r["status"]
        if r["budget_used_pct"] is None:
            body.append(f'<rect x="{left}" y="{y0}" width="{pw}" height="{bar_h}" fill="none" stroke="#bbb" stroke-dasharray="3 3" '
                        f'class="bar" data-project="{_e(r["project_id"])}" data-period="{r["period"]}" data-status="{status}" data-value=""/>'
                        f'<text x="{left + 8}" y="{y0 + bar_h * 0.7:.1f}" class="note">no budget · '
                        f'{fmt(r["carbon_location_based_kgco2e"], "_kgco2e")} kgCO2e</text>')
            continue
        used = r["budget_used_pct"]
        body.append(f'<rect x="{left}" y="{y0}" width="{max(x(used) - left, 1):.1f}" height="{bar_h}" fill="{STATUS_COLOURS[status]}" '
                    f'class="bar" data-project="{_e(r["project_id"])}" data-period="{r["period"]}" data-status="{status}" '
                    f'data-value="{used}"><title>{_e(label)}: {fmt(r["carbon_location_based_kgco2e"], "_kgco2e")} of '
                    f'{fmt(r["carbon_budget_kgco2e"], "_kgco2e")} kgCO2e ({fmt(used, "_pct")} %)</title></rect>')
        fc = r["forecast_budget_used_pct"]
        if r["is_current_period"] and fc is not None and fc > used:
            body.append(f'<rect x="{x(used):.1f}" y="{y0 + 4}" width="{x(fc) - x(used):.1f}" height="{bar_h - 8}" fill="none" '
                        f'stroke="{STATUS_COLOURS[status]}" stroke-dasharray="4 2" class="forecast" data-project="{_e(r["project_id"])}" '
                        f'data-value="{fc}"/>')
        body.append(f'<text x="{x(max(used, fc or 0)) + 6:.1f}" y="{y0 + bar_h * 0.7:.1f}" class="note">{fmt(used, "_pct")} % · '
                    f'{status.replace("_", " ")}</text>')
    body.append(f'<text x="{left}" y="{h - 6}" class="axis">share of the budget used (location-based carbon); '
                'dashed: forecast to the period\'s end; line: 100 %</text>')
    return _svg(w, h, body, "Carbon budget used per project and week", "budget-variance")


def _heat(value: float, top: float) -> str:
    """White to dark orange (sequential), by value / top."""
    f = 0 if top <= 0 else max(0.0, min(1.0, value / top)) ** 0.7
    lo, hi = (255, 245, 235), (166, 54, 3)
    return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(lo, hi))


def chart_heatmap(t: Table) -> str:
    """Projects (rows) x services (columns), cells = location-based kgCO2e of the month."""
    rows = t.dicts()
    if not rows:
        return '<p class="empty">No carbon in this month.</p>'
    projects = sorted({r["project_id"] for r in rows})
    services = sorted({r["service_name"] for r in rows})
    cells = {(r["project_id"], r["service_name"]): r for r in rows}
    top = max(r["carbon_location_based_kgco2e"] for r in rows)
    cw, ch, left, top_m = 130, 46, 130, 110
    w, h = left + cw * len(services) + 140, top_m + ch * len(projects) + 40  # room for the slanted labels
    body = []
    for j, svc in enumerate(services):
        cx = left + j * cw + cw / 2
        body.append(f'<text x="{cx:.1f}" y="{top_m - 10}" class="label" text-anchor="start" '
                    f'transform="rotate(-30 {cx:.1f} {top_m - 10})">{_e(svc)}</text>')
    for i, p in enumerate(projects):
        y0 = top_m + i * ch
        body.append(f'<text x="{left - 8}" y="{y0 + ch / 2 + 4:.1f}" class="label" text-anchor="end">{_e(p)}</text>')
        for j, svc in enumerate(services):
            x0 = left + j * cw
            r = cells.get((p, svc))
            if r is None:
                body.append(f'<rect x="{x0 + 1}" y="{y0 + 1}" width="{cw - 2}" height="{ch - 2}" fill="#f4f4f4" class="cell-empty"/>')
                continue
            v = r["carbon_location_based_kgco2e"]
            fill = _heat(v, top)
            ink = "#fff" if v > top * 0.45 else "#222"
            body.append(f'<rect x="{x0 + 1}" y="{y0 + 1}" width="{cw - 2}" height="{ch - 2}" fill="{fill}" class="cell" '
                        f'data-project="{_e(p)}" data-service="{_e(svc)}" data-value="{v}">'
                        f'<title>{_e(p)} on {_e(svc)} ({_e(r["model_id"])}): {fmt(v, "_kgco2e")} kgCO2e location-based, '
                        f'{fmt(r["carbon_market_based_kgco2e"], "_kgco2e")} market-based</title></rect>'
                        f'<text x="{x0 + cw / 2:.1f}" y="{y0 + ch / 2 + 4:.1f}" text-anchor="middle" class="cellv" fill="{ink}">'
                        f'{fmt(v, "_kgco2e")}</text>')
    body.append(f'<text x="{left}" y="{h - 10}" class="axis">kgCO2e, location-based, in the month; '
                'service = the serving deployment</text>')
    return _svg(w, h, body, "Carbon by project and service", "heatmap")


def chart_quadrant(t: Table) -> str:
    """Criticality (x, 1-5) against efficiency index (y, log scale, 1 = the fleet); bubble = tokens."""
    rows = [r for r in t.dicts() if r["efficiency_index"]]
    if not rows:
        return '<p class="empty">No model served tokens in this month.</p>'
    w, h, left, right, top_m, bottom = 900, 420, 70, 30, 20, 50
    pw, ph = w - left - right, h - top_m - bottom
    span = max(2.0, max(abs(math.log2(r["efficiency_index"])) for r in rows) * 1.3)

    def x(score):
        return left + pw * (score - 0.5) / 5

    def y(idx):
        return top_m + ph / 2 - (ph / 2) * math.log2(idx) / span

    body = []
    mid_x, mid_y = x(2.5), y(1.0)  # criticality >= 3 is high; efficiency index >= 1 is efficient
    for name, (qx, qy, qw, qh) in {
        "maintain": (left, top_m, mid_x - left, mid_y - top_m),
        "protect": (mid_x, top_m, left + pw - mid_x, mid_y - top_m),
        "rationalize": (left, mid_y, mid_x - left, top_m + ph - mid_y),
        "optimize": (mid_x, mid_y, left + pw - mid_x, top_m + ph - mid_y),
    }.items():
        body.append(f'<rect x="{qx:.1f}" y="{qy:.1f}" width="{qw:.1f}" height="{qh:.1f}" fill="{QUADRANT_COLOURS[name]}" class="quadrant" data-quadrant="{name}"/>'
                    f'<text x="{qx + qw - 10:.1f}" y="{qy + 22:.1f}" text-anchor="end" class="qlabel">{name}</text>')
    for s in range(1, 6):
        body.append(f'<text x="{x(s):.1f}" y="{top_m + ph + 18}" class="tick" text-anchor="middle">{s}</text>')
    for k in range(-int(span), int(span) + 1):
        v = 2.0 ** k
        label = f"{v:g}×"
        body.append(f'<line x1="{left}" x2="{left + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" class="grid"/>'
                    f'<text x="{left - 6}" y="{y(v) + 4:.1f}" class="tick" text-anchor="end">{label}</text>')
    body.append(f'<text x="{left + pw / 2}" y="{h - 8}" class="axis" text-anchor="middle">business criticality '
                '(1 experimental … 5 business-critical)</text>'
                f'<text x="16" y="{top_m + ph / 2}" class="axis" transform="rotate(-90 16 {top_m + ph / 2})" text-anchor="middle">'
                'efficiency vs fleet (higher is better)</text>')
    top_tokens = max(r["total_tokens"] or 0 for r in rows) or 1
    colour = _colours(r["model_id"] for r in rows)
    placed: dict[int, int] = {}
    for r in sorted(rows, key=lambda r: r["model_id"]):
        score = r["criticality_score"]
        n = placed.get(score, 0)
        placed[score] = n + 1
        cx = x(score) + (n % 2 * 2 - 1) * (n > 0) * 14 * ((n + 1) // 2)  # spread models sharing a score
        cy = y(r["efficiency_index"])
        radius = 8 + 22 * math.sqrt((r["total_tokens"] or 0) / top_tokens)
        m = r["model_id"]
        body.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}" fill="{colour[m]}" fill-opacity="0.75" stroke="#333" '
                    f'class="bubble" data-model="{_e(m)}" data-quadrant="{r["quadrant"]}" data-criticality="{score}" '
                    f'data-value="{r["efficiency_index"]}"><title>{_e(m)}: criticality {score} ({_e(r["criticality_label"])}, '
                    f'{r["criticality_source"]}), {fmt(r["energy_per_million_tokens_kwh"], "_kwh")} kWh per million tokens, '
                    f'{fmt(r["efficiency_index"])}× the fleet\'s efficiency</title></circle>'
                    f'<text x="{cx:.1f}" y="{cy - radius - 5:.1f}" text-anchor="middle" class="label">{_e(m)}</text>')
    return _svg(w, h, body, "Model portfolio: criticality against efficiency", "quadrant")


# --- the page -----------------------------------------------------------------------------------

def html_table(t: Table, csv_names: list[str], open_: bool = False) -> str:
    """The table behind a chart, folded (open_ for sections that are the table)."""
    head = "".join(f"<th>{_e(c)}</th>" for c in t.columns)
    body = "".join("<tr>" + "".join(
        f'<td class="{"num" if isinstance(v, (int, float)) and not isinstance(v, bool) else ""}">{_e(fmt(v, c))}</td>'
        for c, v in zip(t.columns, r)) + "</tr>" for r in t.rows)
    csv_note = f' · CSV: <code>{t.name}.csv</code>' if f"{t.name}.csv" in csv_names else ""
    return (f'<details{" open" if open_ else ""}><summary>Data: {_e(t.title)} ({len(t.rows)} rows{csv_note})</summary>'
            f'<div class="scroll"><table data-table="{t.name}" data-rows="{len(t.rows)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div></details>")


def _cards(k: dict) -> str:
    def card(label, value, unit, note=""):
        return (f'<div class="card" data-kpi="{_e(label)}"><div class="kpi-label">{_e(label)}</div>'
                f'<div class="kpi-value">{_e(value)} <span class="unit">{_e(unit)}</span></div>'
                f'<div class="kpi-note">{_e(note)}</div></div>')

    energy = k["energy_kwh"] or 0.0
    waste = ((k["idle_energy_kwh"] or 0) + (k["unallocated_energy_kwh"] or 0)) * 100 / energy if energy else None
    budget_note = f'{k["projects_at_risk_of_carbon_budget"] or 0} at risk (the month or its last week)'
    return '<div class="cards">' + "".join([
        card("Facility energy", fmt(energy, "_kwh"), "kWh", f'GPU {fmt(k["gpu_energy_kwh"], "_kwh")} kWh × PUE'),
        card("Carbon, location-based", fmt(k["carbon_location_based_kgco2e"], "_kgco2e"), "kgCO2e",
             f'market-based {fmt(k["carbon_market_based_kgco2e"], "_kgco2e")} · embodied {fmt(k["embodied_carbon_kgco2e"], "_kgco2e")}'),
        card("Inference cost", fmt(k["cost_usd"], "_usd"), "USD", "hardware amortization + electricity + cloud"),
        card("Tokens served", fmt(k["total_tokens"]), "", f'{fmt(k["successful_inferences"])} successful inferences'),
        card("Energy per million tokens", fmt(k["energy_per_million_tokens_kwh"], "_kwh"), "kWh", "facility energy, idle included"),
        card("Carbon per 1k inferences", fmt(k["carbon_per_1k_inferences_gco2e"]), "gCO2e", "location-based"),
        card("Cost per transaction", fmt(k["cost_per_transaction_usd"], "_usd"), "USD", "per successful inference"),
        card("Cost avoided vs baseline", fmt(k["cost_avoided_usd"], "_usd"), "USD",
             f'{fmt(k["energy_avoided_kwh"], "_kwh")} kWh, {fmt(k["carbon_avoided_kgco2e"], "_kgco2e")} kgCO2e'),
        card("Projects over carbon budget", fmt(k["projects_over_carbon_budget"] or 0), "", budget_note),
        card("Idle and unallocated energy", fmt(waste, "_pct"), "%", "of facility energy"),
    ]) + "</div>"


METHODOLOGY_HTML = """
<h2 id="methodology">Methodology</h2>
<p>Every formula lives in one dbt model and is pinned by a dbt unit test; docs/methodology.md in the
repository has the full text and docs/analysts.md the reporting views. Units are part of every column name.</p>
<dl>
<dt>GPU energy: measured on premises, estimated in the cloud</dt>
<dd>On premises, from the GPU's energy counter where it has one (dcgm, NVML: exact, across gaps), else
the trapezoid rule over power samples, (P<sub>prev</sub> + P) / 2 × seconds, for gaps up to 120 s; longer
gaps are reported, not guessed. Cloud deployments without our telemetry are <em>estimated</em> with the
Cloud Carbon Footprint power model: GPU-hours from the billing export × (idle W + 50 % × (board W − idle W));
an hour in which the deployment served no request, on a day it served some, at idle W, and counted idle.
The <em>Sites</em> table shows how much energy was estimated.</dd>
<dt>Attribution</dt>
<dd>A GPU belongs to the deployment whose inventory entry lists it. A deployment-hour's energy is split
across the projects that sent requests by weighted tokens (completion tokens + 0.2 × uncached prompt
tokens); hours without requests are idle energy of the owning project; GPUs no deployment lists stay
visible as project <code>unallocated</code>, so totals equal what was measured. A service is the
deployment that served the requests.</dd>
<dt>Facility energy and PUE</dt>
<dd>Facility energy = GPU energy × PUE: the site's PUE from the fleet inventory on premises, the provider's
published PUE in the cloud (Cloud Carbon Footprint constants). Every "energy" figure in this report is
facility energy; the <em>Sites</em> table shows the PUE applied.</dd>
<dt>Carbon: location-based and market-based</dt>
<dd><strong>Location-based</strong> = facility kWh × the average intensity of the grid the site draws from,
for the hour: the hourly intensity feed where there is one, else the zone's yearly average (Electricity
Maps 2021-2025 yearly zone averages via The Green Web Foundation's CO2.js, ODbL); cloud regions use the
region's factor (Cloud Carbon Footprint coefficients). Budgets use location-based carbon.
<strong>Market-based</strong> (GHG Protocol Scope 2) = facility kWh × the supplier or contract factor where
the feed gives one, else it falls back to location-based. The <em>Sites</em> table shows the intensities
applied and the share of energy with an hourly intensity and with a market factor. Embodied carbon (SCI's M)
amortizes GPU manufacturing emissions over the GPU's life per GPU-hour.</dd>
<dt>Cost</dt>
<dd>One cost model in FOCUS column names: on premises GPU hardware amortization (purchase price over its
lifetime) + electricity (facility kWh × the zone's price); in the cloud the billing export's effective cost
attributed to the deployment by tag or resource. Stated assumptions live in the seeds, to be edited per fleet.</dd>
<dt>KPIs</dt>
<dd>Energy per million tokens = kWh × 10<sup>6</sup> / (prompt + completion tokens), idle hours included.
Carbon per 1k inferences = gCO2e × 1000 / successful inferences. Cost per transaction = cost / successful
inferences. Ratios over a period divide sums, never average daily ratios.</dd>
<dt>Budgets</dt>
<dd>Weekly and monthly carbon budgets per project (with per-period overrides) come from the fleet inventory;
the current period is forecast straight-line from the hours elapsed. Daily cost budgets come from the
reference view <code>reporting.project_cost_budget</code>; "today" is the last UTC day with data. A project
without a budget is reported as no budget, never as zero.</dd>
<dt>Cost avoided</dt>
<dd>Baseline = each model's first N days with tokens (dbt var <code>efficiency_baseline_days</code>, default 7:
a whole week of weekday and weekend load), its kWh per million tokens over them, fixed afterwards. After the
baseline, energy avoided = (baseline − current kWh per token) × tokens; cost avoided = energy avoided × the
day's electricity price; carbon avoided = energy avoided × the day's intensity. Negative = spent above baseline.</dd>
<dt>Portfolio quadrant</dt>
<dd>Criticality 1-5 from the reference view <code>reporting.model_criticality</code> (3 and above is high);
efficiency index = the month's fleet kWh per million tokens / the model's (1 and above is efficient):
protect, optimize, maintain or rationalize.</dd>
</dl>
"""

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1f2933;margin:0;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:24px 32px 48px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 6px;border-bottom:1px solid #e4e7eb;padding-bottom:4px}
.sub{color:#616e7c;margin:0 0 18px}.lead{color:#3e4c59;margin:4px 0 10px;max-width:900px}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:10px}
.card{border:1px solid #e4e7eb;border-radius:8px;padding:10px 12px;background:#f8fbf8}
.kpi-label{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.03em}
.kpi-value{font-size:22px;font-weight:600;margin:2px 0}.unit{font-size:13px;font-weight:400;color:#616e7c}
.kpi-note{font-size:12px;color:#7b8794}
svg.chart{max-width:100%;height:auto;display:block;margin:6px 0}
.grid{stroke:#e4e7eb;stroke-width:1}.tick{font-size:11px;fill:#616e7c}.axis{font-size:12px;fill:#3e4c59}
.legend,.label{font-size:12px;fill:#1f2933}.note{font-size:11px;fill:#3e4c59}.cellv{font-size:12px;font-weight:600}
.qlabel{font-size:13px;font-weight:600;fill:#7b8794;text-transform:uppercase}
details{margin:6px 0 0}summary{cursor:pointer;color:#2f6f4f}.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:12px;margin:6px 0}th,td{border-bottom:1px solid #e4e7eb;padding:3px 8px;text-align:left;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f5f7fa}
.status{display:inline-block;padding:1px 7px;border-radius:10px;color:#fff;font-size:12px}
dl dt{font-weight:600;margin-top:10px}dl dd{margin:2px 0 0 0;max-width:950px}
.empty{color:#7b8794;font-style:italic}footer{color:#7b8794;font-size:12px;margin-top:30px}
"""


def _status_table(t: Table) -> str:
    """Today's cost against budget: a compact table with status badges."""
    if not t.rows:
        return '<p class="empty">No cost in this month.</p>'
    rows = t.dicts()
    head = "<tr><th>project</th><th>cost_usd</th><th>daily_cost_budget_usd</th><th>budget_used_pct</th><th>forecast_cost_usd</th><th>status</th></tr>"
    body = "".join(
        f'<tr data-project="{_e(r["project_id"])}" data-status="{r["status"]}"><td>{_e(r["project_id"])}</td>'
        f'<td class="num">{fmt(r["cost_usd"], "_usd")}</td><td class="num">{fmt(r["daily_cost_budget_usd"], "_usd")}</td>'
        f'<td class="num">{fmt(r["budget_used_pct"], "_pct")}</td><td class="num">{fmt(r["forecast_cost_usd"], "_usd")}</td>'
        f'<td><span class="status" style="background:{STATUS_COLOURS[r["status"]]}">{r["status"].replace("_", " ")}</span></td></tr>'
        for r in rows)
    day = rows[0]
    when = (f'{day["date_day"]} (today: {day["hours_with_data"]} h of data, forecast to 24 h)'
            if day["is_latest_day"] else f'{day["date_day"]} (the last day of the month)')
    return f'<p class="lead">Day: {_e(when)}.</p><table class="status-table">{head}{body}</table>'


def render_html(start: date, tables: dict[str, Table], facts: dict, snapshot: Path, csv_names: list[str]) -> str:
    """The whole page as one string (no external resource of any kind)."""
    kpi_rows = tables["kpi_headline"].dicts()
    k = kpi_rows[0] if kpi_rows else {}
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    month_label = f"{start:%B %Y}"
    sections = [
        ("energy", "Energy per million tokens over time",
         "Facility kWh per million tokens served, per model and UTC day, against each model's baseline (dashed). "
         "Lower is better; idle hours count, so quiet days look worse.",
         chart_energy_trend(tables["energy_per_million_tokens_daily"]), ["energy_per_million_tokens_daily"]),
        ("budget", "Carbon budget variance",
         "Location-based carbon of each project against its monthly and weekly budgets, with the straight-line forecast "
         "of the current period.",
         chart_budget_variance(tables["carbon_budget_by_period"]), ["carbon_budget_by_period"]),
        ("heatmap", "Carbon by project and service",
         "Where the month's carbon comes from: projects against the deployments (services) that served them.",
         chart_heatmap(tables["carbon_by_project_service"]), ["carbon_by_project_service"]),
        ("quadrant", "Model portfolio quadrant",
         "Business criticality (reference view model_criticality) against energy efficiency relative to the fleet; "
         "bubble area follows tokens served.",
         chart_quadrant(tables["model_portfolio_quadrant"]), ["model_portfolio_quadrant"]),
        ("business", "Energy score against the business KPI",
         "Per model over the month: facility kWh per 1,000 successful inferences next to cost per transaction, with the volume.",
         "", ["energy_vs_business_kpi"]),
        ("cost", "Inference cost against the daily budget",
         "Each project's inference cost of the latest day against its daily cost budget (reference view project_cost_budget).",
         _status_table(tables["daily_cost_vs_budget"]), ["daily_cost_vs_budget"]),
        ("sites", "Sites: PUE and grid intensity applied",
         "The PUE and the energy-weighted grid intensities behind the month's figures, and how much energy had an hourly "
         "intensity or a market-based factor, and how much was estimated (cloud power model).", "", ["sites"]),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>GreenOps report {start:%Y-%m}</title><style>{CSS}</style></head><body><main>",
        f"<h1>GreenOps: AI inference energy, carbon and cost — {_e(month_label)}</h1>",
        f'<p class="sub">UTC calendar month; data from {_e(facts["first_day"])} to {_e(facts["last_day"])} '
        f'({k.get("days_with_data", 0)} days). Source: published snapshot <code>{_e(snapshot.name)}</code>, '
        f"schema <code>reporting</code>. Generated {generated}.</p>",
        _cards(k) if k else '<p class="empty">No data.</p>',
        html_table(tables["kpi_headline"], csv_names),
    ]
    for anchor, title, lead, chart, names in sections:
        parts.append(f'<section id="{anchor}"><h2>{_e(title)}</h2><p class="lead">{_e(lead)}</p>{chart}')
        parts.extend(html_table(tables[n], csv_names, open_=not chart) for n in names)
        parts.append("</section>")
    parts.append(METHODOLOGY_HTML)
    if csv_names:
        parts.append(f'<p class="lead">CSV extracts beside this file: {", ".join(f"<code>{_e(n)}</code>" for n in csv_names)}.</p>')
    parts.append("<footer>GreenOps · figures from dbt models in the reporting schema; formulas in docs/methodology.md "
                 "and docs/analysts.md of the repository.</footer></main></body></html>")
    return "\n".join(parts)


# --- BI connection files ------------------------------------------------------------------------

BI_TEMPLATE_DIR = PROJECT_ROOT / "include" / "bi"
_BQ_PROJECT = re.compile(r"^(?:[a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")  # optional domain: prefix
_BQ_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")


def render_bi_files(project: str, dataset: str = "reporting", out_dir: Path | str = ".", template_dir: Path | None = None) -> list[Path]:
    """Fill the include/bi templates for a BigQuery project and dataset; returns the files written.

    Placeholders: ${GREENOPS_BQ_PROJECT}, ${GREENOPS_BQ_DATASET}, and in the Tableau template
    ${GREENOPS_REPORTING_VIEW} (one .tds per reporting view: a Tableau data source is one table).
    Project and dataset are checked against BigQuery's naming rules first (they land in JSON and XML).
    """
    if not _BQ_PROJECT.match(project or ""):
        raise ValueError(f"not a BigQuery project id: {project!r}")
    if not _BQ_DATASET.match(dataset or ""):
        raise ValueError(f"not a BigQuery dataset name: {dataset!r}")
    src = Path(template_dir) if template_dir else BI_TEMPLATE_DIR
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    values = {"GREENOPS_BQ_PROJECT": project, "GREENOPS_BQ_DATASET": dataset}
    written = []
    for template in sorted(src.glob("greenops_reporting.*")):
        text = Template(template.read_text(encoding="utf-8"))
        if template.suffix == ".tds":
            for view in REPORTING_VIEWS:
                path = out / f"greenops_{view}.tds"
                path.write_text(text.substitute(values, GREENOPS_REPORTING_VIEW=view), encoding="utf-8")
                written.append(path)
        else:
            path = out / template.name
            rendered = text.substitute(values)
            if template.suffix == ".pbids":
                json.loads(rendered)  # a broken template fails here, not in Power BI
            path.write_text(rendered, encoding="utf-8")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    """``python -m greenops.report_html bi-files --project P [--dataset reporting] [--out DIR]``."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m greenops.report_html")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("bi-files", help="write the Power BI and Tableau connection files for BigQuery")
    p.add_argument("--project", default=os.environ.get("GREENOPS_BQ_PROJECT"), help="default: $GREENOPS_BQ_PROJECT")
    p.add_argument("--dataset", default="reporting", help="the reporting dataset (default: reporting)")
    p.add_argument("--out", type=Path, default=Path("bi"))
    args = parser.parse_args(argv)
    if not args.project:
        parser.error("--project is required (or set GREENOPS_BQ_PROJECT)")
    for path in render_bi_files(args.project, args.dataset, args.out):
        print(path)


if __name__ == "__main__":
    main()
