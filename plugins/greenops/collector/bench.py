"""Measure the collector's own CPU, memory and disk use with a fake NVML (no GPU needed).

    PYTHONPATH=plugins .venv/bin/python -m greenops.collector.bench --gpus 8 --duration 30

Runs the real ``Collector.run`` loop in this process against ``FakeNvml`` and reports CPU time
(getrusage, user + system), memory (psutil: RSS, and USS, the memory only this process holds), the
cost of one ``sample_once`` and the bytes a day of parts takes. A fake answers in microseconds; real
NVML calls go through the driver and cost more: on a GPU host, ``--real`` measures the loop against
the real NVML (the disk figure always uses the fake, with jittered readings).
"""

from __future__ import annotations

import argparse
import random
import resource
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psutil

from greenops.collector import nvml
from greenops.collector.fake_nvml import FakeNvml


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def measure_run(gpus: int, duration_s: float, interval_s: float, flush_interval_s: float, out: Path,
                real: bool = False) -> dict:
    """CPU and memory of ``Collector.run`` for ``duration_s`` seconds over ``gpus`` fake GPUs (or the
    host's real GPUs with ``real``)."""
    if not real:
        nvml.pynvml = FakeNvml(gpus, live=True)
    proc = psutil.Process()
    rss_before_mib = proc.memory_info().rss / 2**20
    # One-time costs first (NVML init, pyarrow's first conversion and Parquet write, which import
    # pandas/numpy when installed), so the loop figure is the steady state that runs all day.
    cpu0 = _cpu_s()
    warm = nvml.Collector(out / "warm-up", "bench-host")
    warm.start()
    warm.record(warm.sample_once(datetime.now(timezone.utc)))
    warm.close()
    startup_cpu_s = _cpu_s() - cpu0
    cpu0, wall0 = _cpu_s(), time.monotonic()
    status = nvml.Collector(out / "run", "bench-host", flush_interval_s=flush_interval_s).run(interval_s, duration_s)
    cpu_s, wall_s = _cpu_s() - cpu0, time.monotonic() - wall0
    ticks = round(duration_s / interval_s)
    return {
        "status": status,
        "wall_s": wall_s,
        "startup_cpu_s": startup_cpu_s,
        "cpu_s": cpu_s,
        "cpu_pct_of_one_core": 100 * cpu_s / wall_s,
        "cpu_ms_per_tick": 1000 * cpu_s / ticks,
        "rss_before_start_mib": rss_before_mib,
        "rss_after_run_mib": proc.memory_info().rss / 2**20,
        "uss_after_run_mib": proc.memory_full_info().uss / 2**20,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "parts": len(list((out / "run").rglob("*.parquet"))),
    }


def measure_sample_once(gpus: int, repeat: int = 2000) -> float:
    """Mean wall time of one ``sample_once`` over ``gpus`` fake GPUs, in microseconds."""
    nvml.pynvml = FakeNvml(gpus)
    with tempfile.TemporaryDirectory() as tmp:
        c = nvml.Collector(Path(tmp), "probe-host")
        c.start()
        now = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        for _ in range(repeat):
            c.sample_once(now)
        return 1e6 * (time.perf_counter() - t0) / repeat


def measure_disk(gpus: int, interval_s: float, flush_interval_s: float, out: Path) -> dict:
    """Size of an hour of parts of ``flush_interval_s`` of samples with jittered readings (at most 60
    parts), and of them compacted into one file, each scaled to a day."""
    fake = nvml.pynvml = FakeNvml(gpus)
    c = nvml.Collector(out, "disk-host", flush_interval_s=flush_interval_s)
    c.start()
    rng = random.Random(0)
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)  # recent: kept
    per_part = round(flush_interval_s / interval_s)
    parts = []
    n_parts = min(60, round(3600 / flush_interval_s))
    for tick in range(n_parts * per_part):
        for g in fake.gpus:  # realistic variation, so compression is not flattered by constants
            g.power_mw = rng.randint(60_000, 700_000)
            g.energy_mj += g.power_mw * interval_s
            g.util_gpu_pct, g.util_memory_pct = rng.randint(0, 100), rng.randint(0, 100)
            g.temperature_c, g.sm_clock_mhz = rng.randint(30, 85), rng.randint(345, 1980)
        c.record(c.sample_once(hour + timedelta(seconds=tick * interval_s)))
        if (tick + 1) % per_part == 0:
            parts.append(c.flush().stat().st_size)
    c.close()
    (compacted,), _ = c.writer.compact((hour + timedelta(hours=1)).replace(tzinfo=None))
    per_day = 86400 / (n_parts * flush_interval_s)
    return {"part_bytes": parts[0], "rows_per_part": gpus * per_part, "mib_per_day": sum(parts) * per_day / 2**20,
            "compacted_hour_bytes": compacted.stat().st_size, "mib_per_day_compacted": compacted.stat().st_size * per_day / 2**20}


def measure_day(gpus: int, interval_s: float, flush_interval_s: float, out: Path) -> dict:
    """A day of ticks without sleeping (fake clock and NVML): CPU and whether memory stays flat."""
    nvml.pynvml = FakeNvml(gpus, live=True)
    proc = psutil.Process()
    c = nvml.Collector(out, "day-host", flush_interval_s=flush_interval_s)
    c.start()
    ticks, per_flush = round(86400 / interval_s), round(flush_interval_s / interval_s)
    t = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    rss_mib = []
    cpu0 = _cpu_s()
    for i in range(1, ticks + 1):
        c.record(c.sample_once(t + timedelta(seconds=i * interval_s)))
        if i % per_flush == 0:
            c.flush()
        if i % (ticks // 4) == 0:
            rss_mib.append(proc.memory_info().rss / 2**20)
    c.close()
    return {"ticks": ticks, "cpu_s": _cpu_s() - cpu0, "rss_quarters_mib": rss_mib,
            "parts": len(list(out.rglob("*.parquet")))}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m greenops.collector.bench", description=__doc__.splitlines()[0])
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--flush-interval", type=float, default=60.0)
    p.add_argument("--real", action="store_true", help="run the loop against this host's real NVML")
    p.add_argument("--day", action="store_true", help="also run a day of ticks without sleeping (memory check)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="greenops-collector-bench-") as tmp:
        run = measure_run(args.gpus, args.duration, args.interval, args.flush_interval, Path(tmp) / "run", args.real)
        sample_us = measure_sample_once(args.gpus)
        disk = measure_disk(args.gpus, args.interval, args.flush_interval, Path(tmp) / "disk")
        day = measure_day(args.gpus, args.interval, args.flush_interval, Path(tmp) / "day") if args.day else None
    source = "real NVML (this host's GPUs)" if args.real else f"fake NVML, {args.gpus} GPUs"
    print(f"{source}, interval {args.interval:g} s, flush every {args.flush_interval:g} s, "
          f"{run['wall_s']:.1f} s wall (exit {run['status']}, {run['parts']} part(s))")
    print(f"  CPU: start-up {run['startup_cpu_s']:.3f} s once; loop {run['cpu_s']:.3f} s = "
          f"{run['cpu_pct_of_one_core']:.2f} % of one core, {run['cpu_ms_per_tick']:.2f} ms per tick")
    print(f"  memory: RSS {run['rss_before_start_mib']:.1f} MiB after imports, {run['rss_after_run_mib']:.1f} MiB "
          f"after (USS {run['uss_after_run_mib']:.1f} MiB), peak {run['peak_rss_mib']:.1f} MiB")
    print(f"  one sample_once over {args.gpus} fake GPUs: {sample_us:.0f} us")
    print(f"  disk: {disk['part_bytes']} bytes per part of {disk['rows_per_part']} rows "
          f"= {disk['mib_per_day']:.1f} MiB per day per host; compacted, {disk['compacted_hour_bytes']} bytes "
          f"a file = {disk['mib_per_day_compacted']:.1f} MiB per day per host")
    if day:
        print(f"  a day of ticks without sleeping ({day['ticks']} ticks, {day['parts']} parts): "
              f"{day['cpu_s']:.1f} s CPU, RSS at each quarter "
              + ", ".join(f"{m:.1f}" for m in day["rss_quarters_mib"]) + " MiB")


if __name__ == "__main__":
    main()
