"""The KPI summary printed by `make demo` and logged by the transformation DAG.

Reads the marts only (read-only connection); every figure is a sum over the KPI tables' own
numerators and denominators, so the summary and the marts cannot disagree.
"""

from __future__ import annotations

import logging

from greenops.settings import Settings, get_settings
from greenops.warehouse.duckdb_warehouse import connect

log = logging.getLogger(__name__)

QUERIES = {
    "Energy per million tokens, by model (whole period)": """
        select model_id as model,
               sum(total_tokens) as tokens,
               round(sum(gpu_energy_kwh), 3) as gpu_kwh,
               round(sum(gpu_energy_kwh) * 1e6 / nullif(sum(total_tokens), 0), 4) as gpu_kwh_per_m_tokens,
               round(sum(facility_energy_kwh) * 1e6 / nullif(sum(total_tokens), 0), 4) as facility_kwh_per_m_tokens
        from marts.energy_per_million_tokens group by 1 order by 1""",
    "Carbon per 1k requests, by model (location-based, whole period)": """
        select model_id as model,
               sum(requests) as requests,
               round(sum(carbon_kgco2e_location), 3) as carbon_kgco2e,
               round(sum(carbon_kgco2e_location) * 1e6 / nullif(sum(requests), 0), 2) as gco2e_per_1k_requests,
               round(sum(carbon_kgco2e_location) * 1e3 / nullif(sum(successful_requests), 0), 3) as gco2e_per_inference
        from marts.carbon_per_inference group by 1 order by 1""",
    "Carbon budget variance, by project, ISO week and month": """
        select project_id as project, period, round(budget_kgco2e, 1) as budget_kg,
               round(actual_kgco2e, 2) as actual_kg, round(variance_pct, 1) as variance_pct,
               round(forecast_kgco2e, 2) as forecast_kg, status
        from marts.carbon_budget_variance where project_id <> 'unallocated'
        order by period_type desc, period, project_id""",
}


def read_marts(queries: dict[str, str], settings: Settings | None = None) -> dict[str, tuple[list[str], list[tuple]]]:
    """Run read-only SQL (written to run on DuckDB and BigQuery alike) against the marts.

    DuckDB: the published snapshot when there is one (reading it never blocks, or waits for, a
    refresh), else the warehouse file read-only. BigQuery: the warehouse itself.
    """
    s = settings or get_settings()
    out = {}
    if s.warehouse_kind == "bigquery":
        from greenops.warehouse import get_warehouse

        warehouse = get_warehouse(s)
        for title, sql in queries.items():
            table = warehouse.query(sql)
            out[title] = (table.column_names, [tuple(r.values()) for r in table.to_pylist()])
        return out
    path = s.published_path if s.published_path.exists() else s.warehouse_path
    with connect(path, read_only=True) as con:
        for title, sql in queries.items():
            cur = con.execute(sql)
            out[title] = ([d[0] for d in cur.description], cur.fetchall())
    return out


def summary_tables(settings: Settings | None = None) -> dict[str, tuple[list[str], list[tuple]]]:
    return read_marts(QUERIES, settings)


def format_table(columns: list[str], rows: list[tuple]) -> str:
    cells = [columns] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_summary(settings: Settings | None = None) -> str:
    parts = []
    for title, (cols, rows) in summary_tables(settings).items():
        parts.append(f"{title}\n{format_table(cols, rows)}")
    return "\n\n".join(parts)


def log_summary() -> dict:
    text = render_summary()
    log.info("KPI summary\n%s", text)
    return {"tables": len(QUERIES)}
