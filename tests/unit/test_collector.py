"""The NVML collector against a scripted fake NVML: values and units in the files it writes (read back
through the ingestion's own parser), missing energy counters, counter resets, a GPU falling off the
bus, atomic part files, hour and day boundaries, retention, MIG, SIGTERM, and a real GPU where one exists.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from greenops import raw_tables as rt
from greenops.collector import nvml, storage
from greenops.collector.fake_nvml import FakeGpu, FakeMig, FakeNvml
from greenops.collector.storage import SAMPLE_SCHEMA
from greenops.sources import nvml_parquet
from greenops.sources.common import describe, new_connection

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 20, 10, 15, 0, 250_000, tzinfo=timezone.utc)
GIB = 1024**3


@pytest.fixture()
def fake(monkeypatch) -> FakeNvml:
    """Three scripted GPUs, installed where the collector looks NVML up."""
    f = FakeNvml(gpus=[
        FakeGpu(uuid="GPU-0000", power_mw=250_500, energy_mj=5_000_000, util_gpu_pct=75, util_memory_pct=40,
                memory_used_b=20 * GIB, memory_total_b=80 * GIB, temperature_c=55, sm_clock_mhz=1755,
                power_limit_mw=700_000),
        FakeGpu(uuid="GPU-0001", name="NVIDIA H100 80GB HBM3", power_mw=120_000, energy_mj=7_000_000),
        FakeGpu(uuid="GPU-0002", name="NVIDIA H100 80GB HBM3", power_mw=90_000, energy_mj=9_000_000),
    ])
    monkeypatch.setattr(nvml, "pynvml", f)
    return f


@pytest.fixture()
def out(tmp_path) -> Path:
    return tmp_path / "landing" / "gpu_telemetry"


def _collector(out: Path, **kw) -> nvml.Collector:
    # retention counts back from the collector's clock: pinned to the samples' day (T0), so the
    # fixed dates below never age out whatever day the tests run
    kw.setdefault("utc_clock", lambda: T0.replace(tzinfo=None))
    c = nvml.Collector(out, "gpu-node-1", **kw)
    c.start()
    return c


def _tick(c: nvml.Collector, now: datetime) -> list[dict]:
    rows = c.sample_once(now)
    c.record(rows)
    return rows


def _parts(out: Path) -> list[Path]:
    return sorted(out.rglob("*.parquet"))


def _ingest(out: Path) -> list[dict]:
    """Every part read back through the ingestion's parser (as the telemetry DAG does); no rejects."""
    landing, rows = out.parent, []
    for path in _parts(out):
        samples, rejects = nvml_parquet.parse(new_connection(), describe(landing, path))
        assert rejects.num_rows == 0, rejects.to_pylist()
        rows += rt.conform(rt.GPU_TELEMETRY, samples).to_pylist()  # what lands in raw.gpu_telemetry_samples
    return sorted(rows, key=lambda r: (r["sample_ts_utc"], r["gpu_index"], r["mig_instance"] or ""))


def test_file_columns_are_the_raw_tables_sample_columns():
    not_in_files = {"sample_date"} | {f.name for f in rt.FILE_LINEAGE}
    expected = pa.schema([f for f in rt.GPU_TELEMETRY.schema if f.name not in not_in_files])
    assert SAMPLE_SCHEMA.equals(expected)


def test_values_and_units_survive_the_ingestion(fake, out):
    c = _collector(out)
    _tick(c, T0)
    path = c.flush()
    assert path == out / "host=gpu-node-1" / "date=2026-11-20" / "nvml-10-0000.parquet"
    assert pq.read_schema(path).equals(SAMPLE_SCHEMA)

    rows = _ingest(out)
    assert [r["gpu_index"] for r in rows] == [0, 1, 2]
    r = rows[0]
    assert r["sample_ts_utc"] == datetime(2026, 11, 20, 10, 15, 0, 250_000)  # naive UTC, microseconds kept
    assert (r["host"], r["gpu_uuid"], r["gpu_name"]) == ("gpu-node-1", "GPU-0000", "NVIDIA H100 80GB HBM3")
    assert r["power_w"] == 250.5  # 250 500 mW
    assert r["energy_counter_mj"] == 5_000_000  # mJ, as NVML counts
    assert (r["utilization_gpu_pct"], r["utilization_memory_pct"]) == (75, 40)
    assert (r["memory_used_mib"], r["memory_total_mib"]) == (20 * 1024, 80 * 1024)  # bytes -> MiB
    assert r["power_limit_w"] == 700.0  # 700 000 mW
    assert (r["temperature_c"], r["sm_clock_mhz"]) == (55, 1755)
    assert r["mig_instance"] is None
    assert [row["_source_line"] for row in rows] == [1, 2, 3]  # lineage: the row number in the file

    # the parser changes no value: the file read directly holds the same rows
    direct = pq.read_table(path).to_pylist()
    assert [{k: row[k] for k in SAMPLE_SCHEMA.names} for row in rows] == direct


def test_gpu_without_energy_counter_keeps_power(fake, out):
    fake.gpus[1].energy_mj = None  # pre-Volta: NVML answers NotSupported
    c = _collector(out)
    _tick(c, T0)
    c.flush()
    rows = _ingest(out)
    assert [(r["gpu_index"], r["power_w"], r["energy_counter_mj"]) for r in rows] == [
        (0, 250.5, 5_000_000), (1, 120.0, None), (2, 90.0, 9_000_000)]


def test_energy_counter_reset_is_written_as_read(fake, out):
    c = _collector(out)
    fake.gpus[0].energy_mj = 9_000_000_000
    _tick(c, T0)
    fake.gpus[0].energy_mj = 1_500  # the driver reloaded: the counter restarts near zero
    _tick(c, T0 + timedelta(seconds=1))
    c.flush()
    assert [r["energy_counter_mj"] for r in _ingest(out) if r["gpu_index"] == 0] == [9_000_000_000, 1_500]


def test_lost_gpu_skips_one_tick_and_recovers(fake, out, caplog):
    caplog.set_level(logging.INFO, logger="greenops.collector")
    c = _collector(out)
    _tick(c, T0)
    fake.gpus[1].lost = True  # fell off the bus: every call on it raises GpuIsLost
    fake.handle_requests.clear()
    rows = _tick(c, T0 + timedelta(seconds=1))
    assert [r["gpu_index"] for r in rows] == [0, 2]
    assert "GPU 1: GPU is lost (NVMLError_GpuIsLost)" in caplog.text

    _tick(c, T0 + timedelta(seconds=2))  # still lost: skipped again, warned only once
    assert caplog.text.count("GPU is lost") == 1

    fake.gpus[1].lost = False
    rows = _tick(c, T0 + timedelta(seconds=3))
    assert [r["gpu_index"] for r in rows] == [0, 1, 2]
    # the lost GPU's handle was dropped and re-acquired on each later tick; the others' were kept
    assert fake.handle_requests == [1, 1]
    assert "GPU 1 readable again" in caplog.text

    c.flush()
    seconds = [(r["sample_ts_utc"].second, r["gpu_index"]) for r in _ingest(out)]
    assert seconds == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 2), (3, 0), (3, 1), (3, 2)]


def test_gpu_with_neither_power_nor_energy_gives_no_row(fake, out):
    fake.gpus[2].power_mw = fake.gpus[2].energy_mj = None  # the parser would reject such a row
    c = _collector(out)
    assert [r["gpu_index"] for r in _tick(c, T0)] == [0, 1]


def test_flush_writes_a_new_part_atomically(fake, out, monkeypatch):
    c = _collector(out)
    renames = []
    real_replace = os.replace

    def spy_replace(src, dst):
        src, dst = Path(src), Path(dst)
        renames.append((src.name, dst.name, src.exists(), dst.exists()))
        real_replace(src, dst)

    monkeypatch.setattr(storage.os, "replace", spy_replace)
    _tick(c, T0)
    first = c.flush()
    before = first.read_bytes()
    _tick(c, T0 + timedelta(seconds=1))
    second = c.flush()
    assert c.flush() is None  # nothing buffered: no empty file

    # written under a dot-prefixed temporary name (the ingestion skips it), then renamed over nothing
    assert renames == [(".nvml-10-0000.parquet.tmp", "nvml-10-0000.parquet", True, False),
                       (".nvml-10-0001.parquet.tmp", "nvml-10-0001.parquet", True, False)]
    assert first.read_bytes() == before  # never appended to
    assert second.name == "nvml-10-0001.parquet"
    assert sorted(p.name for p in first.parent.iterdir()) == ["nvml-10-0000.parquet", "nvml-10-0001.parquet"]

    # a restart within the hour continues the numbering instead of overwriting part 0000
    c.close()
    c2 = _collector(out)
    _tick(c2, T0 + timedelta(seconds=2))
    assert c2.flush().name == "nvml-10-0002.parquet"


def test_hour_and_day_boundaries_split_files(fake, out):
    c = _collector(out)
    _tick(c, datetime(2026, 11, 20, 22, 59, 59, tzinfo=timezone.utc))
    _tick(c, datetime(2026, 11, 20, 23, 0, 0, tzinfo=timezone.utc))
    _tick(c, datetime(2026, 11, 21, 0, 0, 0, tzinfo=timezone.utc))
    # an aware time in another zone is stored as UTC
    _tick(c, datetime(2026, 11, 21, 1, 30, tzinfo=timezone(timedelta(hours=1))))
    c.flush()
    assert [p.relative_to(out).as_posix() for p in _parts(out)] == [
        "host=gpu-node-1/date=2026-11-20/nvml-22-0000.parquet",
        "host=gpu-node-1/date=2026-11-20/nvml-23-0000.parquet",
        "host=gpu-node-1/date=2026-11-21/nvml-00-0000.parquet",
    ]
    assert pq.read_table(_parts(out)[-1]).column("sample_ts_utc").to_pylist()[-1] == datetime(2026, 11, 21, 0, 30)


def _parts_of_hour_10(c: nvml.Collector, fake: FakeNvml, parts: int) -> None:
    """``parts`` flushes of five ticks each in 10:00-10:59 UTC, the power changing every tick."""
    for tick in range(parts * 5):
        for i, gpu in enumerate(fake.gpus):
            gpu.power_mw = 100_000 + 1_000 * ((tick * 7 + i) % 300)
        _tick(c, datetime(2026, 11, 20, 10, 0, tick, tzinfo=timezone.utc))
        if tick % 5 == 4:
            c.flush()


def test_a_finished_hours_parts_are_compacted_into_one_file(fake, out):
    c = _collector(out)
    _parts_of_hour_10(c, fake, 4)
    folder = out / "host=gpu-node-1" / "date=2026-11-20"
    parts = sorted(folder.glob("nvml-10-*.parquet"))
    assert len(parts) == 4
    _tick(c, datetime(2026, 11, 20, 11, 0, 0, tzinfo=timezone.utc))  # hour 11 begins: hour 10 is finished
    assert not list(folder.glob("nvml-10-*-*"))
    c.flush()  # the first part of hour 11: then hour 10 is compacted
    compacted = folder / "nvml-10-0000-0003.parquet"
    assert compacted.exists()
    # the same rows in the same order; the parts stay (a load may have listed them) but are not read
    assert pq.read_table(compacted).equals(pa.concat_tables([pq.read_table(p) for p in parts]))
    assert all(p.exists() for p in parts)
    assert storage.superseded(p.name for p in folder.iterdir()) == {p.name: compacted.name for p in parts}


def test_covered_parts_are_kept_six_hours_after_their_compaction(fake, out):
    # the collector stopped during hour H and restarts 9 hours later: the compaction it then runs must
    # not delete the parts at once (a load may have listed them before the compacted file appeared)
    c = _collector(out, utc_clock=None)
    hour = (datetime.now(timezone.utc) - timedelta(hours=10)).replace(minute=0, second=0, microsecond=0)
    for part in range(3):
        _tick(c, hour + timedelta(minutes=part))
        c.flush()
    c.close()
    c = _collector(out, utc_clock=None)
    _tick(c, datetime.now(timezone.utc))
    c.flush()
    folder = out / "host=gpu-node-1" / f"date={hour.date()}"
    compacted = folder / f"nvml-{hour:%H}-0000-0002.parquet"
    assert compacted.exists() and len(list(folder.glob(f"nvml-{hour:%H}-*.parquet"))) == 4
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    assert c.writer.sweep_parts(now + timedelta(hours=5, minutes=59)) == []
    assert len(c.writer.sweep_parts(now + timedelta(hours=6, minutes=1))) == 3
    assert [p.name for p in folder.glob(f"nvml-{hour:%H}-*.parquet")] == [compacted.name]


def test_a_part_written_after_its_hour_was_compacted_is_not_covered(fake, out):
    c = _collector(out)
    _parts_of_hour_10(c, fake, 2)
    c.writer.compact(datetime(2026, 11, 20, 11))
    # a clock set back: another part of hour 10, numbered after the compacted range
    late = c.writer.write(pq.read_table(out / "host=gpu-node-1" / "date=2026-11-20" / "nvml-10-0000.parquet"),
                          datetime(2026, 11, 20, 10))
    assert late.name == "nvml-10-0002.parquet"
    names = [p.name for p in late.parent.iterdir()]
    assert storage.superseded(names) == {"nvml-10-0000.parquet": "nvml-10-0000-0001.parquet",
                                         "nvml-10-0001.parquet": "nvml-10-0000-0001.parquet"}
    assert c.writer.compact(datetime(2026, 11, 20, 12)) == ([], False)  # one part: left as it is
    c.writer.write(pq.read_table(late), datetime(2026, 11, 20, 10))
    written, _ = c.writer.compact(datetime(2026, 11, 20, 12))
    assert [p.name for p in written] == ["nvml-10-0002-0003.parquet"]


def test_an_hour_that_cannot_be_compacted_is_left_as_parts_and_warned_about_once(fake, out, caplog):
    c = _collector(out)
    _parts_of_hour_10(c, fake, 3)
    folder = out / "host=gpu-node-1" / "date=2026-11-20"
    good = (folder / "nvml-10-0001.parquet").read_bytes()
    (folder / "nvml-10-0001.parquet").write_bytes(b"PAR1 not parquet")
    with caplog.at_level(logging.WARNING, logger="greenops.collector"):
        assert c.writer.compact(datetime(2026, 11, 20, 11)) == ([], False)
        assert c.writer.compact(datetime(2026, 11, 20, 12)) == ([], False)  # the same parts: not tried again
    assert [r.getMessage().count("\n") for r in caplog.records if r.levelno >= logging.WARNING] == [0]  # one line, once
    assert "hour 10 of" in caplog.text and "left as 3 parts" in caplog.text
    assert sorted(p.name for p in folder.iterdir()) == [f"nvml-10-000{i}.parquet" for i in range(3)]
    # once its parts change (a late part; here the damaged one mended too), the hour is tried again
    (folder / "nvml-10-0001.parquet").write_bytes(good)
    c.writer.write(pq.read_table(folder / "nvml-10-0000.parquet"), datetime(2026, 11, 20, 10))
    assert [p.name for p in c.writer.compact(datetime(2026, 11, 20, 12))[0]] == ["nvml-10-0000-0003.parquet"]


def test_parts_of_an_older_schema_are_compacted_with_its_missing_columns_null(fake, out):
    c = _collector(out)
    _parts_of_hour_10(c, fake, 2)
    older = out / "host=gpu-node-1" / "date=2026-11-20" / "nvml-10-0000.parquet"
    pq.write_table(pq.read_table(older).drop_columns(["mig_instance", "sm_clock_mhz"]), older)
    (compacted,), _ = c.writer.compact(datetime(2026, 11, 20, 11))
    table = pq.read_table(compacted)
    assert table.num_rows == 2 * 5 * 3 and table.column("sm_clock_mhz").null_count == 5 * 3


def test_a_backlog_of_hours_is_compacted_a_few_hours_a_call_newest_first(fake, out):
    c = _collector(out)
    _tick(c, datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc))
    part = pq.read_table(c.flush())
    for hour in range(3, 9):  # written while no collector compacted them (an older version, a long stop)
        for _ in range(2):
            c.writer.write(part, datetime(2026, 11, 20, hour))
    written, more = c.writer.compact(datetime(2026, 11, 20, 12), max_hours=4)
    assert [p.name[:7] for p in written] == ["nvml-08", "nvml-07", "nvml-06", "nvml-05"] and more
    written, more = c.writer.compact(datetime(2026, 11, 20, 12), max_hours=4)
    assert [p.name[:7] for p in written] == ["nvml-04", "nvml-03"] and not more


def test_a_compaction_on_a_full_disk_leaves_no_temporary_file(fake, out, monkeypatch):
    c = _collector(out)
    _parts_of_hour_10(c, fake, 2)
    folder = out / "host=gpu-node-1" / "date=2026-11-20"

    def disk_full(table, f, **_k):
        f.write(b"PAR1 part of a file")
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(storage.pq, "write_table", disk_full)
        assert c.writer.compact(datetime(2026, 11, 20, 11)) == ([], False)
    assert sorted(p.name for p in folder.iterdir()) == ["nvml-10-0000.parquet", "nvml-10-0001.parquet"]
    # nor is one tried with too little free disk for the compacted file and the next parts
    monkeypatch.setattr(storage, "COMPACTION_FREE_BYTES", 2**62)
    assert _collector(out).writer.compact(datetime(2026, 11, 20, 11)) == ([], False)
    assert sorted(p.name for p in folder.iterdir()) == ["nvml-10-0000.parquet", "nvml-10-0001.parquet"]


def test_a_restart_compacts_the_hours_that_ended_and_removes_a_half_compacted_file(fake, out):
    c = _collector(out)
    _parts_of_hour_10(c, fake, 3)
    c.close()
    folder = out / "host=gpu-node-1" / "date=2026-11-20"
    (folder / ".nvml-10-0000-0002.parquet.tmp").write_bytes(b"PAR1 half")  # a crash mid-compaction
    c = _collector(out, utc_clock=lambda: datetime(2026, 11, 20, 12, 30))
    _tick(c, datetime(2026, 11, 20, 12, 30, tzinfo=timezone.utc))
    c.flush()
    assert sorted(p.name for p in folder.iterdir() if "-0002" in p.name) == ["nvml-10-0000-0002.parquet", "nvml-10-0002.parquet"]
    assert pq.read_table(folder / "nvml-10-0000-0002.parquet").num_rows == 3 * 5 * 3


def test_naive_time_is_refused(fake, out):
    with pytest.raises(ValueError, match="timezone-aware"):
        _collector(out).sample_once(datetime(2026, 11, 20, 10, 0))


def test_retention_deletes_old_date_folders_and_stale_tmp(fake, out):
    today = datetime.now(timezone.utc).date()
    host_dir = out / "host=gpu-node-1"
    for days_ago in (0, 3, 4, 30):
        (host_dir / f"date={today - timedelta(days=days_ago)}").mkdir(parents=True)
    (host_dir / "date=not-a-date").mkdir()
    (host_dir / "notes").mkdir()
    stale = host_dir / f"date={today}" / ".nvml-07-0003.parquet.tmp"  # a crash mid-write
    stale.write_bytes(b"PAR1 half a file")
    other_host = out / "host=other" / "date=2000-01-01"
    other_host.mkdir(parents=True)

    c = _collector(out, retention_days=3, utc_clock=None)  # start() sweeps, by the wall clock
    kept = sorted(p.name for p in host_dir.iterdir())
    assert kept == sorted([f"date={today}", f"date={today - timedelta(days=3)}", "date=not-a-date", "notes"])
    assert not stale.exists()
    assert other_host.exists()  # only this host's folders are ours to delete

    # and after each flush
    (host_dir / f"date={today - timedelta(days=10)}").mkdir()
    _tick(c, datetime.now(timezone.utc))
    c.flush()
    assert not (host_dir / f"date={today - timedelta(days=10)}").exists()


def test_mig_rows(fake, out):
    fake.gpus[0].mig = [FakeMig(1, "MIG-aaaa", memory_used_b=2 * GIB), FakeMig(1, "MIG-aaaa-ci1"),
                        FakeMig(2, "MIG-bbbb", memory_used_b=5 * GIB)]
    # default: one row per board, so the warehouse counts the board's energy once
    board = [r for r in _tick(_collector(out), T0) if r["gpu_index"] == 0]
    assert [(r["mig_instance"], r["gpu_uuid"], r["power_w"], r["utilization_gpu_pct"]) for r in board] == [
        (None, "GPU-0000", 250.5, None)]  # NVML reports no utilization for a MIG-enabled board

    c = _collector(out / "instances", mig_rows="instances")
    rows = [r for r in _tick(c, T0) if r["gpu_index"] == 0]
    # one row per GPU instance (two compute instances of instance 1 give one row), parent's power/energy
    assert [(r["mig_instance"], r["gpu_uuid"], r["memory_used_mib"], r["power_w"], r["energy_counter_mj"])
            for r in rows] == [("1", "MIG-aaaa", 2048, 250.5, 5_000_000), ("2", "MIG-bbbb", 5120, 250.5, 5_000_000)]
    c.flush()
    assert [r["mig_instance"] for r in _ingest(out / "instances") if r["gpu_index"] == 0] == ["1", "2"]

    fake.gpus[0].mig = []  # MIG enabled, no instance created yet: the board row
    assert [r["mig_instance"] for r in c.sample_once(T0) if r["gpu_index"] == 0] == [None]


def test_failed_write_keeps_the_buffer(fake, out, monkeypatch):
    c = _collector(out)
    _tick(c, T0)

    def disk_full(*_a, **_k):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(storage.pq, "write_table", disk_full)
        with pytest.raises(OSError, match="No space"):
            c.flush()
    assert c.buffered_rows == 3
    assert pq.read_table(c.flush()).num_rows == 3


def test_run_samples_at_the_interval_and_stop_flushes(fake, out):
    c = nvml.Collector(out, "gpu-node-1", flush_interval_s=60)
    threading.Timer(0.55, c.stop).start()
    started = time.monotonic()
    assert c.run(interval_s=0.1) == 0
    assert time.monotonic() - started < 1.5  # stop() is seen within a nap
    assert not fake.initialized  # NVML shut down
    rows = _ingest(out)  # the final flush wrote the buffer although flush_interval_s never elapsed
    assert 4 * 3 <= len(rows) <= 7 * 3


def test_run_gives_up_when_no_gpu_is_readable(fake, out):
    for gpu in fake.gpus:
        gpu.lost = True
    c = nvml.Collector(out, "gpu-node-1", give_up_after_s=0.3)
    assert c.run(interval_s=0.05, duration_s=10) == 3


def test_nvml_unavailable_exits_2(monkeypatch, out):
    import pynvml

    class NoDriver(FakeNvml):
        def nvmlInit(self):
            raise pynvml.NVMLError_LibraryNotFound()

    monkeypatch.setattr(nvml, "pynvml", NoDriver(0))
    assert nvml.main(["--dir", str(out), "--duration", "1"]) == 2


def test_cli_defaults_and_bad_flags(monkeypatch, tmp_path):
    monkeypatch.setenv("GREENOPS_COLLECTOR_DIR", str(tmp_path / "x"))
    args = nvml.parse_args([])
    assert (args.dir, args.interval, args.flush_interval, args.retention_days, args.duration) == (
        tmp_path / "x", 1.0, 60.0, 14, None)
    monkeypatch.delenv("GREENOPS_COLLECTOR_DIR")
    assert nvml.parse_args([]).dir == Path("data/landing/gpu_telemetry")
    for bad in (["--interval", "0"], ["--retention-days", "0"], ["--host", "a/b"], ["--flush-interval", "-1"]):
        with pytest.raises(SystemExit):
            nvml.parse_args(bad)


_FAKE_MAIN = """
import sys
from greenops.collector import nvml
from greenops.collector.fake_nvml import FakeNvml
nvml.pynvml = FakeNvml(2, live=True)
sys.exit(nvml.main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_flushes_and_exits_0(out, sig):
    # the real entry point and a real signal, in a child process with the fake NVML
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    proc = subprocess.Popen([sys.executable, "-c", _FAKE_MAIN, "--dir", str(out), "--host", "n1",
                             "--interval", "0.1", "--flush-interval", "600"],
                            env=env, stderr=subprocess.PIPE, text=True)
    log_lines = [proc.stderr.readline()]  # the start-up line, once NVML is initialised
    assert "GPU(s) on host n1" in log_lines[0], log_lines
    time.sleep(0.5)  # a few ticks
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, log_lines[0] + err
    rows = _ingest(out)  # nothing was flushed before the signal: these rows come from the final flush
    assert len(rows) >= 4 and {r["gpu_index"] for r in rows} == {0, 1}
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_python_dash_m_entry_point_help():
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    res = subprocess.run([sys.executable, "-m", "greenops.collector", "--help"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "--flush-interval" in res.stdout


def test_overhead_bench_runs(monkeypatch, capsys):
    # the command docs/collector.md gives for re-measuring the overhead, on a short run
    from greenops.collector import bench

    monkeypatch.setattr(nvml, "pynvml", nvml.pynvml)  # the bench installs its fake: restore afterwards
    bench.main(["--gpus", "2", "--duration", "0.3", "--interval", "0.1", "--flush-interval", "1"])
    printed = capsys.readouterr().out
    assert "fake NVML, 2 GPUs" in printed and "% of one core" in printed and "MiB per day per host" in printed


@pytest.mark.gpu
def test_real_nvml_collects_for_3_seconds(tmp_path):
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        pytest.skip(f"no NVML here: {exc}")
    count = pynvml.nvmlDeviceGetCount()
    pynvml.nvmlShutdown()
    if count == 0:
        pytest.skip("NVML works but sees no GPU")
    out = tmp_path / "landing" / "gpu_telemetry"
    c = nvml.Collector(out, "real-host")
    assert c.run(interval_s=1.0, duration_s=3) == 0
    rows = _ingest(out)
    assert {r["gpu_index"] for r in rows} == set(range(count))
    assert all(r["power_w"] is not None and 0 < r["power_w"] < 2000 for r in rows)
    assert all(re.match(r"^(GPU|MIG)-", r["gpu_uuid"]) for r in rows)
    assert all(r["memory_total_mib"] > 0 for r in rows)
