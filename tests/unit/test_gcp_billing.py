"""GCP Cloud Billing export: real flattened CSV samples (Red Hat koku's test data, labels and credits
as Python literals), the Parquet `bq extract` writes (nested records, repeated labels), JSON, bad
rows, and the load replacing an invoice month."""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb
import pytest

from greenops import ingest_gcp
from greenops.demo.generate import GCP_VM, generate
from greenops.settings import PROJECT_ROOT
from greenops.sources import gcp_billing
from greenops.sources.common import LandingFile, UnreadableFileError, new_connection
from greenops.sources.gcp_export import credits_json, labels_json

KOKU = "koku_test_data/gcp"


def _parse(path):
    return gcp_billing.parse_file(new_connection(), LandingFile(path, path.name, None, None))


def test_koku_flattened_csv_with_python_literal_labels_and_credits(external):
    rows, rejects = _parse(external / KOKU / "202011_30c31bca571d9b7f3b2c8459dd8bc34a_2020-11-08_2020-11-11.csv")
    assert (rows.num_rows, rejects.num_rows) == (25, 0)
    first = rows.to_pylist()[0]
    assert first["invoice_month"] == "2020-11" and first["usage_date"] == date(2020, 11, 9)
    assert first["usage_start_time"] == datetime(2020, 11, 9, 23, 0) and first["usage_end_time"] == datetime(2020, 11, 10, 0, 0)
    assert (first["service_description"], first["sku_description"]) == ("Security Command Center", "Event Threat Detection Log Ingest Bytes")
    assert (first["project_id"], first["location_location"], first["currency"]) == ("billing-example-00000", "global", "USD")
    assert first["cost"] == 5e-06 and first["credits_amount"] == -5e-06
    assert json.loads(first["credits"])[0]["type"] == "PROMOTION"
    assert first["labels"] == "{}" and first["_source_line"] == 2
    assert first["export_time"] == datetime(2020, 11, 10, 5, 49, 32, 199000)
    labels = set(rows.column("labels").to_pylist())
    assert '{"goog-resource-type":"bigquery_dataset"}' in labels  # [{'key': ..., 'value': ...}] -> a JSON object


def test_koku_detailed_export_with_resource_columns(external):
    rows, rejects = _parse(external / KOKU / "2022-08-01_5.csv")
    assert (rows.num_rows, rejects.num_rows) == (9, 0)
    r = rows.to_pylist()[0]
    assert (r["invoice_month"], r["service_id"], r["location_region"], r["resource_name"], r["resource_global_name"]) == (
        "2022-08", "6F81-5844-456A", "us-central1", "instance-1", "//example")
    assert r["usage_amount"] == 14871.0 and r["usage_unit"] == "bytes" and r["credits_amount"] == 0.0


def test_bq_extract_parquet_from_the_demo(tmp_path):
    generate(tmp_path, PROJECT_ROOT / "include" / "demo_fleet.yaml", date(2026, 11, 16), 1, seed=3)
    (path,) = (tmp_path / "gcp_billing").rglob("*.parquet")
    rows, rejects = _parse(path)
    assert rejects.num_rows == 0 and rows.num_rows == 24 * 6 + 1
    core = next(r for r in rows.to_pylist() if r["sku_description"] == "A2 Instance Core running in Americas")
    assert json.loads(core["labels"]) == {"deployment": "chat-8b-gcp", "team": "support"}
    assert json.loads(core["system_labels"])["compute.googleapis.com/machine_spec"] == "a2-highgpu-2g"
    assert json.loads(core["project_labels"]) == {"env": "prod"}
    assert core["usage_amount"] == GCP_VM["vcpus"] * 3600.0 and core["usage_unit"] == "seconds"
    assert core["usage_start_time"] == datetime(2026, 11, 16, 0, 0) and core["invoice_month"] == "2026-11"
    gpu = next(r for r in rows.to_pylist() if r["sku_description"] == GCP_VM["gpu_sku"])
    assert gpu["credits_amount"] == pytest.approx(2 * GCP_VM["cud_credit_per_gpu_hour"])
    storage = next(r for r in rows.to_pylist() if r["service_description"] == "Cloud Storage")
    assert storage["location_region"] is None and storage["location_location"] == "us" and storage["system_labels"] == "{}"


def test_json_export_and_bad_rows(tmp_path):
    good = {"billing_account_id": "A", "service": {"id": "S", "description": "Compute Engine"}, "cost": 1.5,
            "usage_start_time": "2026-11-16 10:00:00 UTC", "usage_end_time": "2026-11-16 11:00:00 UTC",
            "labels": [{"key": "deployment", "value": "chat-8b-gcp"}, {"key": "deployment", "value": "other"}, {"key": "x", "value": ""}],
            "invoice": {"month": "202611"}, "credits": []}
    lines = [good, {**good, "cost": "lots"}, {**good, "usage_start_time": "yesterday"},
             {**good, "usage_end_time": "2026-11-16 09:00:00 UTC"}, {**good, "labels": "not labels"}, {**good, "invoice": {"month": "Nov"}}]
    path = tmp_path / "billing.json"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    rows, rejects = _parse(path)
    (row,) = rows.to_pylist()
    assert row["labels"] == '{"deployment":"chat-8b-gcp"}'  # first of equal keys, empty values dropped
    assert row["usage_start_time"] == datetime(2026, 11, 16, 10, 0) and row["invoice_month"] == "2026-11"
    assert dict(zip(rejects.column("_source_line").to_pylist(), rejects.column("reason").to_pylist())) == {
        2: "cost is not a number: lots",
        3: "unparseable usage_start_time: yesterday",
        4: "usage period ends before it starts",
        5: "labels: neither JSON nor a literal: not labels",
        6: "invoice.month is not YYYYMM: Nov",
    }


def test_labels_and_credits_helpers():
    assert labels_json(None) == "{}" and labels_json("[]") == "{}"
    assert labels_json("[{'key': 'b', 'value': '2'}, {'key': 'a', 'value': '1'}]") == '{"a":"1","b":"2"}'
    assert labels_json('{"team": "ml"}') == '{"team":"ml"}'
    with pytest.raises(ValueError):
        labels_json("[1, 2]")
    assert credits_json("[{'name': 'x', 'amount': -0.5}, {'name': 'y', 'amount': -0.25}]")[1] == -0.75


def test_a_file_without_cost_is_not_a_billing_export(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("usage_start_time,amount\n2026-11-16,1\n")
    with pytest.raises(UnreadableFileError, match="x.csv: not a Cloud Billing export: no column cost"):
        _parse(path)


def test_ingest_replaces_an_invoice_month_when_its_content_changes(settings_env, landing, external):
    folder = landing / "gcp_billing"
    folder.mkdir()
    sample = (external / KOKU / "2022-08-01_5.csv").read_text()
    (folder / "export.csv").write_text(sample)
    assert ingest_gcp.ingest_gcp_billing(load_id="first")["reloaded"] == ["2022-08"]
    assert ingest_gcp.ingest_gcp_billing()["unchanged"] == ["2022-08"]
    # Google adds late rows to the month: the month is replaced as a whole
    lines = sample.splitlines()
    (folder / "export.csv").write_text("\n".join(lines + [lines[1].replace("0.0,USD", "0.25,USD", 1)]) + "\n")
    assert ingest_gcp.ingest_gcp_billing(load_id="second")["reloaded"] == ["2022-08"]
    with duckdb.connect(str(settings_env.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*), sum(cost), min(_load_id), max(_load_id) from raw.gcp_billing_export").fetchone() == (
            10, pytest.approx(0.25 + 1.2e-05), "second", "second")
