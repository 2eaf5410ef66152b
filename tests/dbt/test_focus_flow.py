"""The real FOCUS 1.0 sample loads and flows into the one cost model; every model builds with FOCUS as
the only source (every KPI works with any subset of sources)."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from greenops.ingest_focus import ingest_focus
from greenops.sources.common import LandingFile, new_connection
from greenops.sources import focus
from support.dbt_runner import dbt_build

SAMPLE = "focus_1.0_sample/focus_sample.csv"


def test_sample_parses_with_its_values(external):
    rows, rejects = focus.parse(new_connection(), LandingFile(external / SAMPLE, "focus/focus_sample.csv", None, None))
    assert rows.num_rows == 1000 and rejects.num_rows == 0
    first = rows.slice(0, 1).to_pylist()[0]
    assert first["_source_line"] == 2 and first["billed_cost"] == pytest.approx(8e-07)
    assert first["service_name"] == "Amazon Simple Queue Service" and first["region_id"] == "us-west-2"
    assert sorted(set(rows.column("provider_name").to_pylist())) == ["AWS", "Microsoft", "Oracle"]


def test_bad_rows_and_missing_columns(landing):
    path = landing / "focus" / "bad.csv"
    path.parent.mkdir()
    header = "BilledCost,EffectiveCost,BillingCurrency,BillingPeriodStart,ChargePeriodStart,ChargePeriodEnd,ProviderName,ServiceName"
    path.write_text(header + "\n"
                    "1.5,1.2,USD,2026-11-01 00:00:00,2026-11-02 00:00:00,2026-11-02 01:00:00,Acme GPU Cloud,GPU VM\n"
                    "lots,1.2,USD,2026-11-01 00:00:00,2026-11-02 00:00:00,2026-11-02 01:00:00,Acme GPU Cloud,GPU VM\n"
                    "1,1,USD,2026-11-01 00:00:00,2026-11-03 00:00:00,2026-11-02 00:00:00,Acme GPU Cloud,GPU VM\n")
    rows, rejects = focus.parse(new_connection(), LandingFile(path, "focus/bad.csv", None, None))
    assert rows.num_rows == 1
    assert {r["_source_line"]: r["reason"] for r in rejects.to_pylist()} == {
        3: "BilledCost is not a number: lots", 4: "charge period ends before it starts"}
    path.write_text("Cost,Currency\n1,USD\n")
    with pytest.raises(Exception, match=r"focus/bad.csv.*missing column\(s\) BilledCost"):
        focus.parse(new_connection(), LandingFile(path, "focus/bad.csv", None, None))


@pytest.mark.e2e
def test_focus_only_warehouse_builds(external, tmp_path, monkeypatch):
    landing, warehouse = tmp_path / "landing", tmp_path / "wh.duckdb"
    (landing / "focus").mkdir(parents=True)
    shutil.copy(external / SAMPLE, landing / "focus")
    monkeypatch.setenv("GREENOPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("GREENOPS_WAREHOUSE", str(warehouse))
    first = ingest_focus()
    assert first["rows"] == 1000 and first["billing_periods"] == ["2024-09", "2024-10"]
    assert ingest_focus()["rows"] == 1000  # a rerun replaces, never adds
    from greenops.warehouse import get_warehouse

    get_warehouse().ensure_raw_tables()  # the other sources exist, empty
    dbt_build(warehouse, "--exclude", "path:models/reporting")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        total = con.execute("select count(*), sum(BilledCost) from intermediate.int_charges where charge_source = 'focus'").fetchone()
        assert total[0] == 1000 and total[1] == pytest.approx(20.52022672899003)
        assert con.execute("select count(*) from marts.inference_energy_fact").fetchone() == (0,)
