"""CUR: parsers on the real samples (legacy slash headers, Athena snake_case, koku's S3 report layout),
and loads from an S3 bucket (moto) laid out like a CUR 2.0 export: a restated billing period is
replaced, an unchanged one is not reloaded, bad rows are quarantined, a broken delivery changes nothing."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from greenops import ingest_aws
from greenops.settings import get_settings
from greenops.sources import aws_cur
from greenops.sources.common import LandingFile, UnreadableFileError, new_connection
from support.moto_server import _moto_server, aws_env, moto_endpoint  # noqa: F401 (fixtures)

BUCKET = "greenops-billing"
PREFIX = "cur"
EXPORT = "greenops-cur"


def _parse(path, rel="sample.csv"):
    return aws_cur.parse_file(new_connection(), LandingFile(path, rel, None, None))


def _rows(settings, sql):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


# --- parsers on real samples ---------------------------------------------------------------------------


def test_legacy_cur_csv_with_slash_headers(external):
    rows, rejects = _parse(external / "aws_cur_legacy_focus_converters" / "sample-anonymous-aws-export-dataset.csv")
    assert (rows.num_rows, rejects.num_rows) == (1281, 0)
    assert sum(rows.column("line_item_unblended_cost").to_pylist()) == pytest.approx(1.6823086974)
    by_line = {r["_source_line"]: r for r in rows.to_pylist()}
    glacier = by_line[925]  # the report's most expensive line
    assert glacier["line_item_product_code"] == "AmazonS3"
    assert glacier["line_item_usage_type"] == "USW2-Requests-Tier3"
    assert glacier["line_item_operation"] == "S3-GlacierTransition"
    assert glacier["line_item_usage_amount"] == 5547.0 and glacier["line_item_unblended_cost"] == 0.16641
    assert glacier["line_item_unblended_rate"] == "3.0E-5"  # kept as the text AWS wrote
    assert glacier["product_region_code"] == "us-west-2" and glacier["pricing_unit"] == "Requests"
    assert str(glacier["line_item_usage_start_date"]) == "2023-11-06 00:00:00"
    assert str(glacier["line_item_usage_end_date"]) == "2023-11-06 16:00:00"
    tax = by_line[2]
    assert (tax["line_item_line_item_type"], tax["line_item_product_code"], tax["line_item_usage_account_id"]) == (
        "Tax", "AWSCloudTrail", "123412340534")
    assert str(tax["bill_billing_period_start_date"]) == "2023-11-01 00:00:00" and tax["resource_tags"] == "{}"


def test_koku_samples_ragged_legacy_and_athena_snake_case(external):
    aws = external / "koku_test_data" / "aws"
    # test_cur.csv's header has one more column (costCategory/CostCenter) than its rows: padded, not lost
    rows, rejects = _parse(aws / "test_cur.csv")
    assert (rows.num_rows, rejects.num_rows) == (19, 0)
    first = rows.to_pylist()[0]
    assert first["line_item_resource_id"] == "i-16847552" and first["_source_line"] == 2
    assert first["line_item_unblended_cost"] == 0.00165303109242778
    assert first["line_item_usage_amount"] == 0.01001837025713806
    assert (first["line_item_unblended_rate"], first["pricing_unit"]) == ("0.165", "GB")

    # Athena/Parquet-style snake_case with one column per tag: folded into the JSON map
    rows, _ = _parse(aws / "2022-07-01-alt-columns.csv")
    first = rows.to_pylist()[0]
    assert first["resource_tags"] == '{"aws:created_by":"IAMUser:fake:and"}'
    assert first["line_item_resource_id"] == "arn:aws:ec2:us-east-1:589173575009:instance/i-055386473d0b3fc65"
    assert (first["line_item_usage_type"], first["pricing_unit"], first["line_item_usage_account_id"]) == (
        "SoftwareUsage:t2.nano", "Hrs", "999999")

    rows, _ = _parse(aws / "2023-06-01.csv")
    first = rows.to_pylist()[0]
    assert (first["line_item_currency_code"], first["product_instance_type"], first["line_item_unblended_cost"]) == ("NOK", "m5.large", 10.0)
    assert first["line_item_line_item_type"] == "SavingsPlanCoveredUsage"

    rows, rejects = _parse(aws / "empty_frame.csv")  # a header and no rows
    assert (rows.num_rows, rejects.num_rows) == (0, 0)


def test_koku_s3_report_layout_with_legacy_manifest_from_the_landing_folder(external, landing, settings_env):
    with tarfile.open(external / "koku_test_data" / "aws" / "test_local_bucket.tar.gz") as tar:
        tar.extractall(landing / "aws_cur", filter="data")
    first = ingest_aws.ingest_aws_cur(settings=settings_env, load_id="run-1")
    assert first == {"source": "aws_cur", "billing_periods": ["2018-08"], "reloaded": ["2018-08"], "unchanged": [],
                     "files": 1, "rows": 13380, "quarantined": 0}
    row = _rows(settings_env, """select line_item_resource_id, line_item_usage_amount, line_item_unblended_cost,
        line_item_unblended_rate, pricing_unit, line_item_usage_start_date::varchar, cur_format, export_name, _source_file
        from raw.aws_cur_line_items where _source_line = 2""")
    assert row == [("i-35982005", 0.0235971692316145, 0.00377554707705832, "0.16", "GB", "2018-06-20 01:00:00", "legacy", "koku-local",
                    "aws_cur/koku-local/20180801-20180901/16e57707-f9e3-49be-8be6-b84e684b5194/koku-local-1.csv.gz")]
    assert _rows(settings_env, "select billing_period, count(*) from raw.aws_cur_line_items group by 1") == [("2018-08", 13380)]
    again = ingest_aws.ingest_aws_cur(settings=settings_env, load_id="run-2")
    assert (again["reloaded"], again["unchanged"]) == ([], ["2018-08"])
    assert _rows(settings_env, "select distinct _load_id from raw.aws_cur_line_items") == [("run-1",)]


def test_legacy_tag_columns_fold_into_one_json_map(tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_text(
        "lineItem/UsageStartDate,lineItem/UsageEndDate,lineItem/UnblendedCost,resourceTags/user:deployment,resourceTags/user:team\n"
        "2026-11-01T00:00:00Z,2026-11-01T01:00:00Z,1.5,chat-70b,search\n"
        "2026-11-01T00:00:00Z,2026-11-01T01:00:00Z,2.5,,\n")
    rows, _ = _parse(path)
    assert rows.column("resource_tags").to_pylist() == ['{"user:deployment":"chat-70b","user:team":"search"}', "{}"]


def test_malformed_csv_rows_are_rejected_with_their_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("line_item_usage_start_date,line_item_unblended_cost,line_item_product_code\n"
                    "2026-11-01T00:00:00Z,1.0,AmazonEC2\n"
                    "2026-11-01T01:00:00Z,2.0,AmazonEC2,unexpected\n"
                    "2026-11-01T02:00:00Z,3.0\n"  # a missing trailing column is padded
                    "2026-11-01T03:00:00Z,4.0,AmazonS3\n")
    rows, rejects = _parse(path)
    assert [(r["_source_line"], r["line_item_unblended_cost"], r["line_item_product_code"]) for r in rows.to_pylist()] == [
        (2, 1.0, "AmazonEC2"), (4, 3.0, None), (5, 4.0, "AmazonS3")]
    assert [(r["_source_line"], r["reason"], r["raw_record"]) for r in rejects.to_pylist()] == [
        (3, "malformed CSV row: Expected Number of Columns: 3 Found: 4", "2026-11-01T01:00:00Z,2.0,AmazonEC2,unexpected")]


def test_a_file_without_the_needed_columns_is_unreadable(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UnreadableFileError, match="cannot read other.csv: no column line_item_usage_start_date"):
        _parse(path, "other.csv")


# --- CUR 2.0 export in S3 (moto) -------------------------------------------------------------------------

CSV_COLUMNS = ["bill_billing_period_start_date", "line_item_usage_start_date", "line_item_usage_end_date",
               "line_item_product_code", "line_item_usage_type", "line_item_operation", "line_item_resource_id",
               "line_item_line_item_type", "line_item_usage_account_id", "line_item_currency_code",
               "line_item_usage_amount", "line_item_unblended_cost", "line_item_net_unblended_cost",
               "line_item_unblended_rate", "product_instance_type", "product_region_code", "pricing_unit", "resource_tags"]


def _csv_gz(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    return gzip.compress(buf.getvalue().encode())


def _gpu_row(start, end, cost, deployment, rate="32.7726", usage="1"):
    tags = json.dumps({"user:deployment": deployment}) if deployment else ""
    return ["2026-11-01T00:00:00.000Z", start, end, "AmazonEC2", "USE1-BoxUsage:p5.48xlarge", "RunInstances",
            "i-0abc", "Usage", "111122223333", "USD", usage, cost, cost, rate, "p5.48xlarge", "us-east-1", "Hrs", tags]


def _parquet_october() -> bytes:
    ts = pa.timestamp("ms", tz="UTC")
    table = pa.table({
        "bill_billing_period_start_date": pa.array([1790812800000] * 2, ts),  # 2026-10-01
        "line_item_usage_start_date": pa.array([1790812800000, 1790816400000], ts),
        "line_item_usage_end_date": pa.array([1790816400000, 1790820000000], ts),
        "line_item_product_code": ["AmazonEC2", "AmazonS3"],
        "line_item_usage_type": ["USE1-BoxUsage:g6e.xlarge", "USE1-TimedStorage-ByteHrs"],
        "line_item_operation": ["RunInstances", "StandardStorage"],
        "line_item_resource_id": ["i-0def", "models-bucket"],
        "line_item_line_item_type": ["Usage", "Usage"],
        "line_item_usage_account_id": ["111122223333", "111122223333"],
        "line_item_currency_code": ["USD", "USD"],
        "line_item_usage_amount": [1.0, 5.5],
        "line_item_unblended_cost": [1.861, 0.0127],
        "line_item_net_unblended_cost": [1.7, 0.0127],
        "line_item_unblended_rate": ["1.861", "0.0023"],
        "product_region_code": ["us-east-1", "us-east-1"],
        "pricing_unit": ["Hrs", "GB-Mo"],
        # CUR 2.0 has a product map; here the instance type lives only there
        "product": pa.array([[("instance_type", "g6e.xlarge")], []], pa.map_(pa.string(), pa.string())),
        "resource_tags": pa.array([[("user_deployment", "chat-8b"), ("user_team", "search")], []], pa.map_(pa.string(), pa.string())),
    })
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _manifest(period: str, keys: list[str], execution: str) -> bytes:
    return json.dumps({
        "exportArn": f"arn:aws:bcm-data-exports:us-east-1:111122223333:export/{EXPORT}-0f2e",
        "exportName": EXPORT, "executionId": execution, "billingPeriod": period, "bucket": BUCKET,
        "dataFiles": [f"s3://{BUCKET}/{k}" for k in keys],
    }).encode()


def _deliver(s3, period: str, files: dict[str, bytes], execution: str, listed: list[str] | None = None) -> None:
    """Write a period's data files, then its manifest (AWS writes the manifest last)."""
    keys = []
    for name, body in files.items():
        key = f"{PREFIX}/{EXPORT}/data/BILLING_PERIOD={period}/{name}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        keys.append(key)
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{EXPORT}/metadata/BILLING_PERIOD={period}/{EXPORT}-Manifest.json",
                  Body=_manifest(period, listed if listed is not None else keys, execution))


@pytest.fixture()
def cur_bucket(aws_env, settings_env, monkeypatch):
    s3 = boto3.client("s3", endpoint_url=aws_env, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("GREENOPS_AWS_CUR_BUCKET", BUCKET)
    monkeypatch.setenv("GREENOPS_AWS_CUR_PREFIX", PREFIX)
    return s3


NOVEMBER_V1 = [
    _gpu_row("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z", "98.3178", "chat-70b"),
    _gpu_row("2026-11-01T01:00:00Z", "2026-11-01T02:00:00Z", "98.3178", "chat-70b"),
    _gpu_row("2026-11-01T02:00:00Z", "2026-11-01T03:00:00Z", "12.5", ""),
    _gpu_row("2026-11-31T00:00:00Z", "2026-11-01T01:00:00Z", "1", "chat-70b"),  # no 31 November
    _gpu_row("2026-11-01T03:00:00Z", "2026-11-01T04:00:00Z", "n/a", "chat-70b"),
    _gpu_row("2026-11-01T05:00:00Z", "2026-11-01T04:00:00Z", "1", "chat-70b"),  # ends before it starts
]


def test_restated_period_replaced_unchanged_period_not_reloaded(cur_bucket, settings_env):
    s3 = cur_bucket
    _deliver(s3, "2026-10", {f"{EXPORT}-00001.snappy.parquet": _parquet_october()}, "exec-oct")
    _deliver(s3, "2026-11", {f"{EXPORT}-00001.csv.gz": _csv_gz(NOVEMBER_V1)}, "exec-nov-1")
    s = get_settings()
    first = ingest_aws.ingest_aws_cur(settings=s, load_id="run-1")
    assert first == {"source": f"s3://{BUCKET}/{PREFIX}", "billing_periods": ["2026-10", "2026-11"],
                     "reloaded": ["2026-10", "2026-11"], "unchanged": [], "files": 2, "rows": 5, "quarantined": 3}

    october = _rows(s, """select line_item_usage_start_date::varchar, product_instance_type, line_item_net_unblended_cost,
        resource_tags, cur_format from raw.aws_cur_line_items where billing_period = '2026-10' order by _source_line""")
    assert october == [
        ("2026-10-01 00:00:00", "g6e.xlarge", 1.7, '{"user:deployment":"chat-8b","user:team":"search"}', "cur2"),
        ("2026-10-01 01:00:00", None, 0.0127, "{}", "cur2")]
    november = _rows(s, """select _source_line, line_item_unblended_cost, line_item_unblended_rate, resource_tags, _source_file
        from raw.aws_cur_line_items where billing_period = '2026-11' order by _source_line""")
    nov_file = f"s3://{BUCKET}/{PREFIX}/{EXPORT}/data/BILLING_PERIOD=2026-11/{EXPORT}-00001.csv.gz"
    assert november == [(2, 98.3178, "32.7726", '{"user:deployment":"chat-70b"}', nov_file),
                        (3, 98.3178, "32.7726", '{"user:deployment":"chat-70b"}', nov_file),
                        (4, 12.5, "32.7726", "{}", nov_file)]
    assert _rows(s, "select partition_date::varchar, _source_line, reason, _source_file from raw.quarantine "
                    "where source = 'aws_cur_line_items' order by _source_line") == [
        ("2026-11-01", 5, "unparseable line_item_usage_start_date: 2026-11-31T00:00:00Z", nov_file),
        ("2026-11-01", 6, "line_item_unblended_cost is not a number: n/a", nov_file),
        ("2026-11-01", 7, "usage period ends before it starts", nov_file)]

    # AWS restates November: a new delivery (new manifest, rewritten file) with other numbers
    _deliver(s3, "2026-11", {f"{EXPORT}-00001.csv.gz": _csv_gz([
        _gpu_row("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z", "90.00", "chat-70b"),
        _gpu_row("2026-11-01T03:00:00Z", "2026-11-01T04:00:00Z", "n/a", "chat-70b")])}, "exec-nov-2")
    second = ingest_aws.ingest_aws_cur(settings=s, load_id="run-2")
    assert (second["reloaded"], second["unchanged"], second["rows"], second["quarantined"]) == (["2026-11"], ["2026-10"], 1, 1)
    assert _rows(s, "select billing_period, _load_id, count(*), sum(line_item_unblended_cost) from raw.aws_cur_line_items "
                    "group by all order by 1") == [("2026-10", "run-1", 2, pytest.approx(1.8737)), ("2026-11", "run-2", 1, 90.0)]
    assert _rows(s, "select count(*) from raw.quarantine where source = 'aws_cur_line_items'") == [(1,)]
    assert _rows(s, "select period, _load_id, rows_loaded, rows_quarantined, data_files, object_key from raw.aws_export_loads order by 1") == [
        ("2026-10", "run-1", 2, 0, 1, f"{PREFIX}/{EXPORT}/metadata/BILLING_PERIOD=2026-10/{EXPORT}-Manifest.json"),
        ("2026-11", "run-2", 1, 1, 1, f"{PREFIX}/{EXPORT}/metadata/BILLING_PERIOD=2026-11/{EXPORT}-Manifest.json")]

    third = ingest_aws.ingest_aws_cur(settings=s, load_id="run-3")
    assert (third["reloaded"], third["unchanged"]) == ([], ["2026-10", "2026-11"])
    forced = ingest_aws.ingest_aws_cur(billing_periods=["2026-10"], settings=s, load_id="run-4", force=True)
    assert (forced["billing_periods"], forced["reloaded"]) == (["2026-10"], ["2026-10"])
    assert _rows(s, "select billing_period, _load_id, count(*) from raw.aws_cur_line_items group by all order by 1") == [
        ("2026-10", "run-4", 2), ("2026-11", "run-2", 1)]


def test_a_broken_delivery_changes_nothing(cur_bucket, settings_env):
    s3 = cur_bucket
    _deliver(s3, "2026-11", {f"{EXPORT}-00001.csv.gz": _csv_gz(NOVEMBER_V1[:2])}, "exec-1")
    s = get_settings()
    ingest_aws.ingest_aws_cur(settings=s, load_id="run-1")
    before = _rows(s, "select * exclude (_loaded_at) from raw.aws_cur_line_items order by all")
    loads = _rows(s, "select * exclude (_loaded_at) from raw.aws_export_loads")

    missing = f"{PREFIX}/{EXPORT}/data/BILLING_PERIOD=2026-11/{EXPORT}-00002.csv.gz"
    _deliver(s3, "2026-11", {}, "exec-2", listed=[missing])
    with pytest.raises(UnreadableFileError, match=f"Manifest.json: lists {missing}, which is not in the store"):
        ingest_aws.ingest_aws_cur(settings=s, load_id="run-2")

    _deliver(s3, "2026-11", {f"{EXPORT}-00001.csv.gz": _csv_gz(NOVEMBER_V1[:1]), f"{EXPORT}-00002.snappy.parquet": b"PAR1 not really"}, "exec-3")
    with pytest.raises(UnreadableFileError, match=f"cannot read s3://{BUCKET}/.*{EXPORT}-00002.snappy.parquet"):
        ingest_aws.ingest_aws_cur(settings=s, load_id="run-3")

    assert _rows(s, "select * exclude (_loaded_at) from raw.aws_cur_line_items order by all") == before
    assert _rows(s, "select * exclude (_loaded_at) from raw.aws_export_loads") == loads


def test_two_exports_for_one_period_need_the_export_setting(landing, settings_env, monkeypatch):
    for export in ("cur-a", "cur-b"):
        data = landing / "aws_cur" / export / "data" / "BILLING_PERIOD=2026-11" / "part-1.csv"
        data.parent.mkdir(parents=True)
        data.write_text("line_item_usage_start_date,line_item_unblended_cost\n2026-11-02T00:00:00Z,1\n")
        manifest = landing / "aws_cur" / export / "metadata" / "BILLING_PERIOD=2026-11" / f"{export}-Manifest.json"
        manifest.parent.mkdir(parents=True)
        manifest.write_text(json.dumps({"dataFiles": [f"s3://somewhere/{export}/data/BILLING_PERIOD=2026-11/part-1.csv"]}))
    with pytest.raises(ValueError, match="GREENOPS_AWS_CUR_EXPORT"):
        ingest_aws.ingest_aws_cur(settings=settings_env)
    monkeypatch.setenv("GREENOPS_AWS_CUR_EXPORT", "cur-b")
    summary = ingest_aws.ingest_aws_cur(settings=get_settings())
    assert (summary["reloaded"], summary["rows"]) == (["2026-11"], 1)
    assert _rows(settings_env, "select export_name, _source_file from raw.aws_cur_line_items") == [
        ("cur-b", "aws_cur/cur-b/data/BILLING_PERIOD=2026-11/part-1.csv")]
