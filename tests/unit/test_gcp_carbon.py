"""GCP Carbon Footprint export: Google's documented example row, the shapes `bq extract` writes
(Parquet with nested records, newline-delimited JSON with INT64 as strings, flattened CSV), bad rows,
and a restated month replacing the old one in the warehouse."""

from __future__ import annotations

import json
import shutil
from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from greenops import ingest_gcp
from greenops.sources import gcp_carbon
from greenops.sources.common import LandingFile, UnreadableFileError, new_connection

DOCS = "gcp_carbon_footprint_schema_docs"
EXAMPLE = {  # the documented example row, as Google's schema page gives it
    "usage_month": "2021-10", "usage_month_start": date(2021, 10, 1), "billing_account_id": "007GD7-15C0E6-BDE6B3",
    "project_id": "my-project", "project_number": "802583874831", "service_id": "F17B-412E-CB64",
    "service_description": "Cloud Run", "location": "us-central1-a", "region": "us-central1", "carbon_model_version": 1,
    "scope1_kgco2e": 10.0, "scope2_location_kgco2e": 400.0, "scope2_market_kgco2e": 105.8, "scope3_kgco2e": 986.8,
    "total_location_kgco2e": 1587.3, "total_market_kgco2e": 588.8,
}


def _parse(path):
    return gcp_carbon.parse_file(new_connection(), LandingFile(path, path.name, None, None))


def _nested(month="2021-10-01", version="1", scope2_location=400, total_location=1587.3, project="my-project"):
    """One row shaped like the BigQuery table (RECORD columns), JSON-export style (INT64 as text)."""
    return {"usage_month": month, "billing_account_id": "007GD7-15C0E6-BDE6B3",
            "project": {"id": project, "number": "802583874831"},
            "service": {"id": "F17B-412E-CB64", "description": "Cloud Run"},
            "location": {"location": "us-central1-a", "region": "us-central1"},
            "carbon_model_version": version,
            "carbon_footprint_kgCO2e": {"scope1": 10, "scope2": {"location_based": scope2_location, "market_based": 105.8}, "scope3": 986.8},
            "carbon_footprint_total_kgCO2e": {"location_based": total_location, "market_based": 588.8}}


def test_documented_example_row_parses_with_both_totals_kept(external):
    rows, rejects = _parse(external / DOCS / "documented_example_row.csv")
    assert rejects.num_rows == 0
    (row,) = rows.to_pylist()
    assert {k: row[k] for k in EXAMPLE} == EXAMPLE
    assert row["_source_line"] == 2
    # Google's totals are not the sum of its scopes (10 + 400 + 986.8 = 1396.8, not 1587.3): kept as reported
    assert row["scope1_kgco2e"] + row["scope2_location_kgco2e"] + row["scope3_kgco2e"] == pytest.approx(1396.8)
    assert row["scope1_kgco2e"] + row["scope2_market_kgco2e"] + row["scope3_kgco2e"] == pytest.approx(1102.6)


def test_every_schema_field_has_a_column(external):
    documented = [line.split(",")[0] for line in (external / DOCS / "carbon_footprint_schema.csv").read_text().splitlines()[1:]]
    keys = {k for c in gcp_carbon.COLUMNS for k in c.keys}
    deprecated = {"carbon_footprint_total_kgCO2e.after_offsets", "carbon_offsets_kgCO2e"}
    assert all(gcp_carbon.column_key(f) in keys for f in documented if f not in deprecated)


def test_bq_extract_parquet_and_json_give_the_same_rows(tmp_path):
    record = _nested()
    parquet = tmp_path / "carbon-000000000000.parquet"
    table = pa.Table.from_pylist([{**record, "usage_month": date(2021, 10, 1), "carbon_model_version": 1}])
    pq.write_table(table, parquet)
    ndjson = tmp_path / "carbon-000000000000.json"
    ndjson.write_text(json.dumps(record) + "\n")
    flat_csv = tmp_path / "carbon.csv"  # a query export with underscore names
    flat_csv.write_text("usage_month,project_id,carbon_footprint_kgco2e_scope1,carbon_footprint_kgco2e_scope2_location_based,"
                        "carbon_footprint_total_kgco2e_location_based,carbon_model_version\n2021-10-01,my-project,10,400,1587.3,1\n")
    for path in (parquet, ndjson):
        rows, rejects = _parse(path)
        assert rejects.num_rows == 0
        assert {k: rows.to_pylist()[0][k] for k in EXAMPLE} == EXAMPLE, path.name
    rows, _ = _parse(flat_csv)
    got = rows.to_pylist()[0]
    assert (got["usage_month"], got["project_id"], got["scope2_location_kgco2e"], got["total_location_kgco2e"], got["scope3_kgco2e"]) == (
        "2021-10", "my-project", 400.0, 1587.3, None)


def test_bad_rows_are_rejected_with_their_line_and_reason(tmp_path):
    path = tmp_path / "carbon.json"
    lines = [json.dumps(_nested()), json.dumps(_nested(month="October")), "{not json", json.dumps(_nested(scope2_location="n/a")),
             json.dumps(_nested(version="1.5"))]
    path.write_text("\n".join(lines) + "\n")
    rows, rejects = _parse(path)
    assert rows.column("_source_line").to_pylist() == [1]
    reasons = dict(zip(rejects.column("_source_line").to_pylist(), rejects.column("reason").to_pylist()))
    assert reasons[2] == "unparseable usage_month: October"
    assert reasons[3].startswith("malformed JSON line")
    assert reasons[4] == "scope2_location_kgco2e is not a number: n/a"
    assert reasons[5] == "carbon_model_version is not an integer: 1.5"


def test_a_file_that_is_not_a_carbon_export_names_itself(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("usage_month,cost\n2021-10-01,3\n")
    with pytest.raises(UnreadableFileError, match="other.csv: not a Carbon Footprint export"):
        _parse(path)


def _carbon_rows(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select usage_month, carbon_model_version, scope2_location_kgco2e, total_location_kgco2e "
                           "from raw.gcp_carbon_footprint order by usage_month, carbon_model_version").fetchall()


def test_a_restated_month_replaces_the_old_one(settings_env, landing):
    folder = landing / "gcp_carbon" / "usage_month=2026-10"
    folder.mkdir(parents=True)
    sept = landing / "gcp_carbon" / "usage_month=2026-09"
    sept.mkdir(parents=True)
    (sept / "carbon-000000000000.json").write_text(json.dumps(_nested(month="2026-09-01", version="11")) + "\n")
    (folder / "carbon-000000000000.json").write_text(json.dumps(_nested(month="2026-10-01", version="11")) + "\n")
    first = ingest_gcp.ingest_gcp_carbon(load_id="first")
    assert first["reloaded"] == ["2026-09", "2026-10"] and first["rows"] == 2
    assert ingest_gcp.ingest_gcp_carbon()["unchanged"] == ["2026-09", "2026-10"]  # same content: nothing rewritten

    # Google republishes October with a new model: the export is written again, under a new name
    (folder / "carbon-000000000000.json").unlink()
    (folder / "carbon-restated-000000000000.json").write_text(
        json.dumps(_nested(month="2026-10-01", version="12", scope2_location=380, total_location=1567.3)) + "\n")
    again = ingest_gcp.ingest_gcp_carbon(load_id="restated")
    assert again["reloaded"] == ["2026-10"] and again["unchanged"] == ["2026-09"]
    assert _carbon_rows(settings_env.warehouse_path) == [("2026-09", 11, 400.0, 1587.3), ("2026-10", 12, 380.0, 1567.3)]
    with duckdb.connect(str(settings_env.warehouse_path), read_only=True) as con:
        loads = con.execute("select period, carbon_model_versions, rows_loaded, _load_id from raw.gcp_export_loads "
                            "where source = 'gcp_carbon_footprint' order by period").fetchall()
    assert loads == [("2026-09", "11", 1, "first"), ("2026-10", "12", 1, "restated")]

    # renaming a file changes nothing: the fingerprint is of the content
    shutil.move(folder / "carbon-restated-000000000000.json", folder / "renamed.json")
    assert ingest_gcp.ingest_gcp_carbon()["reloaded"] == []


def test_rejected_rows_land_in_quarantine_with_their_month(settings_env, landing):
    folder = landing / "gcp_carbon"
    folder.mkdir()
    (folder / "carbon.json").write_text(json.dumps(_nested(month="2026-10-01")) + "\n"
                                        + json.dumps(_nested(month="2026-10-01", scope2_location="abc")) + "\n")
    summary = ingest_gcp.ingest_gcp_carbon()
    assert summary["quarantined"] == 1
    with duckdb.connect(str(settings_env.warehouse_path), read_only=True) as con:
        got = con.execute("select source, partition_date, reason, _source_file, _source_line from raw.quarantine").fetchall()
    assert got == [("gcp_carbon_footprint", date(2026, 10, 1), "scope2_location_kgco2e is not a number: abc", "gcp_carbon/carbon.json", 2)]
