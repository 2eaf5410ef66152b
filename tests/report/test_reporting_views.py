"""The reporting schema as an interface: documented column by column, reconciled with the marts,
the cost-avoided rule as documented; the BI connection files and the dbt exposures point at it."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET

import duckdb
import pytest
import yaml

from greenops.report_html import DUCKDB_WORKAROUND, REPORTING_VIEWS, render_bi_files
from greenops.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e
MODELS_DIR = PROJECT_ROOT / "dbt_project" / "models"


def _yaml_models() -> dict[str, dict]:
    doc = yaml.safe_load((MODELS_DIR / "reporting" / "_reporting.yml").read_text())
    return {m["name"]: m for m in doc["models"]}


def test_every_reporting_column_is_documented_and_every_view_has_a_grain_and_key(report_env):
    models = _yaml_models()
    assert set(models) == set(REPORTING_VIEWS)
    with duckdb.connect(str(report_env.snapshot), read_only=True) as con:
        actual = dict(con.execute(
            "select table_name, list(column_name order by ordinal_position) from information_schema.columns "
            "where table_schema = 'reporting' group by table_name").fetchall())
    for name, model in models.items():
        documented = [c["name"] for c in model["columns"]]
        assert sorted(documented) == sorted(actual[name]), name
        assert all(c.get("description") for c in model["columns"]), name
        assert model["description"].startswith(("One row per", "Reference data")), name
        keys = [t for t in model.get("data_tests", []) if "unique_combination_of_columns" in t]
        assert keys and set(keys[0]["unique_combination_of_columns"]["arguments"]["combination_of_columns"]) <= set(documented), name


def test_reporting_totals_equal_the_marts(report_env):
    with duckdb.connect(str(report_env.snapshot), read_only=True) as con:
        pairs = con.execute("""
            with fact as (
                select sum(carbon_kgco2e_location) as carbon, sum(facility_energy_kwh) as energy, sum(cost_usd) as cost
                from marts.inference_energy_fact)
            select
                (select sum(carbon_location_based_kgco2e) from reporting.carbon_by_project_service), fact.carbon,
                (select sum(energy_kwh) from reporting.carbon_by_project_service), fact.energy,
                (select sum(energy_kwh) from reporting.kpi_monthly_summary), fact.energy,
                (select sum(cost_usd) from reporting.daily_cost_vs_budget), fact.cost,
                (select sum(energy_kwh) from reporting.energy_vs_business_kpi),
                (select sum(facility_energy_kwh) from marts.energy_per_million_tokens),
                (select sum(energy_kwh) from reporting.efficiency_trend),
                (select sum(facility_energy_kwh) from marts.energy_per_million_tokens),
                (select count(*) from reporting.carbon_budget_by_period), (select count(*) from marts.carbon_budget_variance)
            from fact""").fetchone()
    assert pairs[0] > 0
    for got, want in zip(pairs[0::2], pairs[1::2]):
        assert math.isclose(got, want, rel_tol=1e-9), pairs


def test_cost_avoided_follows_the_baseline_rule(report_env):
    """One baseline day (the fixture's var): the second day counts (baseline - current) x tokens x price."""
    with duckdb.connect(str(report_env.snapshot), read_only=True) as con:
        baseline_days, counted, worst_energy, worst_cost, baseline_avoided = con.execute("""
            select count(*) filter (where is_baseline_period),
                   count(*) filter (where not is_baseline_period),
                   max(abs(energy_avoided_kwh - (baseline_energy_per_million_tokens_kwh * total_tokens / 1e6 - energy_kwh)))
                       filter (where not is_baseline_period),
                   max(abs(cost_avoided_usd - energy_avoided_kwh * electricity_price_usd_per_kwh))
                       filter (where not is_baseline_period and electricity_price_usd_per_kwh is not null),
                   max(abs(energy_avoided_kwh)) filter (where is_baseline_period)
            from reporting.efficiency_trend""").fetchone()
    assert baseline_days > 0 and counted > 0
    assert worst_energy < 1e-9 and (worst_cost or 0) < 1e-9
    assert baseline_avoided == 0


def test_bi_files_are_filled_in_for_a_project_and_dataset(tmp_path):
    written = render_bi_files("my-gcp-project", "reporting", tmp_path)
    names = {p.name for p in written}
    assert {"greenops_reporting.pbids", "greenops_reporting.pq"} <= names
    assert {f"greenops_{v}.tds" for v in REPORTING_VIEWS} <= names
    pbids = json.loads((tmp_path / "greenops_reporting.pbids").read_text())
    assert pbids["connections"][0]["details"]["protocol"] == "google-bigquery"
    assert pbids["connections"][0]["options"]["BillingProject"] == "my-gcp-project"
    tds = ET.parse(tmp_path / "greenops_efficiency_trend.tds").getroot()
    bq = tds.find(".//named-connection/connection")
    assert (bq.get("class"), bq.get("project"), bq.get("schema")) == ("bigquery", "my-gcp-project", "reporting")
    assert tds.find(".//relation").get("table") == "[my-gcp-project.reporting].[efficiency_trend]"
    for path in written:
        assert "${" not in path.read_text(), path


@pytest.mark.parametrize("project, dataset", [("My Project", "reporting"), ("my-gcp-project", "rep'orting"), ("", "reporting")])
def test_bi_files_refuse_names_bigquery_would_not_accept(tmp_path, project, dataset):
    with pytest.raises(ValueError):
        render_bi_files(project, dataset, tmp_path)


def test_exposures_are_dashboards_on_reporting_views():
    doc = yaml.safe_load((MODELS_DIR / "exposures.yml").read_text())
    assert doc["exposures"]
    for exposure in doc["exposures"]:
        assert exposure["type"] == "dashboard"
        assert exposure["owner"]["name"] and "@" in exposure["owner"]["email"]
        refs = {d.removeprefix("ref('").removesuffix("')") for d in exposure["depends_on"]}
        assert refs and refs <= set(REPORTING_VIEWS), exposure["name"]


def test_every_sql_example_in_the_analysts_guide_runs(report_env):
    """docs/analysts.md promises its SQL runs as is on the snapshot (BigQuery-only blocks aside)."""
    text = (PROJECT_ROOT / "docs" / "analysts.md").read_text()
    blocks = [b for b in re.findall(r"```sql\n(.*?)```", text, re.S) if "`" not in b]  # backticks: BigQuery names
    assert len(blocks) >= 10
    with duckdb.connect(str(report_env.snapshot), read_only=True) as con:
        con.execute(DUCKDB_WORKAROUND)  # as the guide tells readers to, for the pinned duckdb
        for sql in blocks:
            con.execute(sql).fetchall()
