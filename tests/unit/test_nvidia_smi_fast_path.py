"""nvidia-smi CSV: the fast path for clean files gives exactly the line parser's rows, and hands every
file that is not clean to the line parser (which numbers and explains each line)."""

from __future__ import annotations

import gzip
import shutil

import pytest

from greenops.sources import nvidia_smi
from greenops.sources.common import describe, fetch_arrow, new_connection

HEADER = "timestamp, index, uuid, name, power.draw [W], utilization.gpu [%], memory.used [MiB], memory.total [MiB]"


def _rows(con, sql):
    return fetch_arrow(con, f"SELECT * FROM ({sql}) ORDER BY _source_line").to_pylist()


def _both(landing, path, tz="UTC"):
    """(fast path's rows or None when it declines, the line parser's rows, the line parser's rejects)."""
    lf = describe(landing, path)
    con = new_connection()
    fast = nvidia_smi._stage_clean(con, lf, tz)
    fast_rows = _rows(con, fast[0]) if fast else None
    rows_sql, rejects_sql = nvidia_smi.stage_lines(con, lf, tz)
    return fast_rows, _rows(con, rows_sql), _rows(con, rejects_sql)


def _write(landing, name, text, host="h1"):
    path = landing / "gpu_telemetry" / f"host={host}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_bytes(text.encode())
    return path


def _samples(n, start_s=0, power="300.5 W"):
    return "".join(f"2026/11/20 10:{(start_s + s) // 60:02d}:{(start_s + s) % 60:02d}.{s % 1000:03d}, {s % 2}, GPU-{s % 2}, "
                   f"NVIDIA H100 80GB HBM3, {power}, 60 %, 1024 MiB, 81559 MiB\n" for s in range(n))


@pytest.mark.parametrize("rel", [
    "nvidia_smi_captures/extracted/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load__query-gpu.csv",
    "nvidia_smi_captures/extracted/linux-x86_64__nvidia-h100-mig__590.48.01__idle__query-gpu.csv",
    "nvidia_smi_captures/extracted/linux-x86_64__nvidia-l40s__595.80__load__query-gpu.csv",
    "nvidia_smi_timeseries/h100x8_node_gpu_glasses_nvidia_smi.csv",
])
@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_real_captures_take_the_fast_path_with_the_line_parsers_rows(external, landing, rel, tz):
    path = landing / "gpu_telemetry" / "host=gpu-node" / rel.split("/")[-1]
    path.parent.mkdir(parents=True)
    shutil.copy(external / rel, path)
    fast, lines, rejects = _both(landing, path, tz)
    assert rejects == []
    assert fast is not None and len(fast) >= 1
    assert fast == lines


@pytest.mark.parametrize("name, text", [
    ("units.csv", HEADER + "\n" + _samples(3000)),
    ("crlf.csv", (HEADER + "\n" + _samples(50)).replace("\n", "\r\n")),
    ("bom.csv", "\ufeff" + HEADER + "\n" + _samples(50)),
    ("no-final-newline.csv", HEADER + "\n" + _samples(50).rstrip("\n")),
    ("nounits-noheader.csv", "".join(f"2026/11/20 10:00:{s:02d}.000, 0, GPU-1, NVIDIA L4, 55.{s}, 30, 5, 100, 23034\n" for s in range(40))),
    ("header-only.csv", HEADER + "\n"),
    ("day.csv.gz", HEADER + "\n" + _samples(500)),
])
def test_clean_files_take_the_fast_path(landing, name, text):
    fast, lines, rejects = _both(landing, _write(landing, name, text))
    assert rejects == []
    assert fast is not None
    assert fast == lines
    assert [r["_source_line"] for r in fast] == [r["_source_line"] for r in lines]


@pytest.mark.parametrize("name, text", [
    # a blank line: the CSV reader would skip it and number every later row one line too early
    ("blank-line.csv", HEADER + "\n" + _samples(20) + "\n" + _samples(20, 20)),
    ("blank-lines-at-the-top.csv", "\n\n" + HEADER + "\n" + _samples(20)),
    ("spaces-line.csv", HEADER + "\n" + _samples(20) + "   \n" + _samples(20, 20)),
    ("truncated-row.csv", HEADER + "\n" + _samples(20) + "2026/11/20 11:00:00.000, 0, GPU-0\n"),
    ("extra-field.csv", HEADER + "\n" + _samples(20) + "2026/11/20 11:00:00.000, 0, GPU-0, X, 1 W, 1 %, 1 MiB, 1 MiB, 9\n"),
    ("na-power.csv", HEADER + "\n" + _samples(20) + _samples(1, 40, "[N/A]")),
    ("restarted-logger.csv", HEADER + "\n" + _samples(20) + HEADER + "\n" + _samples(20, 20)),
    ("lone-cr.csv", HEADER + "\n" + _samples(20).replace("\n", "\r", 1)),
    # as many '\r' as '\n' but one of them alone: DuckDB's CSV reader stops on it (an error would abort
    # the load's transaction)
    ("crlf-and-a-lone-cr.csv", HEADER + "\r\n" + _samples(1).replace("\n", "\r") + _samples(1, 1) + _samples(20, 2).replace("\n", "\r\n")),
    # no header: nvidia-smi's default fields are expected, and these three are not them
    ("headerless-other-fields.csv", "power.draw [W],gpu,timestamp\n1 W,0,2026/11/20 10:00:00.000\n"),
])
def test_other_files_go_to_the_line_parser(landing, name, text):
    fast, lines, rejects = _both(landing, _write(landing, name, text))
    assert fast is None
    assert lines or rejects


def test_a_repeated_local_hour_goes_to_the_line_parser(landing):
    # Europe/Berlin, 2026-10-25: 02:00-02:59 local happens twice; placing those rows needs line order
    text = HEADER + "\n" + "".join(f"2026/10/25 {h}:{m:02d}:00.000, 0, GPU-0, NVIDIA H100 80GB HBM3, 100 W, 60 %, 1 MiB, 2 MiB\n"
                                   for h, m in [("01", 59), ("02", 0), ("02", 30), ("02", 59), ("02", 0), ("02", 30), ("03", 0)])
    path = _write(landing, "dst.csv", text)
    fast, lines, rejects = _both(landing, path, "Europe/Berlin")
    assert fast is None and rejects == []
    assert len({r["sample_ts_utc"] for r in lines}) == 7
    assert _both(landing, path, "UTC")[0] is not None  # the same file in UTC repeats no hour


def test_stage_uses_the_fast_path_inside_an_open_transaction(landing):
    # the ingestion stages files inside its transaction: a line the fast path cannot read must not
    # raise there (that would abort the transaction); the line parser then takes the file
    con = new_connection()
    con.execute("BEGIN")
    clean = describe(landing, _write(landing, "clean.csv", HEADER + "\n" + _samples(100)))
    dirty = describe(landing, _write(landing, "dirty.csv", HEADER + "\n" + _samples(10) + "2026/11/20 11:00:00.000, 0\n"))
    rows_sql, rejects_sql = nvidia_smi.stage(con, clean, "UTC")
    assert rejects_sql is None and len(_rows(con, rows_sql)) == 100
    rows_sql, rejects_sql = nvidia_smi.stage(con, dirty, "UTC")
    assert len(_rows(con, rows_sql)) == 10
    assert [(r["_source_line"], r["reason"]) for r in _rows(con, rejects_sql)] == [(12, "expected 8 fields, found 2")]
    con.execute("COMMIT")


def test_units_are_removed_by_the_headers_unit_or_else_by_any_known_unit(landing):
    # The unit a header field states ([W], [%], [MiB]) is removed as text; fields whose header states
    # none (temperature.gpu, clocks without a bracket) accept any of nvidia-smi's units. Both readers.
    path = _write(landing, "smi.csv",
                  "timestamp, index, power.draw [W], utilization.gpu [%], memory.used [MiB], temperature.gpu, clocks.sm\n"
                  "2026/11/20 10:00:00.000, 0, 81.25 W, 95 %, 1024 MiB, 40 C, 1980 MHz\n"  # units
                  "2026/11/20 10:00:01.000, 0, 82.5, 96, 1025, 41, 1981\n"  # nounits
                  "2026/11/20 10:00:02.000, 0, 83W, [N/A], [Not Supported], , 1982MHz\n"  # no blank before a unit; N/A
                  "2026/11/20 10:00:03.000, 0, 84.0 W, 5 MiB, 7 GiB, 42 F, 1983 MHz\n")  # another unit than the header's: NULL
    fast, lines, _ = _both(landing, path)
    assert fast is not None
    for rows in (fast, lines):
        assert [(r["power_w"], r["utilization_gpu_pct"], r["memory_used_mib"], r["temperature_c"], r["sm_clock_mhz"]) for r in rows] == [
            (81.25, 95, 1024, 40, 1980), (82.5, 96, 1025, 41, 1981), (83, None, None, None, 1982), (84, None, None, None, 1983)]


def test_the_reader_parses_nvidia_smis_timestamp_and_a_plain_index_itself():
    pos = {"ts_text": 1, "gpu_index": 2}
    assert nvidia_smi._typed_fields("2026/11/20 10:00:00.123, 3, GPU-3, NVIDIA L4, 70 W", pos) == {"ts_text", "gpu_index"}
    assert nvidia_smi._typed_fields("2026-11-20T10:00:00+01:00, 3, GPU-3", pos) == {"gpu_index"}
    assert nvidia_smi._typed_fields("2026/11/20 10:00:00, [N/A], GPU-3", pos) == set()  # no milliseconds; no index
    assert nvidia_smi._typed_fields("2026/11/20 10:00:00.123", pos) == {"ts_text"}  # a row shorter than the header
    assert nvidia_smi._typed_fields("2026/11/20 10:00:00.123, \uff13", pos) == {"ts_text"}  # a digit, but not one the reader reads


ISO_ROW = "2026-11-20T10:00:30+00:00, 1, GPU-1, NVIDIA H100 80GB HBM3, 300.5 W, 60 %, 1024 MiB, 81559 MiB\n"
NA_INDEX_ROW = "2026/11/20 10:00:31.000, [N/A], GPU-1, NVIDIA H100 80GB HBM3, 300.5 W, 60 %, 1024 MiB, 81559 MiB\n"


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
@pytest.mark.parametrize("row, rejected", [(ISO_ROW, []), (NA_INDEX_ROW, [(32, "GPU index missing or not a number")])])
def test_a_later_row_the_reader_cannot_parse_is_read_by_the_line_parser(landing, tz, row, rejected):
    # The first row decides which fields the fast path's reader parses (nvidia-smi's timestamp format
    # exactly, as strptime reads it); a later ISO timestamp or a missing index makes the reader skip
    # that line, and the file goes to the line parser
    fast, lines, rejects = _both(landing, _write(landing, "mixed.csv", HEADER + "\n" + _samples(30) + row), tz)
    assert fast is None
    assert [(r["_source_line"], r["reason"]) for r in rejects] == rejected
    if not rejected:
        assert len(lines) == 31 and lines[30]["_source_line"] == 32 and str(lines[30]["sample_ts_utc"]) == "2026-11-20 10:00:30"
