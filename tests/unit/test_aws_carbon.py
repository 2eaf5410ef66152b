"""AWS carbon export: MTCO2e -> kgCO2e, model versions kept, one usage period replaced at a time,
unknown columns failing clearly, and the same files read from S3 (moto) as from the landing folder."""

from __future__ import annotations

import csv
import gzip
import io

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from greenops import ingest_aws
from greenops.settings import get_settings
from greenops.sources.common import UnreadableFileError
from support.moto_server import _moto_server, aws_env, moto_endpoint  # noqa: F401 (fixtures)

# AWS's documented CARBON_EMISSIONS columns (Data Exports user guide, "Carbon emissions columns")
COLUMNS = ["last_refresh_timestamp", "location", "model_version", "payer_account_id", "product_code", "region_code",
           "total_lbm_emissions_unit", "total_lbm_emissions_value", "total_mbm_emissions_unit", "total_mbm_emissions_value",
           "usage_account_id", "usage_period_end", "usage_period_start"]


def _row(period, model, product, region, lbm, mbm, unit="MTCO2e", start=None, end=None):
    return {"last_refresh_timestamp": "2026-12-05 08:00:00Z", "location": "US East (N. Virginia)", "model_version": model,
            "payer_account_id": "111122223333", "product_code": product, "region_code": region,
            "total_lbm_emissions_unit": unit, "total_lbm_emissions_value": lbm, "total_mbm_emissions_unit": unit,
            "total_mbm_emissions_value": mbm, "usage_account_id": "444455556666",
            "usage_period_start": start or f"{period}-01", "usage_period_end": end or f"{period}-28"}


def _csv_gz(rows, columns=COLUMNS) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return gzip.compress(buf.getvalue().encode())


def _parquet(rows) -> bytes:
    table = pa.table({c: [r[c] for r in rows] for c in COLUMNS}).set_column(
        COLUMNS.index("total_lbm_emissions_value"), "total_lbm_emissions_value", pa.array([float(r["total_lbm_emissions_value"]) for r in rows]))
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _write(root, model, period, name, body: bytes):
    path = root / "carbon-export" / "data" / f"model_version={model}" / f"usage_period={period}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def _rows(settings, sql):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_landing_folder_periods_models_units_and_restatement(landing, settings_env):
    root = landing / "aws_carbon"
    _write(root, "v3.0.0", "2026-10", "part-00001.snappy.parquet", _parquet([
        _row("2026-10", "v3.0.0", "AmazonEC2", "us-east-1", "1.25", "0.4"),
        _row("2026-10", "v3.0.0", "AmazonS3", "us-east-1", "0.003", "0.001")]))
    _write(root, "v3.0.0", "2026-11", "part-00001.csv.gz", _csv_gz([
        _row("2026-11", "v3.0.0", "AmazonEC2", "us-east-1", "2.5", "0.75"),
        _row("2026-11", "v3.0.0", "AmazonEC2", "eu-central-1", "oops", "0.1"),
        _row("2026-11", "v3.0.0", "AmazonS3", "us-east-1", "0.1", "0.1", unit="lbCO2e")]))
    # the previous methodology is still delivered for a few months: kept beside the new one
    _write(root, "v2.0.0", "2026-11", "part-00001.csv.gz", _csv_gz([_row("2026-11", "v2.0.0", "AmazonEC2", "us-east-1", "2.0", "0.6")]))

    first = ingest_aws.ingest_aws_carbon(settings=settings_env, load_id="run-1")
    assert first == {"source": "aws_carbon", "usage_periods": ["2026-10", "2026-11"], "reloaded": ["2026-10", "2026-11"],
                     "unchanged": [], "files": 3, "rows": 4, "quarantined": 2}
    assert _rows(settings_env, """select usage_period, model_version, product_code, region_code, carbon_kgco2e_location,
        carbon_kgco2e_market, usage_period_start::varchar, last_refresh_ts_utc::varchar from raw.aws_carbon_emissions order by all""") == [
        ("2026-10", "v3.0.0", "AmazonEC2", "us-east-1", 1250.0, 400.0, "2026-10-01", "2026-12-05 08:00:00"),
        ("2026-10", "v3.0.0", "AmazonS3", "us-east-1", 3.0, 1.0, "2026-10-01", "2026-12-05 08:00:00"),
        ("2026-11", "v2.0.0", "AmazonEC2", "us-east-1", 2000.0, 600.0, "2026-11-01", "2026-12-05 08:00:00"),
        ("2026-11", "v3.0.0", "AmazonEC2", "us-east-1", 2500.0, 750.0, "2026-11-01", "2026-12-05 08:00:00")]
    nov_file = "aws_carbon/carbon-export/data/model_version=v3.0.0/usage_period=2026-11/part-00001.csv.gz"
    assert _rows(settings_env, "select partition_date::varchar, _source_file, _source_line, reason from raw.quarantine "
                               "where source = 'aws_carbon_emissions' order by _source_line") == [
        ("2026-11-01", nov_file, 3, "location-based emissions is not a number: oops"),
        ("2026-11-01", nov_file, 4, "unknown location-based unit: lbCO2e")]

    # AWS re-delivers November v3 with the fixed rows: November is replaced, October is not touched
    _write(root, "v3.0.0", "2026-11", "part-00001.csv.gz", _csv_gz([
        _row("2026-11", "v3.0.0", "AmazonEC2", "us-east-1", "2.6", "0.8"),
        _row("2026-11", "v3.0.0", "AmazonEC2", "eu-central-1", "0.2", "0.1")]))
    second = ingest_aws.ingest_aws_carbon(settings=settings_env, load_id="run-2")
    assert (second["reloaded"], second["unchanged"], second["rows"], second["quarantined"]) == (["2026-11"], ["2026-10"], 3, 0)
    assert _rows(settings_env, "select usage_period, _load_id, count(*), sum(carbon_kgco2e_location) from raw.aws_carbon_emissions "
                               "group by all order by 1") == [("2026-10", "run-1", 2, 1253.0), ("2026-11", "run-2", 3, pytest.approx(4800.0))]
    assert _rows(settings_env, "select count(*) from raw.quarantine where source = 'aws_carbon_emissions'") == [(0,)]
    assert _rows(settings_env, "select period, _load_id, data_files from raw.aws_export_loads where source = 'aws_carbon_emissions' order by 1") == [
        ("2026-10", "run-1", 1), ("2026-11", "run-2", 2)]


def test_alias_columns_and_unknown_columns(landing, settings_env):
    root = landing / "aws_carbon"
    _write(root, "v1.0.0", "2026-09", "a.csv", b"account_id,region,service_code,lbm_emissions_mtco2e,mbm_emissions_mtco2e\n"
                                               b"444455556666,us-west-2,AmazonEC2,0.5,0.25\n")
    summary = ingest_aws.ingest_aws_carbon(settings=settings_env, load_id="run-1")
    assert summary["rows"] == 1
    assert _rows(settings_env, "select usage_period, model_version, usage_account_id, region_code, product_code, carbon_kgco2e_location, "
                               "carbon_kgco2e_market from raw.aws_carbon_emissions") == [
        ("2026-09", "v1.0.0", "444455556666", "us-west-2", "AmazonEC2", 500.0, 250.0)]

    before = _rows(settings_env, "select * exclude (_loaded_at) from raw.aws_carbon_emissions")
    _write(root, "v1.0.0", "2026-09", "b.csv", b"account,co2_tonnes\n1,2\n")
    with pytest.raises(UnreadableFileError, match="cannot read aws_carbon/.*/b.csv: no emissions column; expected one of: total_lbm_emissions_value"):
        ingest_aws.ingest_aws_carbon(settings=settings_env, load_id="run-2")
    assert _rows(settings_env, "select * exclude (_loaded_at) from raw.aws_carbon_emissions") == before


def test_no_export_is_nothing_to_do(settings_env):
    assert ingest_aws.ingest_aws_carbon(settings=settings_env)["usage_periods"] == []


def test_reads_the_export_bucket(aws_env, settings_env, monkeypatch):
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket="billing")
    key = "exports/carbon-export/data/model_version=v3.0.0/usage_period=2026-11/part-00001.csv.gz"
    s3.put_object(Bucket="billing", Key=key, Body=_csv_gz([_row("2026-11", "v3.0.0", "AmazonEC2", "us-east-1", "0.042", "0.01")]))
    s3.put_object(Bucket="billing", Key="exports/carbon-export/metadata/model_version=v3.0.0/usage_period=2026-11/carbon-export-Manifest.json",
                  Body=b"{}")  # not a data file: ignored
    monkeypatch.setenv("GREENOPS_AWS_CUR_BUCKET", "billing")  # the carbon export defaults to the CUR bucket and prefix
    monkeypatch.setenv("GREENOPS_AWS_CUR_PREFIX", "exports")
    summary = ingest_aws.ingest_aws_carbon(settings=get_settings(), load_id="run-1")
    assert (summary["source"], summary["files"], summary["rows"]) == ("s3://billing/exports", 1, 1)
    assert _rows(settings_env, "select carbon_kgco2e_location, _source_file from raw.aws_carbon_emissions") == [
        (42.0, f"s3://billing/{key}")]
