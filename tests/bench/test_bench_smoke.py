"""The benchmark's smoke size keeps it working: every implementation runs and they agree on the
energy; GreenOps loads the generated requests (all of them reach the fact) and CUR line items; the
history, dashboard and DAG-parse scenarios run too (on Parquet in the collector's parts), and the daily incremental run gives the same
energy and requests whatever history lies under it. (No timing is asserted: the figures live in
docs/benchmarks.md.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from greenops.collector.storage import superseded

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_smoke_size_runs_and_implementations_agree(tmp_path):
    spec = importlib.util.spec_from_file_location("fleet_bench", REPO / "bench" / "fleet_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # the Parquet as the collector writes it: a part every 10 minutes, 3 a host
    report = bench.main(["--gpus", "10", "--seconds", "1800", "--history-days", "1,31", "--parquet-part-s", "600",
                         "--out", str(tmp_path / "bench")])
    assert report["size"]["samples"] == 18000 and report["size"]["hosts"] == 2 and report["size"]["parquet_files"] == 6
    results = report["results"]
    errors = {k: v["error"][-1500:] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    assert errors == {}
    totals = {k: v["total_kwh"] for k, v in results.items() if isinstance(v, dict)}
    assert len(totals) == 6
    reference = totals["floor-parquet"]
    assert reference > 0
    for name, kwh in totals.items():
        assert kwh == pytest.approx(reference, rel=1e-9), name

    # the generated requests and CUR line items are loaded, and the requests reach the fact, from either landing folder
    size = report["size"]
    assert size["requests"] == round(10 * 20_000 * 1800 / 86400) and size["cur_lines"] == 10 * 5_000
    for fmt in ("parquet", "csv"):
        g = results[f"greenops-{fmt}"]
        assert g["requests_loaded"] == size["requests"] and g["requests_quarantined"] == 0, fmt
        assert g["fact_requests"] == size["requests"], fmt
        assert g["cur_rows_loaded"] == size["cur_lines"] and g["cur_quarantined"] == 0, fmt
        assert 0 < g["cur_attributed_lines"] == size["cur_attributed_lines"] < size["cur_lines"], fmt

    # the next day's incremental run on 1 and 31 days of history: same day, same energy
    history = report["history"]
    errors = {k: v["error"][-1500:] for k, v in history.items() if isinstance(v, dict) and "error" in v}
    assert errors == {}
    assert history["days-1"]["total_kwh"] == pytest.approx(history["days-31"]["total_kwh"], rel=1e-12)
    assert history["days-1"]["total_kwh"] == pytest.approx(reference, rel=1e-9)
    assert history["days-1"]["fact_requests"] == history["days-31"]["fact_requests"] == size["requests"]  # the next day's requests
    rows = history["days-31"]["history_rows"]
    assert rows["intermediate.int_gpu_energy_hourly"] == 31 * 10  # day 0 and its 30 copies, 10 GPU-hours each
    # the CUR month and its charges kept for the month before (one copy), not rebuilt by the daily run
    assert rows["raw.aws_cur_line_items"] == rows["intermediate.int_aws_charges"] == 2 * size["cur_lines"]
    assert history["warehouse_growth_mb_per_day"] is not None

    assert "error" not in report["dashboard"] and len(report["dashboard"]["queries"]) >= 9
    assert {k: v for k, v in report["dag_parse"].items() if "error" in v} == {}
    assert all(v["dags"] >= 1 and v["errors"] == 0 for v in report["dag_parse"].values())

    # the telemetry ingestion alone (the part profiled at the reference size): every sample loaded
    telemetry = bench._run_child("telemetry", "csv", tmp_path / "bench")
    assert (telemetry.get("rows"), telemetry.get("quarantined")) == (18000, 0), telemetry


def test_the_compacted_layout_is_the_collectors(tmp_path):
    # --parquet-compacted writes what the collector leaves once each hour is compacted: one file an
    # hour named for the parts it holds, the same rows in order as the parts
    spec = importlib.util.spec_from_file_location("fleet_bench", REPO / "bench" / "fleet_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for compacted in (False, True):
        bench.generate(tmp_path / str(compacted), 10, 7200, formats=("parquet",), requests=0, cur_lines=0,
                       parquet_part_s=600, parquet_compacted=compacted)
    folder = "parquet/gpu_telemetry/host=h0001/date=2026-11-20"
    parts = sorted((tmp_path / "False" / folder).iterdir())
    hours = sorted((tmp_path / "True" / folder).iterdir())
    assert [p.name for p in hours] == ["nvml-00-0000-0005.parquet", "nvml-01-0000-0005.parquet"]
    assert len(parts) == 12 and set(superseded([p.name for p in parts + hours])) == {p.name for p in parts}
    assert pq.read_table(hours[1]).equals(pa.concat_tables([pq.read_table(p) for p in parts[6:]]))


@pytest.mark.e2e
def test_neighbour_files_benchmark_runs_and_parses_the_day_before_only_when_unknown(tmp_path):
    spec = importlib.util.spec_from_file_location("neighbour_files", REPO / "bench" / "neighbour_files.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main(["--gpus", "8", "--seconds", "600", "--out", str(tmp_path / "neighbour")])
    # the day's rows are the same however the day before's files were known; 1 host: a file a day
    assert {k: (v["rows"], v["files"]) for k, v in result.items()} == {
        "unknown": (4800, 2), "first_day": (4800, 2), "after_the_first_day": (4800, 2), "rerun": (4800, 2)}
    assert [result[k]["files_not_parsed"] for k in ("unknown", "first_day", "after_the_first_day", "rerun")] == [0, 0, 1, 1]


def test_raw_load_benchmark_loads_every_request_and_sample_on_each_run(tmp_path):
    spec = importlib.util.spec_from_file_location("raw_load", REPO / "bench" / "raw_load.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = str(tmp_path / "day")
    result = bench.main(["--gpus", "8", "--seconds", "600", "--runs", "2", "--out", out])
    # 20,000 requests a GPU and day, over 600 of its seconds: 1,111, in one log per deployment (2)
    assert [(r["rows"], r["quarantined"], r["files"]) for r in result["runs"]] == [(1111, 0, 2), (1111, 0, 2)]
    # the same fleet's nvidia-smi CSV: 8 GPUs x 600 s, one file per host of 8 GPUs
    result = bench.main(["--source", "telemetry", "--format", "csv", "--gpus", "8", "--seconds", "600", "--out", out])
    assert [(r["rows"], r["quarantined"], r["files"]) for r in result["runs"]] == [(4800, 0, 1)]
    assert result["peak_rss_mb"] > 0
