"""Loading a day: partitions are replaced (never appended), duplicates and rows of other days are
handled, and a failed load leaves the previous partition in place."""

from __future__ import annotations

import json
import logging
import os
import threading
from contextlib import closing
from datetime import date

import duckdb
import pytest

from greenops import ingest
from greenops.settings import PROJECT_ROOT
from greenops.sources.common import UnreadableFileError, files_for_day

HEADER = "timestamp, index, uuid, name, power.draw [W]"


def _smi(landing, folder, name, rows):
    path = landing / "gpu_telemetry" / "host=fra1-gpu01" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture()
def fleet(monkeypatch):
    monkeypatch.setenv("GREENOPS_FLEET_FILE", str(PROJECT_ROOT / "include" / "demo_fleet.yaml"))


def _rows(settings, sql):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_files_for_day_reads_neighbouring_dates_and_undated_files(landing):
    for folder in ("date=2026-11-19", "date=2026-11-20", "date=2026-11-21", "date=2026-11-22"):
        _smi(landing, folder, "a.csv", [])
    _smi(landing, "", "undated.csv", [])
    # the outermost date folder dates a file: the walk skips other days' folders, whatever is inside
    _smi(landing, "date=2026-11-20/date=2026-01-01", "nested.csv", [])
    _smi(landing, "date=2026-10-01", "smi-2026-11-20.csv", [])
    _smi(landing, "logs", "smi-2026-11-21.csv", [])
    _smi(landing, "logs", "smi-2026-11-23.csv", [])
    _smi(landing, "date=2026-02-30", "impossible.csv", [])  # no such day: entered, its files undated
    (landing / "gpu_telemetry" / "host=fra1-gpu01" / "date=2026-02-30" / "notes.txt").write_text("x")
    found = files_for_day(landing, "gpu_telemetry", date(2026, 11, 20), (".csv",))
    got = [f.rel.split("/", 2)[2] for f in found]
    assert got == ["date=2026-02-30/impossible.csv", "date=2026-11-19/a.csv", "date=2026-11-20/a.csv", "date=2026-11-20/date=2026-01-01/nested.csv",
                   "date=2026-11-21/a.csv", "logs/smi-2026-11-21.csv", "undated.csv"]
    assert [f.file_date for f in found][:2] == [None, date(2026, 11, 19)]


@pytest.mark.parametrize("batch_rows", [ingest.DUPLICATE_BATCH_ROWS, 1], ids=["one batch", "a batch per file"])
def test_day_rows_only_duplicates_quarantined_and_rerun_replaces(landing, settings_env, fleet, monkeypatch, batch_rows):
    # with batches of one row, the duplicate search still groups the two files that share a GPU and hour
    monkeypatch.setattr(ingest, "DUPLICATE_BATCH_ROWS", batch_rows)
    # fra1 is Europe/Berlin (UTC+1 in November): local 00:30 on the 21st is 23:30 UTC on the 20th
    _smi(landing, "date=2026-11-20", "a.csv", [
        "2026/11/20 00:30:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 100 W",  # 19th 23:30 UTC: not this day
        "2026/11/20 10:00:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 200 W",
    ])
    _smi(landing, "date=2026-11-21", "a.csv", [
        "2026/11/21 00:30:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 300 W",  # 20th 23:30 UTC
        "2026/11/20 10:00:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 999 W",  # a duplicate sample
    ])
    first = ingest.ingest_gpu_telemetry(date(2026, 11, 20), settings=settings_env)
    assert first == {"day": "2026-11-20", "files": 2, "rows": 2, "quarantined": 1}
    assert _rows(settings_env, "select sample_ts_utc::varchar, power_w from raw.gpu_telemetry_samples order by 1") == [
        ("2026-11-20 09:00:00", 200.0), ("2026-11-20 23:30:00", 300.0)]
    assert _rows(settings_env, "select reason, raw_record, _source_file, _source_line from raw.quarantine") == [
        ("duplicate sample (same GPU and timestamp)",
         "duplicate of gpu_telemetry/host=fra1-gpu01/date=2026-11-20/a.csv:3",
         "gpu_telemetry/host=fra1-gpu01/date=2026-11-21/a.csv", 3)]
    # each row's file is in raw.loaded_files (numbered in path order per table and day), its line on the row
    files = [("gpu_telemetry_samples", "2026-11-20", 1, "gpu_telemetry/host=fra1-gpu01/date=2026-11-20/a.csv", "nvidia_smi_csv"),
             ("gpu_telemetry_samples", "2026-11-20", 2, "gpu_telemetry/host=fra1-gpu01/date=2026-11-21/a.csv", "nvidia_smi_csv")]
    lineage = """select f._source_file, s._source_line, s.power_w from raw.gpu_telemetry_samples s join raw.loaded_files f
                 on f.raw_table = 'gpu_telemetry_samples' and f.partition_date = s.sample_date and f._file_id = s._file_id order by 3"""
    rows = [(files[0][3], 3, 200.0), (files[1][3], 2, 300.0)]
    assert _rows(settings_env, "select raw_table, partition_date::varchar, _file_id, _source_file, source_format "
                               "from raw.loaded_files order by _file_id") == files
    assert _rows(settings_env, lineage) == rows
    ingest.ingest_gpu_telemetry(date(2026, 11, 20), settings=settings_env)
    assert _rows(settings_env, "select count(*) from raw.gpu_telemetry_samples") == [(2,)]
    assert _rows(settings_env, "select count(*) from raw.quarantine") == [(1,)]
    assert _rows(settings_env, "select count(*) from raw.loaded_files") == [(2,)]
    assert _rows(settings_env, lineage) == rows


def test_failed_load_leaves_the_partition(landing, settings_env, fleet):
    _smi(landing, "date=2026-11-20", "a.csv", ["2026/11/20 10:00:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 200 W"])
    ingest.ingest_gpu_telemetry(date(2026, 11, 20), settings=settings_env)
    _smi(landing, "date=2026-11-20", "b.csv", ["2026/11/20 11:00:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 250 W"])
    (landing / "gpu_telemetry" / "host=fra1-gpu01" / "date=2026-11-20" / "c.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(UnreadableFileError, match="c.csv"):
        ingest.ingest_gpu_telemetry(date(2026, 11, 20), settings=settings_env)
    assert _rows(settings_env, "select power_w from raw.gpu_telemetry_samples") == [(200.0,)]


def test_retention_deletes_raw_telemetry_days_before_the_window_and_nothing_else(landing, settings_env, fleet, monkeypatch):
    # fra1 is Europe/Berlin: local 12:00 is 11:00 UTC the same day
    days = [date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    for day in days:
        _smi(landing, f"date={day}", "a.csv", [f"{day:%Y/%m/%d} 12:00:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 200 W",
                                                f"{day:%Y/%m/%d} 12:00:01.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 1e9 W"])
    for day in days[:3]:
        ingest.ingest_gpu_telemetry(day, settings=settings_env)
    monkeypatch.setenv("GREENOPS_RAW_TELEMETRY_RETENTION_DAYS", "2")
    from greenops.settings import get_settings

    ingest.ingest_gpu_telemetry(days[3], settings=get_settings())
    # the day loaded and the 2 days before it stay; older raw samples go, with their files' lineage; the
    # quarantine is untouched
    assert _rows(settings_env, "select distinct sample_date::varchar from raw.gpu_telemetry_samples order by 1") == [
        ("2026-11-18",), ("2026-11-19",), ("2026-11-20",)]
    assert _rows(settings_env, "select distinct partition_date::varchar from raw.loaded_files order by 1") == [
        ("2026-11-18",), ("2026-11-19",), ("2026-11-20",)]
    assert _rows(settings_env, "select count(*) from raw.quarantine") == [(4,)]
    # a backfill of an old day counts from that day: it deletes nothing newer
    ingest.ingest_gpu_telemetry(days[0], settings=get_settings())
    assert _rows(settings_env, "select distinct sample_date::varchar from raw.gpu_telemetry_samples order by 1") == [
        ("2026-11-17",), ("2026-11-18",), ("2026-11-19",), ("2026-11-20",)]


def test_retention_deletes_raw_requests_days_before_the_window_and_keeps_the_quarantine(landing, settings_env, fleet, monkeypatch):
    days = [date(2026, 11, 17), date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20)]
    for day in days:
        path = landing / "inference_logs" / f"date={day}" / "chat.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        ok = {"request_id": f"r-{day}", "timestamp": f"{day}T10:00:00Z", "deployment": "chat-70b-fra",
              "model": "llama-3.1-70b-instruct", "project": "search", "prompt_tokens": 10, "completion_tokens": 5,
              "status": "success"}
        path.write_text(json.dumps(ok) + "\n" + "not json\n")
    for day in days[:3]:
        ingest.ingest_inference_logs(day, settings=settings_env)
    monkeypatch.setenv("GREENOPS_RAW_REQUESTS_RETENTION_DAYS", "2")
    monkeypatch.setenv("GREENOPS_RAW_TELEMETRY_RETENTION_DAYS", "0")  # the other table's setting does not apply
    from greenops.settings import get_settings

    ingest.ingest_inference_logs(days[3], settings=get_settings())
    assert _rows(settings_env, "select request_id from raw.inference_requests order by 1") == [
        ("r-2026-11-18",), ("r-2026-11-19",), ("r-2026-11-20",)]
    assert _rows(settings_env, "select distinct partition_date::varchar from raw.loaded_files order by 1") == [
        ("2026-11-18",), ("2026-11-19",), ("2026-11-20",)]
    assert _rows(settings_env, "select count(*) from raw.quarantine") == [(4,)]


def test_duplicates_of_a_later_day_are_quarantined_at_volume(landing, settings_env, fleet):
    # the second day's load reads the first day's file (a neighbour: none of its rows are the day's)
    # before the day's large file; the duplicate search must still see the day's rows (duckdb 2.0.0 did
    # not: tests/unit/test_duckdb_engine.py)
    def requests(day, name, n):
        path = landing / "inference_logs" / f"date={day}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect() as con:
            con.execute(f"""COPY (SELECT 'r-' || range AS request_id,
                                         strftime(TIMESTAMP '{day} 00:00:00' + to_milliseconds(range), '%Y-%m-%dT%H:%M:%S.%gZ') AS timestamp,
                                         'chat-70b-fra' AS deployment, 'llama-3.1-70b-instruct' AS model, 'search' AS project,
                                         10 AS prompt_tokens, 5 AS completion_tokens, 'success' AS status
                                  FROM range({n})) TO '{path}' (FORMAT json)""")

    requests("2026-11-20", "a.jsonl", 3)
    assert ingest.ingest_inference_logs(date(2026, 11, 20), settings=settings_env)["rows"] == 3
    # touched since: the next day's load cannot know it holds none of its rows, and reads it
    first = landing / "inference_logs" / "date=2026-11-20" / "a.jsonl"
    os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 1_000_000))
    requests("2026-11-21", "a.jsonl", 150_000)  # more than a row group
    requests("2026-11-21", "b.jsonl", 10)  # the first 10 ids again
    summary = ingest.ingest_inference_logs(date(2026, 11, 21), settings=settings_env)
    assert (summary["rows"], summary["quarantined"]) == (150_000, 10)
    assert _rows(settings_env, "select count(*), count(distinct request_id) from raw.inference_requests "
                               "where request_date = '2026-11-21'") == [(150_000, 150_000)]
    assert _rows(settings_env, "select count(*), min(reason), min(_source_file) from raw.quarantine") == [
        (10, "duplicate request_id", "inference_logs/date=2026-11-21/b.jsonl")]


def test_a_file_of_another_day_is_read_again_only_if_it_may_hold_the_days_rows(landing, settings_env, fleet, caplog):
    def write(day, lines, mode="w"):
        path = landing / "inference_logs" / f"date={day}" / "chat.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open(mode) as f:
            f.writelines((line if isinstance(line, str) else json.dumps(
                {"request_id": line[0], "timestamp": line[1], "deployment": "chat-70b-fra", "model": "llama-3.1-70b-instruct",
                 "project": "search", "prompt_tokens": 10, "completion_tokens": 5, "status": "success"})) + "\n" for line in lines)

    def load(day):
        caplog.clear()
        summary = ingest.ingest_inference_logs(date.fromisoformat(day), settings=settings_env)
        not_read = [r.getMessage() for r in caplog.records if "not read" in r.getMessage()]
        return summary["rows"], summary["quarantined"], not_read

    files_of = ("select _file_id, _source_file, source_format, file_size_bytes, file_modified_utc, first_ts_utc::varchar, "
                "last_ts_utc::varchar from raw.loaded_files where partition_date = '{}' order by 1")
    caplog.set_level(logging.INFO, logger="greenops.ingest")
    # the 20th's log (local dates): a request of the 21st UTC and a line that is not JSON; the 21st's: one request
    write("2026-11-20", [("a", "2026-11-20T10:00:00Z"), ("b", "2026-11-20T23:30:00-02:00"), "not json"])
    write("2026-11-21", [("c", "2026-11-21T12:00:00Z")])
    # the 22nd first: nothing is known of the 21st's file, so it is read (none of its rows are the 22nd's)
    assert load("2026-11-22") == (0, 0, [])
    before = _rows(settings_env, files_of.format("2026-11-22"))
    assert [r[1:2] + r[5:] for r in before] == [("inference_logs/date=2026-11-21/chat.jsonl", "2026-11-21 12:00:00", "2026-11-21 12:00:00")]
    # the 20th: the 22nd's load took the 21st's file's span, which misses the 20th: not read
    assert load("2026-11-20") == (1, 1, ["1 files not read: unchanged since a load found all their rows outside 2026-11-20"])
    # the 21st: the 20th's file reaches into it (01:30 UTC), so it is read, as is its own file
    assert load("2026-11-21") == (2, 0, [])
    assert _rows(settings_env, "select request_id, request_date::varchar from raw.inference_requests order by 1") == [
        ("a", "2026-11-20"), ("b", "2026-11-21"), ("c", "2026-11-21")]
    assert _rows(settings_env, "select first_ts_utc::varchar, last_ts_utc::varchar from raw.loaded_files "
                               "where partition_date = '2026-11-21' order by _file_id") == [
        ("2026-11-20 10:00:00", "2026-11-21 01:30:00"), ("2026-11-21 12:00:00", "2026-11-21 12:00:00")]
    # the 22nd again: its file list is the same as when it read the file (a rerun gives the same warehouse)
    assert load("2026-11-22") == (0, 0, ["1 files not read: unchanged since a load found all their rows outside 2026-11-22"])
    assert _rows(settings_env, files_of.format("2026-11-22")) == before
    # a file that changed is read again
    write("2026-11-21", [("d", "2026-11-22T00:10:00Z")], mode="a")
    assert load("2026-11-22") == (1, 0, [])
    assert _rows(settings_env, "select request_id from raw.inference_requests where request_date = '2026-11-22'") == [("d",)]


def test_an_nvidia_smi_file_of_another_day_is_read_again_when_its_hosts_time_zone_changes(landing, settings_env, tmp_path,
                                                                                         monkeypatch, caplog):
    # nvidia-smi prints local time: a file's UTC span depends on its host's zone in the fleet file
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text((PROJECT_ROOT / "include" / "demo_fleet.yaml").read_text())
    monkeypatch.setenv("GREENOPS_FLEET_FILE", str(fleet_file))
    from greenops.settings import get_settings

    _smi(landing, "date=2026-11-20", "a.csv", ["2026/11/20 10:00:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 200 W"])
    _smi(landing, "date=2026-11-21", "a.csv", ["2026/11/21 00:30:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 300 W"])
    caplog.set_level(logging.INFO, logger="greenops.ingest")

    def load(day):
        caplog.clear()
        summary = ingest.ingest_gpu_telemetry(date.fromisoformat(day), settings=get_settings())
        return summary["rows"], any("files not read" in r.getMessage() for r in caplog.records)

    # fra1 is Europe/Berlin: the 21st's 00:30 is the 20th's 23:30 UTC
    assert load("2026-11-21") == (0, False)  # the 20th's file: nothing known of it yet, read
    assert load("2026-11-20") == (2, False)  # the 21st's file reaches into the 20th: read
    assert _rows(settings_env, "select time_zone, last_ts_utc::varchar from raw.loaded_files where partition_date = '2026-11-20' "
                               "order by _file_id") == [("Europe/Berlin", "2026-11-20 09:00:00"), ("Europe/Berlin", "2026-11-20 23:30:00")]
    assert load("2026-11-21") == (0, True)  # the 20th's file, unchanged, ends on the 20th: not read
    # the host moves to UTC-10: the same local times are now the 21st's 10:30 UTC, so the file is read
    fleet_file.write_text(fleet_file.read_text().replace("Europe/Berlin", "Pacific/Honolulu"))
    assert load("2026-11-21") == (1, False)
    assert _rows(settings_env, "select sample_ts_utc::varchar from raw.gpu_telemetry_samples where sample_date = '2026-11-21'") == [
        ("2026-11-21 10:30:00",)]


@pytest.mark.parametrize("name, field", [("GREENOPS_RAW_TELEMETRY_RETENTION_DAYS", "raw_telemetry_retention_days"),
                                         ("GREENOPS_RAW_REQUESTS_RETENTION_DAYS", "raw_requests_retention_days")])
def test_retention_setting_is_a_whole_number_of_days(monkeypatch, name, field):
    from greenops.settings import get_settings

    assert getattr(get_settings(), field) == 400
    monkeypatch.setenv(name, "0")
    assert getattr(get_settings(), field) == 0
    for bad in ("-3", "1.5"):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError, match=name):
            get_settings()


def test_a_warehouse_without_duckdb_receives_the_same_rows_as_arrow(landing, settings_env, fleet, monkeypatch):
    # BigQuery takes Arrow: the rows parsed in DuckDB reach it through replace_partitions, conformed
    from greenops import raw_tables as rt

    class ArrowOnly:
        writes = []

        def replace_partitions(self, writes):
            self.writes.extend(writes)

        def delete_partitions_before(self, table, cutoff):
            pass

    _smi(landing, "date=2026-11-20", "a.csv", ["2026/11/20 10:00:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 200 W",
                                               "2026/11/20 10:00:01.000, 0, GPU-x, NVIDIA H100 80GB HBM3, -1 W"])
    monkeypatch.setattr(ingest, "get_warehouse", lambda settings=None: ArrowOnly())
    assert ingest.ingest_gpu_telemetry(date(2026, 11, 20), settings=settings_env)["rows"] == 1
    samples, quarantine, files = ArrowOnly.writes
    assert samples.table is rt.GPU_TELEMETRY and samples.data.schema == rt.GPU_TELEMETRY.schema
    assert samples.data.select(["sample_date", "power_w", "_file_id", "_source_line"]).to_pylist() == [
        {"sample_date": date(2026, 11, 20), "power_w": 200.0, "_file_id": 1, "_source_line": 2}]
    assert quarantine.scope == {"source": "gpu_telemetry_samples"} and quarantine.data.schema == rt.QUARANTINE.schema
    assert quarantine.data.column("reason").to_pylist() == ["negative power: -1.0 W"]
    assert files.scope == {"raw_table": "gpu_telemetry_samples"} and files.data.schema == rt.LOADED_FILES.schema
    assert files.data.select(["_file_id", "_source_file"]).to_pylist() == [
        {"_file_id": 1, "_source_file": "gpu_telemetry/host=fra1-gpu01/date=2026-11-20/a.csv"}]


def test_a_warehouse_made_before_loaded_files_is_migrated_once(landing, settings_env, fleet):
    # a release before loaded_files kept _source_file, _load_id, _loaded_at (and the format) on every row
    from greenops import raw_tables as rt

    old_columns = [c for c in rt.GPU_TELEMETRY.columns if c != "_file_id"]
    settings_env.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings_env.warehouse_path)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.gpu_telemetry_samples as select "
                    + ", ".join(f"null::{t} as {c}" for c, t in ingest.raw_column_types(con, rt.GPU_TELEMETRY).items() if c != "_file_id")
                    + ", null::varchar as _source_file, null::varchar as _load_id, null::timestamp as _loaded_at, "
                      "null::varchar as source_format limit 0")
        old = [("2026-11-18", "h/b.csv", 1, 10.0), ("2026-11-18", "h/a.csv", 1, 20.0), ("2026-11-18", "h/a.csv", 2, 30.0),
               ("2026-11-19", "h/c.csv", 5, 40.0)]
        for day, file, line, power in old:
            con.execute("insert into raw.gpu_telemetry_samples (sample_date, sample_ts_utc, host, gpu_index, power_w, "
                        "_source_line, _source_file, _load_id, _loaded_at, source_format) values "
                        "(?::date, ?::timestamp, 'h', 0, ?, ?, ?, 'old-load', timestamp '2026-11-20 01:00:00', 'nvidia_smi_csv')",
                        [day, f"{day} 10:0{line}:00", power, line, file])
    _smi(landing, "date=2026-11-20", "a.csv", ["2026/11/20 10:00:00.000, 0, GPU-x, NVIDIA H100 80GB HBM3, 200 W"])
    ingest.ingest_gpu_telemetry(date(2026, 11, 20), settings=settings_env)

    columns = [c for (c,) in _rows(settings_env, "select column_name from duckdb_columns() "
                                                 "where table_name = 'gpu_telemetry_samples' order by column_index")]
    assert columns == rt.GPU_TELEMETRY.columns  # the row lineage columns are gone, _file_id in their place
    lineage = _rows(settings_env, """
        select s.sample_date::varchar, f._source_file, s._source_line, s.power_w, f._file_id, f.source_format, f._load_id
        from raw.gpu_telemetry_samples s join raw.loaded_files f
          on f.raw_table = 'gpu_telemetry_samples' and f.partition_date = s.sample_date and f._file_id = s._file_id
        order by s.power_w""")
    assert [r[:4] for r in lineage] == [(day, file, line, power) for day, file, line, power in old] + [
        ("2026-11-20", "gpu_telemetry/host=fra1-gpu01/date=2026-11-20/a.csv", 2, 200.0)]
    # files numbered in path order per day, as a load numbers them; format and load kept
    assert [r[4:] for r in lineage[:4]] == [(2, "nvidia_smi_csv", "old-load"), (1, "nvidia_smi_csv", "old-load"),
                                            (1, "nvidia_smi_csv", "old-load"), (1, "nvidia_smi_csv", "old-load")]
    assert _rows(settings_env, "select count(*) from raw.loaded_files") == [(4,)]
    ingest.ingest_gpu_telemetry(date(2026, 11, 20), settings=settings_env)  # once: nothing more to migrate
    assert _rows(settings_env, "select count(*) from raw.loaded_files") == [(4,)]
    assert _rows(settings_env, "select count(*) from raw.gpu_telemetry_samples") == [(5,)]


def test_duplicate_batches_keep_files_that_could_share_a_key_together(monkeypatch):
    """Files are searched for duplicates a batch at a time; two files of the same GPU whose times
    overlap (directly or through a third file), or whose times have a NULL, share a batch."""
    con = duckdb.connect()
    con.execute("""create table day as select * from (values
        (1, 'h1', 0, null, timestamp '2026-11-20 10:00'), (1, 'h1', 0, null, timestamp '2026-11-20 10:59'),
        (2, 'h1', 0, null, timestamp '2026-11-20 11:00'), (2, 'h1', 0, null, timestamp '2026-11-20 11:59'),
        (3, 'h1', 0, null, timestamp '2026-11-20 11:30'), (3, 'h1', 0, null, timestamp '2026-11-20 12:30'),
        (4, 'h1', 1, null, timestamp '2026-11-20 10:00'), (4, 'h1', 1, null, timestamp '2026-11-20 11:00'),
        (5, 'h2', 0, '1', timestamp '2026-11-20 10:00'), (5, 'h2', 0, '1', timestamp '2026-11-20 11:00'),
        (6, 'h2', 0, '1', timestamp '2026-11-20 10:30'), (6, 'h2', 0, '1', timestamp '2026-11-20 12:00'),
        (7, 'h2', 0, '1', timestamp '2026-11-20 11:30'), (7, 'h2', 0, '1', timestamp '2026-11-20 13:00'),
        (8, 'h2', 0, '2', timestamp '2026-11-20 10:00'),
        (9, 'h3', 0, null, null), (10, 'h3', 0, null, timestamp '2026-11-20 10:00'))
        t(_file_id, host, gpu_index, mig_instance, sample_ts_utc)""")
    key = ("host", "gpu_index", "mig_instance", "sample_ts_utc")
    monkeypatch.setattr(ingest, "DUPLICATE_BATCH_ROWS", 1)
    # 2 and 3 overlap; 5-6-7 are chained; 8 is another MIG instance; 9 has a NULL time
    assert ingest._duplicate_batches(con, "select * from day", key) == [[1], [2, 3], [4], [5, 6, 7], [8], [9, 10]]
    monkeypatch.setattr(ingest, "DUPLICATE_BATCH_ROWS", 6)  # whole groups filled up to 6 rows, in file order
    assert ingest._duplicate_batches(con, "select * from day", key) == [[1, 2, 3], [4], [5, 6, 7], [8, 9, 10]]
    assert ingest._duplicate_batches(con, "select * from day", ("_file_id",)) == [[]]  # a bare id: one batch


def test_stage_ahead_stages_the_next_file_while_one_is_loaded_and_never_reuses_a_side_connection_in_use(tmp_path):
    """Files of a stage_apart format are staged one ahead, on two side connections in turn: read k + 1
    is staged while the caller loads read k, and read k + 2 (which replaces read k's tables on the
    same connection) only once the caller has gone past read k. Other formats are staged on the
    load's connection, when asked; an error of a staging is raised by its call, in file order."""
    con = duckdb.connect()
    sides = [con.cursor(), con.cursor()]
    events = []
    second_staged = threading.Event()

    def stage(work, read):
        (file_id, _), = read
        if file_id == 2:
            second_staged.set()
        if file_id == 5:
            raise UnreadableFileError(f"f{file_id}.csv", "bad file")
        work.execute(f"CREATE OR REPLACE TEMP TABLE staged AS SELECT {file_id} AS file_id")
        events.append(("staged", file_id, sides.index(work) if work in sides else "con"))
        return f"SELECT * FROM staged", None

    apart = ingest.Format(stage, "apart", stage_apart=True)
    here = ingest.Format(stage, "here")
    fmt = {1: apart, 2: apart, 3: here, 4: apart, 5: apart, 6: apart}
    reads = [[(i, None)] for i in fmt]
    seen = []
    with pytest.raises(UnreadableFileError, match="f5.csv"):
        with closing(ingest._stage_ahead(reads, fmt, con, sides)) as staged:
            for read, f, work, staging in staged:
                rows_sql, _ = staging()
                if read[0][0] == 1:  # read 2 is staged while read 1 is loaded, not after
                    assert second_staged.wait(10)
                # the read's tables are still its own while the next one is being staged
                seen.append((read[0][0], f.name, work.execute(rows_sql).fetchall()[0][0]))
                events.append(("loaded", read[0][0]))
    assert seen == [(1, "apart", 1), (2, "apart", 2), (3, "here", 3), (4, "apart", 4)]
    order = [e[:2] for e in events]
    # read 3 (not apart) is staged only when its turn comes
    assert order.index(("loaded", 2)) < order.index(("staged", 3)) < order.index(("loaded", 3))
    # sides in turn by position (read 4, the fourth, on the side read 2 used, once read 2 was loaded)
    assert {e[1]: e[2] for e in events if e[0] == "staged"} == {1: 0, 2: 1, 3: "con", 4: 1, 6: 1}
    assert order.index(("loaded", 2)) < order.index(("staged", 4))
    # read 6 was staged ahead while the failing read 5 was the caller's; its error came in turn
    assert order[-1] == ("staged", 6) and ("loaded", 6) not in order
