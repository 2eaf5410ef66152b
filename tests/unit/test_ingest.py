"""Loading a day: partitions are replaced (never appended), duplicates and rows of other days are
handled, and a failed load leaves the previous partition in place."""

from __future__ import annotations

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
    got = [f.rel.split("/", 2)[2] for f in files_for_day(landing, "gpu_telemetry", date(2026, 11, 20), (".csv",))]
    assert got == ["date=2026-11-19/a.csv", "date=2026-11-20/a.csv", "date=2026-11-21/a.csv", "undated.csv"]


def test_day_rows_only_duplicates_quarantined_and_rerun_replaces(landing, settings_env, fleet):
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
    ingest.ingest_gpu_telemetry(date(2026, 11, 20), settings=settings_env)
    assert _rows(settings_env, "select count(*) from raw.gpu_telemetry_samples") == [(2,)]
    assert _rows(settings_env, "select count(*) from raw.quarantine") == [(1,)]


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
    # the day loaded and the 2 days before it stay; older raw samples go; the quarantine is untouched
    assert _rows(settings_env, "select distinct sample_date::varchar from raw.gpu_telemetry_samples order by 1") == [
        ("2026-11-18",), ("2026-11-19",), ("2026-11-20",)]
    assert _rows(settings_env, "select count(*) from raw.quarantine") == [(4,)]
    # a backfill of an old day counts from that day: it deletes nothing newer
    ingest.ingest_gpu_telemetry(days[0], settings=get_settings())
    assert _rows(settings_env, "select distinct sample_date::varchar from raw.gpu_telemetry_samples order by 1") == [
        ("2026-11-17",), ("2026-11-18",), ("2026-11-19",), ("2026-11-20",)]


def test_retention_setting_is_a_whole_number_of_days(monkeypatch):
    from greenops.settings import get_settings

    monkeypatch.setenv("GREENOPS_RAW_TELEMETRY_RETENTION_DAYS", "0")
    assert get_settings().raw_telemetry_retention_days == 0
    monkeypatch.setenv("GREENOPS_RAW_TELEMETRY_RETENTION_DAYS", "-3")
    with pytest.raises(ValueError, match="GREENOPS_RAW_TELEMETRY_RETENTION_DAYS"):
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
    samples, quarantine = ArrowOnly.writes
    assert samples.table is rt.GPU_TELEMETRY and samples.data.schema == rt.GPU_TELEMETRY.schema
    assert samples.data.select(["sample_date", "power_w", "_source_line"]).to_pylist() == [
        {"sample_date": date(2026, 11, 20), "power_w": 200.0, "_source_line": 2}]
    assert quarantine.scope == {"source": "gpu_telemetry_samples"} and quarantine.data.schema == rt.QUARANTINE.schema
    assert quarantine.data.column("reason").to_pylist() == ["negative power: -1.0 W"]
