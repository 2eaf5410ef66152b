"""The collector's Parquet parts, read many at a time: a part a minute is 1,440 files a host and day,
which the telemetry load reads with one statement per date folder (up to PARQUET_FILES_PER_READ files)
instead of one file at a time. Every row still lands with its own part and row number, a bad row is
quarantined with its part and line, and a part that cannot be read is named, whichever way it fails.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from greenops import ingest
from greenops.collector import nvml
from greenops.collector.fake_nvml import FakeGpu, FakeNvml
from greenops.collector.storage import PartWriter
from greenops.sources.common import UnreadableFileError, describe
from reliability.rel_support import query, settings_for

DAY = date(2026, 11, 20)
HOST = "gpu-node-1"
FOLDER = f"gpu_telemetry/host={HOST}/date={DAY}"
FLEET = f"""
sites:
  - {{site: lab, pue: 1.5, grid_zone: DE, timezone: UTC}}
hosts:
  - {{host: {HOST}, site: lab, gpu_model: NVIDIA H100 80GB HBM3, gpu_count: 2}}
models:
  - {{model: m-a, family: test, parameters_billion: 8, tier: small}}
projects:
  - {{project: p1, team: t1, weekly_carbon_budget_kgco2e: 1.0}}
deployments:
  - {{deployment: dep-a, model: m-a, project: p1, host: {HOST}, gpus: [0], valid_from: 2026-01-01}}
"""
PARTS = 12  # written by the collector: a part every 30 ticks of 1 s, 2 GPUs


@pytest.fixture()
def env(tmp_path, monkeypatch):
    """The collector (on a scripted NVML whose power and energy change every tick) has written PARTS
    parts of the day's 10:00 hour into the landing folder."""
    fake = FakeNvml(gpus=[FakeGpu(uuid="GPU-0", power_mw=250_000, energy_mj=5_000_000),
                          FakeGpu(uuid="GPU-1", power_mw=120_000, energy_mj=7_000_000)])
    monkeypatch.setattr(nvml, "pynvml", fake)
    landing = tmp_path / "landing"
    t0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
    c = nvml.Collector(landing / "gpu_telemetry", HOST, utc_clock=lambda: t0.replace(tzinfo=None))
    c.start()
    for tick in range(PARTS * 30):
        for i, gpu in enumerate(fake.gpus):
            gpu.power_mw = 100_000 + 1_000 * ((tick * 7 + i) % 300)
            gpu.energy_mj += gpu.power_mw
        c.record(c.sample_once(t0 + timedelta(seconds=tick)))
        if tick % 30 == 29:
            c.flush()
    c.close()
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    return settings_for(landing, tmp_path / "wh.duckdb", fleet)


def _parts(s) -> list[Path]:
    return sorted((s.landing_dir / FOLDER).glob("*.parquet"))


def test_every_row_lands_with_its_part_and_row_number(env, caplog):
    with caplog.at_level(logging.INFO, logger="greenops.ingest"):
        summary = ingest.ingest_gpu_telemetry(DAY, settings=env)
    assert summary == {"day": "2026-11-20", "files": PARTS, "rows": PARTS * 30 * 2, "quarantined": 0}
    # read with one statement, not one a part
    assert any(f"{PARTS} files from {FOLDER}/nvml-10-0000.parquet to {FOLDER}/nvml-10-{PARTS - 1:04d}.parquet: "
               f"{PARTS * 60} rows" in m for m in caplog.messages), caplog.messages
    loaded = query(env.warehouse_path, """
        SELECT f._source_file, s._source_line, s.host, s.sample_ts_utc, s.gpu_index, s.gpu_uuid, s.power_w, s.energy_counter_mj
        FROM raw.gpu_telemetry_samples s
        JOIN raw.loaded_files f ON f.raw_table = 'gpu_telemetry_samples' AND f.partition_date = s.sample_date AND f._file_id = s._file_id
        ORDER BY 1, 2""")
    written = []
    for path in _parts(env):
        table = pq.read_table(path).to_pylist()
        rel = describe(env.landing_dir, path).rel
        written += [(rel, line, HOST, r["sample_ts_utc"], r["gpu_index"], r["gpu_uuid"], r["power_w"], r["energy_counter_mj"])
                    for line, r in enumerate(table, start=1)]
    assert loaded == written
    assert len({r[6] for r in loaded}) > 100  # the values differ from row to row: a misplaced row would show


def test_parts_of_other_columns_and_a_bad_row_are_read_together(env):
    parts = _parts(env)
    # an older part without the energy counter and with power as float32, between the collector's
    old = pq.read_table(parts[3]).drop_columns(["energy_counter_mj"])
    old = old.set_column(old.schema.get_field_index("power_w"), "power_w", old.column("power_w").cast(pa.float32()))
    pq.write_table(old, parts[3])
    # a negative power on row 7 of another part
    bad = pq.read_table(parts[8])
    power = bad.column("power_w").to_pylist()
    power[6] = -5.0
    pq.write_table(bad.set_column(bad.schema.get_field_index("power_w"), "power_w", pa.array(power, pa.float64())), parts[8])

    summary = ingest.ingest_gpu_telemetry(DAY, settings=env)
    assert (summary["rows"], summary["quarantined"]) == (PARTS * 60 - 1, 1)
    assert query(env.warehouse_path, "SELECT _source_file, _source_line, reason FROM raw.quarantine") == [
        (f"{FOLDER}/{parts[8].name}", 7, "negative power: -5.0 W")]
    by_part = dict(query(env.warehouse_path, """
        SELECT f._source_file, count(s.energy_counter_mj) FROM raw.gpu_telemetry_samples s
        JOIN raw.loaded_files f ON f.raw_table = 'gpu_telemetry_samples' AND f._file_id = s._file_id GROUP BY 1"""))
    assert by_part[f"{FOLDER}/{parts[3].name}"] == 0 and by_part[f"{FOLDER}/{parts[4].name}"] == 60
    assert query(env.warehouse_path, f"""
        SELECT s.power_w FROM raw.gpu_telemetry_samples s JOIN raw.loaded_files f ON f._file_id = s._file_id
        WHERE f._source_file = '{FOLDER}/{parts[3].name}' AND s._source_line = 1""") == [(old.column("power_w")[0].as_py(),)]


def _gpu_index_out_of_range(path: Path) -> None:
    table = pq.read_table(path)
    index = table.column("gpu_index").cast(pa.int64()).to_pylist()
    index[-1] = 2**40
    pq.write_table(table.set_column(table.schema.get_field_index("gpu_index"), "gpu_index", pa.array(index, pa.int64())), path)


def _far_row_index_out_of_range(path: Path) -> None:
    # the bad value is on a row five days after the file's date: only the check of such rows converts it
    _gpu_index_out_of_range(path)
    table = pq.read_table(path)
    ts = table.column("sample_ts_utc").to_pylist()
    ts[-1] = ts[-1] + timedelta(days=5)
    pq.write_table(table.set_column(0, "sample_ts_utc", pa.array(ts, pa.timestamp("us"))), path)


BAD_PARTS = {
    "not-parquet": (lambda p: p.write_bytes(b"PAR1 this is not parquet"), "nvml-10-0005.parquet"),
    "missing-column": (lambda p: pq.write_table(pq.read_table(p).drop_columns(["power_w"]), p), "lacks column(s) power_w"),
    "wrong-type": (lambda p: pq.write_table(pq.read_table(p).drop_columns(["power_w"]).append_column("power_w", pa.array(["x"] * 60)), p),
                   "column power_w is VARCHAR, not a number"),
    # a value that fails only in the insert, after the parts were checked: found by reading each alone
    "value-out-of-range": (_gpu_index_out_of_range, "out of range"),
    "value-out-of-range-far-from-its-date": (_far_row_index_out_of_range, "out of range"),
}


@pytest.mark.parametrize("case", BAD_PARTS, ids=list(BAD_PARTS))
def test_a_bad_part_among_good_ones_is_named(env, case):
    break_it, problem = BAD_PARTS[case]
    part = _parts(env)[5]
    # the day loaded once, which the failed run must leave as it was
    ingest.ingest_gpu_telemetry(DAY, settings=env)
    before = query(env.warehouse_path, "SELECT count(*), sum(power_w) FROM raw.gpu_telemetry_samples")
    break_it(part)
    with pytest.raises(UnreadableFileError) as failure:
        ingest.ingest_gpu_telemetry(DAY, settings=env)
    assert failure.value.rel_path == f"{FOLDER}/{part.name}", str(failure.value)
    assert problem in str(failure.value)
    assert query(env.warehouse_path, "SELECT count(*), sum(power_w) FROM raw.gpu_telemetry_samples") == before


def test_which_files_are_read_together(tmp_path):
    def lf(rel: str):
        return describe(tmp_path, tmp_path / rel)

    many = ingest.Format(lambda con, files: (None, None), "many", files_per_read=3)
    one = ingest.one_at_a_time(lambda con, f: (None, None), "one")
    files = [(1, lf("h=a/date=2026-11-19/p1.parquet"), many), (2, lf("h=a/date=2026-11-20/p1.parquet"), many),
             (3, lf("h=a/date=2026-11-20/p2.parquet"), many), (4, lf("h=a/date=2026-11-20/x.csv"), one),
             (5, lf("h=a/date=2026-11-20/y.csv"), one), (6, lf("h=b/date=2026-11-19/p1.parquet"), many),
             (7, lf("h=b/date=2026-11-20/p1.parquet"), many), (8, lf("h=b/date=2026-11-20/p2.parquet"), many),
             (9, lf("h=b/p.parquet"), many), (10, lf("h=c/p.parquet"), many)]
    reads = ingest._reads([(i, f) for i, f, _ in files], {i: fmt for i, _, fmt in files})
    # one format and one date per read, up to files_per_read, in file order; one-file formats and undated files alone
    assert [[i for i, _ in read] for read in reads] == [[1, 6], [2, 3, 7], [4], [5], [8], [9], [10]]


def test_a_part_is_read_by_the_run_of_its_utc_date_only(env):
    # the collector starts a new part at each UTC hour, in the folder of its UTC date: the runs of
    # the days either side do not read it, and a row of another day in it (a hand-made file) would be
    # loaded by no run, so the run of its date quarantines it
    part = _parts(env)[2]
    table = pq.read_table(part)
    ts = table.column("sample_ts_utc").to_pylist()
    ts[0] = datetime(2026, 11, 21, 0, 0, 5)
    pq.write_table(table.set_column(0, "sample_ts_utc", pa.array(ts, pa.timestamp("us"))), part)
    for day in (DAY - timedelta(days=1), DAY + timedelta(days=1)):
        assert ingest.ingest_gpu_telemetry(day, settings=env)["files"] == 0
    assert ingest.ingest_gpu_telemetry(DAY, settings=env)["rows"] == PARTS * 60 - 1
    assert query(env.warehouse_path, "SELECT partition_date, _source_file, _source_line, reason FROM raw.quarantine") == [
        (DAY, f"{FOLDER}/{part.name}", 1,
         "timestamp in the future: 2026-11-21 00:00:05 UTC is after the file's date 2026-11-20")]


def _rewrite(path: Path, change) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def test_parts_that_read_alone_also_read_together(env):
    # each of these parts loaded when read alone; read together they must too, with the same values
    parts = _parts(env)
    # nanosecond timestamps in one part, a row in the year 9999 (microseconds) in another
    _rewrite(parts[1], lambda t: t.set_column(0, "sample_ts_utc", t.column("sample_ts_utc").cast(pa.timestamp("ns"))))
    far = pq.read_table(parts[2]).column("sample_ts_utc").to_pylist()
    far[0] = datetime(9999, 1, 1)
    _rewrite(parts[2], lambda t: t.set_column(0, "sample_ts_utc", pa.array(far, pa.timestamp("us"))))
    # another column, a struct in one part and an integer in another; a file's own filename and _file_id
    _rewrite(parts[3], lambda t: t.append_column("extra", pa.array([{"a": 1}] * t.num_rows)))
    _rewrite(parts[4], lambda t: t.append_column("extra", pa.array([1] * t.num_rows, pa.int64())))
    _rewrite(parts[5], lambda t: t.append_column("filename", pa.array(["x"] * t.num_rows)).append_column(
        "_file_id", pa.array([99] * t.num_rows, pa.int32())))
    # a negative float32 power: its reject shows the value as written
    power = pq.read_table(parts[6]).column("power_w").to_pylist()
    power[0] = -5.1
    _rewrite(parts[6], lambda t: t.set_column(t.schema.get_field_index("power_w"), "power_w", pa.array(power, pa.float32())))

    summary = ingest.ingest_gpu_telemetry(DAY, settings=env)
    assert (summary["rows"], summary["quarantined"]) == (PARTS * 60 - 2, 2)
    assert query(env.warehouse_path, "SELECT _source_file, _source_line, reason FROM raw.quarantine ORDER BY 1") == [
        (f"{FOLDER}/{parts[2].name}", 1, "timestamp in the future: 9999-01-01 00:00:00 UTC is after the file's date 2026-11-20"),
        (f"{FOLDER}/{parts[6].name}", 1, "negative power: -5.1 W")]
    assert query(env.warehouse_path, "SELECT raw_record FROM raw.quarantine WHERE reason LIKE 'negative%'") == [
        ("2026-11-20 10:03:00 gpu 0 power_w -5.1",)]
    # every row is with its own file, at its own time
    assert query(env.warehouse_path, """
        SELECT count(*) FROM raw.gpu_telemetry_samples s JOIN raw.loaded_files f
            ON f.raw_table = 'gpu_telemetry_samples' AND f._file_id = s._file_id
        WHERE s.sample_ts_utc <> TIMESTAMP '2026-11-20 10:00:00' + to_seconds((s._source_line - 1) // 2
              + 30 * CAST(regexp_extract(f._source_file, '-(\\d+)\\.parquet$', 1) AS INTEGER))""") == [(0,)]


def test_a_compacted_hour_is_read_instead_of_its_parts(env, caplog):
    # the day loaded from the parts, then again once the collector has compacted the hour (its parts
    # still beside the compacted file) and a late part of the hour has come: the same samples, from the
    # compacted file and the late part only, nothing quarantined as a duplicate
    samples = "SELECT sample_ts_utc, gpu_index, power_w, energy_counter_mj FROM raw.gpu_telemetry_samples ORDER BY ALL"
    ingest.ingest_gpu_telemetry(DAY, settings=env)
    from_parts = query(env.warehouse_path, samples)
    writer = PartWriter(env.landing_dir / "gpu_telemetry", HOST, retention_days=14)
    (compacted,), _ = writer.compact(datetime(2026, 11, 20, 11))
    assert compacted.name == f"nvml-10-0000-{PARTS - 1:04d}.parquet"
    late = writer.write(pq.read_table(_parts(env)[0]).slice(0, 2).set_column(
        0, "sample_ts_utc", pa.array([datetime(2026, 11, 20, 10, 59, 59)] * 2, pa.timestamp("us"))), datetime(2026, 11, 20, 10))
    with caplog.at_level(logging.INFO, logger="greenops.ingest"):
        summary = ingest.ingest_gpu_telemetry(DAY, settings=env)
    assert summary == {"day": "2026-11-20", "files": 2, "rows": PARTS * 60 + 2, "quarantined": 0}
    assert f"{PARTS} files not read: a compacted file beside them holds their rows" in caplog.messages
    late_rows = [(r["sample_ts_utc"], r["gpu_index"], r["power_w"], r["energy_counter_mj"]) for r in pq.read_table(late).to_pylist()]
    assert query(env.warehouse_path, samples) == sorted(from_parts + late_rows)
    assert query(env.warehouse_path, """
        SELECT f._source_file, count(*), min(s._source_line), max(s._source_line) FROM raw.gpu_telemetry_samples s
        JOIN raw.loaded_files f ON f.raw_table = 'gpu_telemetry_samples' AND f._file_id = s._file_id GROUP BY 1 ORDER BY 1""") == [
        (f"{FOLDER}/{compacted.name}", PARTS * 60, 1, PARTS * 60), (f"{FOLDER}/{late.name}", 2, 1, 2)]


def test_an_empty_compacted_file_hides_no_part(env):
    # a copy cut short leaves the compacted file empty: its parts are read, as if it were not there
    (compacted,), _ = PartWriter(env.landing_dir / "gpu_telemetry", HOST, retention_days=14).compact(datetime(2026, 11, 20, 11))
    compacted.write_bytes(b"")
    assert ingest.ingest_gpu_telemetry(DAY, settings=env) == {"day": "2026-11-20", "files": PARTS, "rows": PARTS * 60,
                                                              "quarantined": 0}
