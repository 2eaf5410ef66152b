"""The benchmark's smoke size keeps it working: every implementation runs and they agree on the
energy. (No timing is asserted: the figures live in docs/benchmarks.md.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_smoke_size_runs_and_implementations_agree(tmp_path):
    spec = importlib.util.spec_from_file_location("fleet_bench", REPO / "bench" / "fleet_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.main(["--gpus", "10", "--seconds", "1800", "--out", str(tmp_path / "bench")])
    assert report["size"]["samples"] == 18000 and report["size"]["hosts"] == 2
    results = report["results"]
    errors = {k: v["error"][-1500:] for k, v in results.items() if isinstance(v, dict) and "error" in v}
    assert errors == {}
    totals = {k: v["total_kwh"] for k, v in results.items() if isinstance(v, dict)}
    assert len(totals) == 6
    reference = totals["floor-parquet"]
    assert reference > 0
    for name, kwh in totals.items():
        assert kwh == pytest.approx(reference, rel=1e-9), name
