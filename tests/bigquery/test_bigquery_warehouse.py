"""The BigQuery warehouse over the real google-cloud-bigquery client, against a local server on
127.0.0.1 that answers the REST calls (fake_bigquery.FakeBigQuery; the SDK itself is not patched).
Asserted: the SQL and parameters each call sends, the load jobs' destination (partition decorators),
write disposition and uploaded Parquet rows, and the rows the code returns."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from bq_sql_lint import problems
from fake_bigquery import FakeBigQuery, QueryResult, matching
from greenops import raw_tables as rt
from greenops.warehouse import PartitionWrite, get_warehouse
from greenops.warehouse.bigquery_warehouse import BigQueryWarehouse

DAY = date(2026, 11, 16)


@pytest.fixture()
def fake():
    with FakeBigQuery("greenops-test") as server:
        yield server


def _requests(n: int = 2) -> pa.Table:
    return rt.conform(rt.INFERENCE_REQUESTS, pa.table({
        "request_date": [DAY] * n,
        "request_id": [f"r{i}" for i in range(n)],
        "request_ts_utc": [datetime(2026, 11, 16, 10, i) for i in range(n)],
        "deployment": ["chat-8b-gcp"] * n,
        "prompt_tokens": pa.array(range(100, 100 + n), pa.int64()),
        "_file_id": [1] * n,
    }))


def test_query_sends_positional_parameters_and_returns_arrow(fake):
    fake.responders.append(matching("FROM raw.gcp_export_loads", QueryResult(
        [("period", "STRING"), ("fingerprint", "STRING"), ("loaded_at", "TIMESTAMP"), ("month_start", "DATE"), ("rows", "INTEGER")],
        [("2026-10", "files:abc", datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc), date(2026, 10, 1), 42)])))
    wh = BigQueryWarehouse(fake.client())
    got = wh.query("SELECT period, fingerprint, loaded_at, month_start, rows FROM raw.gcp_export_loads WHERE source = ? AND rows > ?",
                   ["gcp_carbon_footprint", 3])
    assert got.to_pylist() == [{"period": "2026-10", "fingerprint": "files:abc", "loaded_at": datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc),
                                "month_start": date(2026, 10, 1), "rows": 42}]
    sent = fake.queries[-1]
    assert sent["sql"].endswith("WHERE source = ? AND rows > ?")
    assert sent["body"]["useLegacySql"] is False and sent["body"]["parameterMode"] == "POSITIONAL"
    assert sent["parameters"] == {"$0": "gcp_carbon_footprint", "$1": "3"}
    assert [p["parameterType"]["type"] for p in sent["body"]["queryParameters"]] == ["STRING", "INT64"]


def test_ensure_raw_tables_creates_datasets_partitioned_tables_and_missing_columns(fake):
    # the warehouse has gpu_telemetry_samples without the column a newer release added
    have = [(f.name,) for f in rt.GPU_TELEMETRY.schema if f.name != "sm_clock_mhz"]
    fake.responders.append(lambda sql, p: QueryResult([("table_name", "STRING"), ("column_name", "STRING")],
                                                      [("gpu_telemetry_samples", c) for (c,) in have]) if "INFORMATION_SCHEMA.COLUMNS" in sql else None)
    wh = BigQueryWarehouse(fake.client())
    wh.ensure_raw_tables()
    wh.ensure_raw_tables()  # once per warehouse object
    ddl, columns, alter = fake.sql()
    assert "CREATE SCHEMA IF NOT EXISTS `greenops-test.raw` OPTIONS(location = 'US')" in ddl
    assert "CREATE SCHEMA IF NOT EXISTS `greenops-test.raw_staging` OPTIONS(location = 'US', default_table_expiration_days = 1)" in ddl
    assert ddl.count("CREATE TABLE IF NOT EXISTS") == len(rt.ALL_TABLES)
    assert "`greenops-test.raw.gpu_telemetry_samples` (`sample_date` DATE, `sample_ts_utc` TIMESTAMP, `host` STRING, `gpu_index` INT64," in ddl
    assert ") PARTITION BY sample_date OPTIONS(" in ddl
    assert "`total_market_kgco2e` FLOAT64, `_source_file` STRING, `_source_line` INT64, `_load_id` STRING, `_loaded_at` TIMESTAMP) " \
           "PARTITION BY DATE_TRUNC(usage_month_start, MONTH) CLUSTER BY `usage_month`, `project_id`" in ddl
    assert "`raw.gcp_billing_export`" not in ddl and "PARTITION BY usage_date CLUSTER BY `invoice_month`, `project_id`" in ddl
    assert "`greenops-test.raw.INFORMATION_SCHEMA.COLUMNS`" in columns
    assert alter == "ALTER TABLE `greenops-test.raw.gpu_telemetry_samples` ADD COLUMN IF NOT EXISTS `sm_clock_mhz` FLOAT64;"


def test_one_day_is_replaced_by_a_load_job_on_the_partition_decorator(fake):
    wh = BigQueryWarehouse(fake.client())
    wh.replace_partitions([PartitionWrite(rt.INFERENCE_REQUESTS, _requests(), (DAY,))])
    assert len(fake.loads) == 1
    load = fake.loads[0]
    assert load.destination == "greenops-test.raw.inference_requests$20261116"
    assert load.configuration["writeDisposition"] == "WRITE_TRUNCATE" and load.configuration["sourceFormat"] == "PARQUET"
    assert [(r["request_id"], r["request_date"], r["request_ts_utc"], r["prompt_tokens"], r["deployment"]) for r in load.parquet_rows] == [
        ("r0", DAY, datetime(2026, 11, 16, 10, 0, tzinfo=timezone.utc), 100, "chat-8b-gcp"),
        ("r1", DAY, datetime(2026, 11, 16, 10, 1, tzinfo=timezone.utc), 101, "chat-8b-gcp")]
    assert list(load.parquet_rows[0]) == rt.INFERENCE_REQUESTS.columns
    assert not any("DELETE" in q or "INSERT" in q for q in fake.sql())  # no DML: the load job replaced the day


def test_retention_deletes_old_days_and_their_files_lineage(fake):
    wh = BigQueryWarehouse(fake.client())
    wh.delete_partitions_before(rt.GPU_TELEMETRY, DAY)
    wh.delete_partitions_before(rt.QUARANTINE, DAY)  # a table without loaded_files rows
    telemetry, quarantine = fake.queries
    assert telemetry["sql"] == ("DELETE FROM `greenops-test.raw.gpu_telemetry_samples` WHERE `sample_date` < @cutoff;\n"
                                "DELETE FROM `greenops-test.raw.loaded_files` WHERE raw_table = @raw_table "
                                "AND partition_date < @cutoff;")
    assert telemetry["parameters"] == {"cutoff": "2026-11-16", "raw_table": "gpu_telemetry_samples"}
    assert quarantine["sql"] == "DELETE FROM `greenops-test.raw.quarantine` WHERE `partition_date` < @cutoff;"


def test_rows_outside_the_partition_are_refused(fake):
    wh = BigQueryWarehouse(fake.client())
    data = _requests().set_column(0, "request_date", pa.array([DAY, date(2026, 11, 17)], pa.date32()))
    with pytest.raises(ValueError, match="outside partition 2026-11-16"):
        wh.replace_partitions([PartitionWrite(rt.INFERENCE_REQUESTS, data, (DAY,))])
    assert fake.loads == []


def test_several_writes_commit_in_one_transaction_from_staging_tables(fake):
    wh = BigQueryWarehouse(fake.client())
    cur = rt.conform(rt.AWS_CUR_LINE_ITEMS, pa.table({"billing_period": ["2026-11"], "line_item_unblended_cost": [10.49],
                                                       "line_item_usage_start_date": [datetime(2026, 11, 16, 0, 0)]}))
    quarantine = rt.conform(rt.QUARANTINE, pa.table({"source": ["aws_cur_line_items"], "partition_date": [date(2026, 11, 1)],
                                                      "reason": ["line_item_unblended_cost is not a number: abc"]}))
    wh.replace_partitions([
        PartitionWrite(rt.AWS_CUR_LINE_ITEMS, cur, ("2026-11",)),
        PartitionWrite(rt.QUARANTINE, quarantine, (date(2026, 11, 1),), {"source": "aws_cur_line_items"}),
    ])
    assert [load.configuration["writeDisposition"] for load in fake.loads] == ["WRITE_TRUNCATE", "WRITE_TRUNCATE"]
    staged = [load.destination for load in fake.loads]
    assert staged[0].startswith("greenops-test.raw_staging.aws_cur_line_items_") and staged[1].startswith("greenops-test.raw_staging.quarantine_")
    assert fake.loads[0].parquet_rows[0]["line_item_unblended_cost"] == 10.49
    assert fake.loads[1].parquet_rows[0]["reason"] == "line_item_unblended_cost is not a number: abc"
    script = next(q for q in fake.queries if "BEGIN TRANSACTION" in q["sql"])
    sql = script["sql"]
    assert sql.startswith("BEGIN\n  BEGIN TRANSACTION;")
    assert "DELETE FROM `greenops-test.raw.aws_cur_line_items` WHERE `billing_period` IN UNNEST(@w0_partitions);" in sql
    assert f"FROM `{staged[0]}`;" in sql and f"FROM `{staged[1]}`;" in sql
    assert "DELETE FROM `greenops-test.raw.quarantine` WHERE `partition_date` IN UNNEST(@w1_partitions) AND `source` = @w1_scope0;" in sql
    assert sql.index("DELETE FROM `greenops-test.raw.quarantine`") < sql.index("COMMIT TRANSACTION;") < sql.index("ROLLBACK TRANSACTION;")
    assert script["parameters"] == {"w0_partitions": ["2026-11"], "w1_partitions": ["2026-11-01"], "w1_scope0": "aws_cur_line_items"}
    assert [p["parameterType"]["arrayType"]["type"] for p in script["body"]["queryParameters"][:2]] == ["STRING", "DATE"]
    drop = fake.sql()[-1]
    assert drop.count("DROP TABLE IF EXISTS `greenops-test.raw_staging.") == 2


def test_a_failed_transaction_raises_and_still_drops_its_staging_tables(fake):
    from google.api_core.exceptions import BadRequest

    fake.fail_when.append(lambda sql: "Transaction aborted: concurrent update" if "BEGIN TRANSACTION" in sql else None)
    wh = BigQueryWarehouse(fake.client())
    with pytest.raises(BadRequest, match="concurrent update"):
        wh.replace_partitions([PartitionWrite(rt.INFERENCE_REQUESTS, _requests(), (DAY,)),
                               PartitionWrite(rt.QUARANTINE, rt.empty(rt.QUARANTINE), (DAY,), {"source": "inference_requests"})])
    assert fake.sql()[-1].startswith("DROP TABLE IF EXISTS `greenops-test.raw_staging.inference_requests_")


def test_the_warehouse_kind_setting_picks_bigquery(fake, monkeypatch):
    monkeypatch.setenv("GREENOPS_WAREHOUSE_KIND", "bigquery")
    monkeypatch.setenv("GREENOPS_BQ_PROJECT", "greenops-test")
    monkeypatch.setenv("GREENOPS_BQ_API_ENDPOINT", fake.url)
    wh = get_warehouse()
    assert isinstance(wh, BigQueryWarehouse) and wh.project == "greenops-test" and wh.location == "US"
    monkeypatch.delenv("GREENOPS_BQ_PROJECT")
    with pytest.raises(ValueError, match="GREENOPS_BQ_PROJECT"):
        get_warehouse()


# --------------------------------------------------------------------------------------------
# GCP exports already in BigQuery: copied by a query job, never downloaded


def test_gcp_carbon_export_is_copied_inside_bigquery_for_changed_months(fake, monkeypatch, tmp_path):
    from greenops import ingest_gcp

    monkeypatch.setenv("GREENOPS_WAREHOUSE_KIND", "bigquery")
    monkeypatch.setenv("GREENOPS_BQ_PROJECT", "greenops-test")
    monkeypatch.setenv("GREENOPS_BQ_API_ENDPOINT", fake.url)
    monkeypatch.setenv("GREENOPS_GCP_CARBON_TABLE", "billing-admin:carbon.carbon_footprint")
    monkeypatch.setenv("GREENOPS_LANDING_DIR", str(tmp_path))  # not read on this path
    fake.responders += [
        matching("FROM raw.gcp_export_loads", QueryResult([("period", "STRING"), ("fingerprint", "STRING")],
                                                          [("2026-09", "bigquery:3:-77"), ("2026-10", "bigquery:3:12")])),
        matching("farm_fingerprint", QueryResult(
            [("period", "STRING"), ("fingerprint", "STRING"), ("carbon_model_versions", "STRING")],
            [("2026-09", "bigquery:3:-77", "11"), ("2026-10", "bigquery:4:99", "11,12")])),  # October restated
    ]
    summary = ingest_gcp.ingest_gcp_carbon(load_id="run-1")
    assert summary["reloaded"] == ["2026-10"] and summary["unchanged"] == ["2026-09"]
    assert summary["source"] == "bigquery:billing-admin.carbon.carbon_footprint"

    fingerprint_sql = next(s for s in fake.sql() if "farm_fingerprint" in s)
    assert "from `billing-admin.carbon.carbon_footprint` t" in fingerprint_sql
    script = next(q for q in fake.queries if "BEGIN TRANSACTION" in q["sql"])
    sql = script["sql"]
    assert "DELETE FROM `greenops-test.raw.gcp_carbon_footprint` WHERE `usage_month` IN UNNEST(@w0_partitions);" in sql
    assert "INSERT INTO `greenops-test.raw.gcp_carbon_footprint` (`usage_month`, `usage_month_start`," in sql
    assert "cast(t.`carbon_footprint_kgCO2e`.`scope2`.`location_based` as FLOAT64) as scope2_location_kgco2e" in sql
    assert "cast(t.`carbon_footprint_total_kgCO2e`.`market_based` as FLOAT64) as total_market_kgco2e" in sql
    assert "cast(t.`carbon_model_version` as INT64) as carbon_model_version" in sql
    assert "where format_date('%Y-%m', t.usage_month) in unnest(@q0_periods)" in sql
    assert "DELETE FROM `greenops-test.raw.quarantine` WHERE `partition_date` IN UNNEST(@w1_partitions) AND `source` = @w1_scope0;" in sql
    assert "DELETE FROM `greenops-test.raw.gcp_export_loads` WHERE `period` IN UNNEST(@w2_partitions) AND `source` = @w2_scope0;" in sql
    assert script["parameters"]["q0_periods"] == ["2026-10"] and script["parameters"]["q0_load_id"] == "run-1"
    assert script["parameters"]["w0_partitions"] == ["2026-10"] and script["parameters"]["w1_partitions"] == ["2026-10-01"]
    # the load record is the only thing uploaded: the carbon rows never left BigQuery
    (record_load,) = [load for load in fake.loads if "gcp_export_loads" in load.destination]
    assert len(fake.loads) == 1
    assert [(r["period"], r["fingerprint"], r["carbon_model_versions"], r["origin"]) for r in record_load.parquet_rows] == [
        ("2026-10", "bigquery:4:99", "11,12", "bigquery:billing-admin.carbon.carbon_footprint")]


def test_the_in_bigquery_copies_are_bigquery_sql():
    from greenops.sources import gcp_billing, gcp_carbon

    for module in (gcp_carbon, gcp_billing):
        for sql in (module.bigquery_select("p.d.export"), module.bigquery_fingerprints("p.d.export")):
            assert problems(sql) == [], sql
    select = gcp_billing.bigquery_select("p.d.gcp_billing_export_v1_X")
    assert "coalesce((select sum(c.amount) from unnest(t.credits) c), 0) as credits_amount" in select
    assert "to_json_string(coalesce(t.`credits`, [])) as credits" in select
    assert "from unnest(t.`labels`)" in select and "as labels" in select
    # each row's id from its content and copy number: no row_number() over the whole read (one worker)
    assert "over ()" not in select and "row_number() over (partition by farm_fingerprint(to_json_string(t)))" in select


def test_gcp_billing_from_bigquery_looks_at_the_months_google_still_restates(fake, monkeypatch):
    from greenops import ingest_gcp
    from greenops.sources import gcp_billing

    monkeypatch.setenv("GREENOPS_WAREHOUSE_KIND", "bigquery")
    monkeypatch.setenv("GREENOPS_BQ_PROJECT", "greenops-test")
    monkeypatch.setenv("GREENOPS_BQ_API_ENDPOINT", fake.url)
    monkeypatch.setenv("GREENOPS_GCP_BILLING_TABLE", "billing-admin.billing.gcp_billing_export_v1_01D0E5_6A7B8C_9D0E1F")
    fake.responders += [
        matching("FROM raw.gcp_export_loads", QueryResult([("period", "STRING"), ("fingerprint", "STRING")], [])),  # first load
        matching("farm_fingerprint", QueryResult([("period", "STRING"), ("fingerprint", "STRING"), ("carbon_model_versions", "STRING")],
                                                 [("2026-12", "bigquery:10:5", None)])),
        # a standard export: no resource.* fields
        matching("COLUMN_FIELD_PATHS", QueryResult([("field_path", "STRING")], [(".".join(c.path),) for c in gcp_billing.COLUMNS
                                                                                if c.path[0] != "resource"])),
    ]
    summary = ingest_gcp.ingest_gcp_billing(date(2027, 1, 3), load_id="run-2")
    fingerprint = next(q for q in fake.queries if "farm_fingerprint" in q["sql"])
    assert fingerprint["parameters"] == {"periods": ["2026-12", "2027-01"]}  # the run's month and the one before
    assert summary["reloaded"] == ["2026-12"]
    script = next(q for q in fake.queries if "BEGIN TRANSACTION" in q["sql"])
    assert "INSERT INTO `greenops-test.raw.gcp_billing_export`" in script["sql"]
    assert "from `billing-admin.billing.gcp_billing_export_v1_01D0E5_6A7B8C_9D0E1F` t" in script["sql"]
    assert script["parameters"]["q0_periods"] == ["2026-12"]
    assert "cast(null as STRING) as resource_name" in script["sql"] and "cast(t.`project`.`id` as STRING) as project_id" in script["sql"]
    fields = next(s for s in fake.sql() if "COLUMN_FIELD_PATHS" in s)
    assert "from `billing-admin.billing`.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS where table_name = 'gcp_billing_export_v1_01D0E5_6A7B8C_9D0E1F'" in fields


def test_request_logs_load_into_bigquery_and_an_unchanged_file_of_another_day_is_not_read_again(fake, monkeypatch, landing):
    """A day's request logs parsed in DuckDB reach BigQuery as load jobs on the day's partitions; the
    file of the day before is not parsed when raw.loaded_files says it is unchanged and holds none of
    the day's rows (here it does hold one, so that not reading it shows: the record is trusted while
    the file's size and modification time match)."""
    import json
    import os

    from greenops import ingest
    from greenops.settings import PROJECT_ROOT, get_settings

    monkeypatch.setenv("GREENOPS_WAREHOUSE_KIND", "bigquery")
    monkeypatch.setenv("GREENOPS_BQ_PROJECT", "greenops-test")
    monkeypatch.setenv("GREENOPS_BQ_API_ENDPOINT", fake.url)
    monkeypatch.setenv("GREENOPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("GREENOPS_FLEET_FILE", str(PROJECT_ROOT / "include" / "demo_fleet.yaml"))

    def write(day, request_id, ts):
        path = landing / "inference_logs" / f"date={day}" / "chat.jsonl"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"request_id": request_id, "timestamp": ts, "deployment": "chat-70b-fra",
                                    "model": "llama-3.1-70b-instruct", "project": "search", "prompt_tokens": 10,
                                    "completion_tokens": 5, "status": "success"}) + "\n")
        return path

    before = write("2026-11-15", "late", "2026-11-16T00:30:00Z")
    write("2026-11-16", "own", "2026-11-16T10:00:00Z")
    st = before.stat()
    modified = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=st.st_mtime_ns // 1000)
    fake.responders.append(matching(f"FROM raw.{rt.LOADED_FILES.name}", QueryResult(
        [("_source_file", "STRING"), ("file_size_bytes", "INTEGER"), ("file_modified_utc", "TIMESTAMP"), ("time_zone", "STRING"),
         ("first_ts_utc", "TIMESTAMP"), ("last_ts_utc", "TIMESTAMP")],
        [("inference_logs/date=2026-11-15/chat.jsonl", st.st_size, modified, None,
          datetime(2026, 11, 15, 8, tzinfo=timezone.utc), datetime(2026, 11, 15, 23, tzinfo=timezone.utc))])))

    summary = ingest.ingest_inference_logs(DAY, load_id="run-1", settings=get_settings())
    assert summary == {"day": "2026-11-16", "files": 2, "rows": 1, "quarantined": 0}
    lookup = next(q for q in fake.queries if f"FROM raw.{rt.LOADED_FILES.name}" in q["sql"])
    assert lookup["parameters"] == {"$0": "inference_requests", "$1": "2026-11-14", "$2": "2026-11-18"}
    assert problems(lookup["sql"]) == []
    # the day's rows, quarantine and files: staged by load jobs, committed in one transaction
    def staged(table):
        return next(load.parquet_rows for load in fake.loads if load.destination.startswith(f"greenops-test.raw_staging.{table}_"))

    assert [r["request_id"] for r in staged("inference_requests")] == ["own"]
    files = staged("loaded_files")
    assert [(f["_file_id"], f["_source_file"], f["first_ts_utc"], f["last_ts_utc"]) for f in files] == [
        (1, "inference_logs/date=2026-11-15/chat.jsonl", datetime(2026, 11, 15, 8, tzinfo=timezone.utc),
         datetime(2026, 11, 15, 23, tzinfo=timezone.utc)),  # as recorded: not read
        (2, "inference_logs/date=2026-11-16/chat.jsonl", datetime(2026, 11, 16, 10, tzinfo=timezone.utc),
         datetime(2026, 11, 16, 10, tzinfo=timezone.utc))]
    # touched since it was recorded: read, and its request of the day loaded
    os.utime(before, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    fake.loads.clear()
    assert ingest.ingest_inference_logs(DAY, load_id="run-2", settings=get_settings())["rows"] == 2
    assert sorted(r["request_id"] for r in staged("inference_requests")) == ["late", "own"]
