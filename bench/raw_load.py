"""Benchmark: one day's load of a raw table, and what it spills (docs/benchmarks.md, rounds 18 and 19).

    PYTHONPATH=plugins python bench/raw_load.py --source requests --gpus 1000 --out /tmp/day [--runs 3]
    PYTHONPATH=plugins python bench/raw_load.py --source telemetry --format csv --gpus 1000 --out /tmp/day

Writes the fleet's day in ``--format`` (fleet_bench.generate: that format's landing folder, with the
request logs, no CUR) unless ``--out`` already holds one (the day scenario's folder does), then loads
the day's request logs (``--source requests``) or GPU telemetry (``--source telemetry``) into a new
warehouse ``--runs`` times. Prints one JSON object: each run's seconds, rows loaded and quarantined,
and the most the load's temporary folder held (DuckDB spills there past the load's memory limit),
polled every 0.2 s, with the process's peak resident memory. tests/bench runs a smoke size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fleet_bench as fb  # noqa: E402


#: --source: the ingestion function of ``greenops.ingest`` that loads it
SOURCES = {"requests": "ingest_inference_logs", "telemetry": "ingest_gpu_telemetry"}


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:  # removed while walked
                pass
    return total


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", choices=sorted(SOURCES), default="requests")
    p.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="the telemetry's landing format")
    p.add_argument("--gpus", type=int, default=125)
    p.add_argument("--seconds", type=int, default=86400, help="seconds of the day sampled (the requests scale with it)")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    landing = args.out / args.format
    if not (landing / "inference_logs").exists():
        fb.generate(args.out, args.gpus, args.seconds, fb.DAY, (args.format,), cur_lines=0)
    spill = args.out / "tmp"
    spill.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(spill)  # the load's temporary folder is made here
    work = args.out / f"work-{args.source}"
    work.mkdir(exist_ok=True)
    fb._greenops_settings(landing, work, args.out / "fleet.yaml")
    from greenops import ingest
    from greenops.settings import get_settings

    load = getattr(ingest, SOURCES[args.source])
    runs = []
    for _ in range(args.runs):
        for path in work.glob("wh.duckdb*"):
            path.unlink()
        peak, done = [0], threading.Event()

        def poll() -> None:
            while not done.wait(0.2):
                peak[0] = max(peak[0], _folder_bytes(spill))
        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        t0 = time.perf_counter()
        summary = load(fb.DAY, settings=get_settings())
        seconds = round(time.perf_counter() - t0, 2)
        done.set()
        watcher.join()
        runs.append({"s": seconds, "rows": summary["rows"], "quarantined": summary["quarantined"],
                     "files": summary["files"], "peak_spill_mb": round(peak[0] / 1e6, 1)})
    result = {"source": args.source, "format": args.format, "runs": runs,
              "peak_rss_mb": round(fb._own_peak_rss_kb() / 1e3, 1)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
