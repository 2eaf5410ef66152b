"""Benchmark: what a day's run spends on the files of the day before (docs/benchmarks.md, round 16).

    PYTHONPATH=plugins python bench/neighbour_files.py --gpus 125 --out /tmp/neighbour

A day's run reads the files dated the day before and after, for the rows local dates put across
midnight. This writes two days of the fleet's nvidia-smi CSV (fleet_bench.generate) and times the
second day's telemetry load three ways: on a warehouse that knows nothing of the first day's files
(parsed again), after the first day's load (their spans known: not parsed), and that first way rerun
(the spans its own first run took). Prints one JSON object: each load's seconds, rows loaded and
files not parsed (the rows must be equal; tests/bench runs a smoke size).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fleet_bench as fb  # noqa: E402


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", type=int, default=125)
    p.add_argument("--seconds", type=int, default=86400, help="seconds of 1 Hz samples a day, from midnight")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if not (args.out / "csv").exists():
        for day in (fb.DAY, fb.NEXT_DAY):
            fb.generate(args.out, args.gpus, args.seconds, day, ("csv",), 0, 0)
    os.environ.update({"GREENOPS_LANDING_DIR": str(args.out / "csv"), "GREENOPS_FLEET_FILE": str(args.out / "fleet.yaml")})
    from greenops import ingest
    from greenops.settings import get_settings

    def load(warehouse: str, day) -> dict:
        os.environ["GREENOPS_WAREHOUSE"] = str(args.out / warehouse)
        said.clear()
        t0 = time.perf_counter()
        summary = ingest.ingest_gpu_telemetry(day, settings=get_settings())
        seconds = round(time.perf_counter() - t0, 2)
        not_read = sum(int(m.group(1)) for r in said if (m := re.match(r"(\d+) files not read: unchanged", r.getMessage())))
        return {"s": seconds, "rows": summary["rows"], "files": summary["files"], "files_not_parsed": not_read}

    # the load says which files it did not parse (its log)
    said: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = said.append
    logging.getLogger("greenops.ingest").addHandler(handler)
    logging.getLogger("greenops.ingest").setLevel(logging.INFO)

    for path in args.out.glob("*.duckdb*"):
        path.unlink()
    result = {"unknown": load("a.duckdb", fb.NEXT_DAY), "first_day": load("b.duckdb", fb.DAY)}
    result["after_the_first_day"] = load("b.duckdb", fb.NEXT_DAY)
    result["rerun"] = load("a.duckdb", fb.NEXT_DAY)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
