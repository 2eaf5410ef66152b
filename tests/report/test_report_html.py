"""The HTML report and the monthly disclosure: built from the published snapshot, self-contained,
one CSV per table it shows, and rendered with its data by a real browser (headless Chromium)."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from greenops.report_html import QUERIES, build_report
from greenops.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def disclosure(report_env, tmp_path_factory) -> Path:
    return build_report(tmp_path_factory.mktemp("reports"), report_env.month, report_env.settings)


def _count(dom: str, tag: str, css_class: str) -> int:
    return len(re.findall(rf'<{tag}\b[^>]*\bclass="{css_class}"', dom))


def test_monthly_disclosure_writes_the_report_and_a_csv_per_table(disclosure, report_env):
    assert disclosure.name == "report.html" and disclosure.parent.name == report_env.month
    page = disclosure.read_text()
    assert {p.stem for p in disclosure.parent.glob("*.csv")} == set(QUERIES)
    for name in QUERIES:
        with open(disclosure.parent / f"{name}.csv", newline="") as f:
            rows = list(csv.reader(f))
        shown = re.search(rf'data-table="{name}" data-rows="(\d+)"', page)
        assert shown and int(shown.group(1)) == len(rows) - 1, name
    assert "Methodology" in page and "location-based" in page.lower() and "market-based" in page.lower()


def test_report_is_self_contained(disclosure):
    page = disclosure.read_text()
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", page, re.I)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}


def test_latest_month_is_the_default_and_writes_no_csv(report_env, tmp_path):
    path = build_report(tmp_path, settings=report_env.settings)
    assert path == tmp_path / "report.html" and path.stat().st_size > 10_000
    assert not list(tmp_path.glob("*.csv"))


def test_cli_writes_the_report_and_names_the_months_it_has(report_env, tmp_path):
    cmd = [sys.executable, "-m", "greenops", "report", "--out", str(tmp_path)]
    ok = subprocess.run(cmd + ["--month", report_env.month], env=report_env.env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert Path(ok.stdout.strip()) == tmp_path / report_env.month / "report.html"
    missing = subprocess.run(cmd + ["--month", "2020-01"], env=report_env.env, capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and "no data for 2020-01" in missing.stderr and report_env.month in missing.stderr


def _chromium(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    profile = tmp / "chromium-profile"
    return subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed (/usr/bin/chromium): `make chromium` installs it")
def test_report_renders_its_charts_with_data_in_chromium(disclosure, report_env, tmp_path):
    url = disclosure.resolve().as_uri()
    dom = _chromium("--dump-dom", "--virtual-time-budget=5000", url, tmp=tmp_path).stdout
    assert "</svg>" in dom, dom[-2000:]
    with duckdb.connect(str(report_env.snapshot), read_only=True) as con:
        expected = con.execute("""
            select  -- the fixture's data lie in one month
              (select count(distinct model_id) from reporting.efficiency_trend where energy_per_million_tokens_kwh is not null),
              (select count(*) from reporting.efficiency_trend where energy_per_million_tokens_kwh is not null),
              (select count(*) from reporting.carbon_budget_by_period),
              (select count(*) from (select distinct project_id, service_name from reporting.carbon_by_project_service)),
              (select count(*) from reporting.model_portfolio_quadrant where efficiency_index is not null),
              (select count(distinct month_start_date) from reporting.kpi_monthly_summary)""").fetchone()
    assert expected[-1] == 1
    expected = expected[:-1]
    # lines and points of the energy chart, budget bars, heatmap cells, quadrant bubbles: one per row
    rendered = (_count(dom, "path", "series"), _count(dom, "circle", "point"), _count(dom, "rect", "bar"),
                _count(dom, "rect", "cell"), _count(dom, "circle", "bubble"))
    assert rendered == expected
    assert all(n > 0 for n in expected)
    assert len(re.findall(r'data-chart="[a-z-]+"', dom)) == 4

    png = tmp_path / "report.png"
    _chromium(f"--screenshot={png}", "--window-size=1400,3000", "--virtual-time-budget=5000", url, tmp=tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 50_000  # a blank page is a few KB
    if os.environ.get("GREENOPS_UPDATE_SCREENSHOT"):  # refresh the picture in the docs on request only
        shutil.copy(png, PROJECT_ROOT / "docs" / "report-screenshot.png")
