"""Benchmark: one day of a large GPU fleet through GreenOps, beside a bare DuckDB floor and pandas.

    python bench/fleet_bench.py --gpus 1000 --days 1 --out bench/out    (the reference size)
    python bench/fleet_bench.py --gpus 16 --seconds 3600                (the smoke size the tests run)

It writes the same samples twice, as nvidia-smi CSV (8 GPUs a host, `--format=csv` lines) and as our
NVML collector's Parquet, then times on those files, for each input format:
  greenops  our ingestion (greenops.ingest.ingest_gpu_telemetry) + `dbt build` of the energy chain
            and the fact (the requests and other sources are empty: telemetry is the volume);
  floor     a bare DuckDB script doing the same work with nothing around it: persist the raw rows and
            compute hourly energy per GPU (trapezoid of power) -- the floor for this machine;
  pandas    the straightforward pandas implementation a user would write (CSV only; its Parquet
            variant reads with pyarrow).
Each run is a separate process; we report wall time, samples per second, peak RSS, and ratios.
No timing is asserted anywhere: the figures go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 20)
GPUS_PER_HOST = 8

FLEET = """
sites:
  - {site: bench, pue: 1.3, grid_zone: DE, timezone: UTC}
hosts:
%s
deployments: []
projects: []
"""


def generate(out: Path, gpus: int, seconds: int) -> dict:
    """Write the fleet's CSV and Parquet landing folders (DuckDB generates them: seconds, not minutes)."""
    hosts = (gpus + GPUS_PER_HOST - 1) // GPUS_PER_HOST
    con = duckdb.connect()
    for h in range(hosts):
        n = min(GPUS_PER_HOST, gpus - h * GPUS_PER_HOST)
        rows = f"""
            SELECT TIMESTAMP '{DAY} 00:00:00' + to_seconds(s) AS ts, g,
                   round(80 + 520 * (0.5 + 0.5 * sin(s / 3600.0 + g + {h})), 2) AS power_w
            FROM range(0, {seconds}) t(s), range(0, {n}) u(g)"""
        csv = out / "csv" / "gpu_telemetry" / f"host=h{h:04d}" / f"date={DAY}" / "nvidia-smi.csv"
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_text("timestamp, index, uuid, name, power.draw [W], utilization.gpu [%], memory.used [MiB], memory.total [MiB]\n")
        con.execute(f"""COPY (SELECT strftime(ts, '%Y/%m/%d %H:%M:%S.000') || ', ' || g || ', GPU-{h:04d}-' || g
                                  || ', NVIDIA H100 80GB HBM3, ' || power_w || ' W, 60 %, 60000 MiB, 81559 MiB'
                           FROM ({rows}) ORDER BY ts, g)
                        TO '{csv}.body' (HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t')""")
        with open(csv, "ab") as f, open(f"{csv}.body", "rb") as body:
            shutil.copyfileobj(body, f)
        os.remove(f"{csv}.body")
        pq = out / "parquet" / "gpu_telemetry" / f"host=h{h:04d}" / f"date={DAY}" / "nvml.parquet"
        pq.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"""COPY (SELECT ts AS sample_ts_utc, 'h{h:04d}' AS host, g::INTEGER AS gpu_index,
                                  'GPU-{h:04d}-' || g AS gpu_uuid, 'NVIDIA H100 80GB HBM3' AS gpu_name, power_w,
                                  NULL::DOUBLE AS energy_counter_mj, 60.0 AS utilization_gpu_pct
                           FROM ({rows}) ORDER BY ts, g) TO '{pq}' (FORMAT parquet)""")
    fleet = out / "fleet.yaml"
    fleet.write_text(FLEET % "\n".join(
        f"  - {{host: h{h:04d}, site: bench, gpu_model: NVIDIA H100 80GB HBM3, gpu_count: {GPUS_PER_HOST}}}" for h in range(hosts)))
    return {"gpus": gpus, "hosts": hosts, "samples": gpus * seconds,
            "csv_bytes": sum(p.stat().st_size for p in (out / "csv").rglob("*.csv")),
            "parquet_bytes": sum(p.stat().st_size for p in (out / "parquet").rglob("*.parquet"))}


# --- the three implementations, each run in its own process (peak RSS per run) ---------------------

def run_greenops(landing: Path, work: Path, fleet: Path) -> dict:
    env = {"GREENOPS_LANDING_DIR": str(landing), "GREENOPS_WAREHOUSE": str(work / "wh.duckdb"), "GREENOPS_FLEET_FILE": str(fleet)}
    os.environ.update(env)
    sys.path.insert(0, str(REPO / "plugins"))
    from greenops import ingest
    from greenops.settings import dbt_env

    t0 = time.perf_counter()
    ingest.load_inventory()
    ingest.ingest_gpu_telemetry(DAY)
    t_ingest = time.perf_counter() - t0
    dbt = Path(sys.executable).with_name("dbt")
    # the energy chain, the fact, its dimensions and the KPIs, with their data tests (unit tests are not volume)
    built = subprocess.run([str(dbt), "build", "--quiet", "--select", "+path:models/marts", "--exclude", "test_type:unit"],
                           cwd=REPO / "dbt_project", env={**os.environ, **dbt_env()}, capture_output=True, text=True)
    if built.returncode:
        raise RuntimeError("dbt build failed:\n" + (built.stdout + built.stderr)[-3000:])
    with duckdb.connect(str(work / "wh.duckdb"), read_only=True) as con:
        kwh = con.execute("select sum(gpu_energy_kwh) from intermediate.int_gpu_energy_hourly").fetchone()[0]
    return {"ingest_s": t_ingest, "total_kwh": kwh}


FLOOR_SQL = """
CREATE TABLE raw_samples AS SELECT * FROM {source};
CREATE TABLE hourly AS
WITH s AS (
    SELECT host, gpu_index, sample_ts_utc, power_w,
           lag(sample_ts_utc) OVER w AS prev_ts, lag(power_w) OVER w AS prev_w
    FROM raw_samples WINDOW w AS (PARTITION BY host, gpu_index ORDER BY sample_ts_utc)
)
SELECT host, gpu_index, date_trunc('hour', sample_ts_utc) AS hour_utc,
       sum((power_w + prev_w) / 2 * epoch(sample_ts_utc - prev_ts)) / 3.6e6 AS gpu_energy_kwh
FROM s WHERE prev_ts IS NOT NULL GROUP BY ALL;
"""


def run_floor(landing: Path, work: Path, fmt: str) -> dict:
    con = duckdb.connect(str(work / "floor.duckdb"))
    glob = str(landing / "gpu_telemetry" / "*" / "*" / ("*.parquet" if fmt == "parquet" else "*.csv"))
    if fmt == "parquet":
        source = f"read_parquet('{glob}')"
    else:
        source = (f"(SELECT split_part(filename, '/', -3) AS host, index AS gpu_index, "
                  f"strptime(timestamp, '%Y/%m/%d %H:%M:%S.%g') AS sample_ts_utc, "
                  f"CAST(replace(\"power.draw [W]\", ' W', '') AS DOUBLE) AS power_w "
                  f"FROM read_csv('{glob}', header = true, delim = ', ', all_varchar = false, filename = true, "
                  f"types = {{'timestamp': 'VARCHAR', 'power.draw [W]': 'VARCHAR'}}))")
    t0 = time.perf_counter()
    for statement in FLOOR_SQL.format(source=source).split(";"):
        if statement.strip():
            con.execute(statement)
    kwh = con.execute("select sum(gpu_energy_kwh) from hourly").fetchone()[0]
    return {"total_kwh": kwh, "floor_s": time.perf_counter() - t0}


def run_pandas(landing: Path, work: Path, fmt: str) -> dict:
    import pandas as pd

    frames = []
    for path in sorted((landing / "gpu_telemetry").rglob("*.parquet" if fmt == "parquet" else "*.csv")):
        if fmt == "parquet":
            df = pd.read_parquet(path, columns=["sample_ts_utc", "gpu_index", "power_w"])
        else:
            df = pd.read_csv(path, skipinitialspace=True)
            df = pd.DataFrame({"sample_ts_utc": pd.to_datetime(df["timestamp"], format="%Y/%m/%d %H:%M:%S.%f"),
                               "gpu_index": df["index"], "power_w": df["power.draw [W]"].str.rstrip(" W").astype(float)})
        df["host"] = path.parts[-3]
        frames.append(df)
    df = pd.concat(frames, ignore_index=True).sort_values(["host", "gpu_index", "sample_ts_utc"])
    g = df.groupby(["host", "gpu_index"])
    dt = g["sample_ts_utc"].diff().dt.total_seconds()
    df["joules"] = (df["power_w"] + g["power_w"].shift()) / 2 * dt
    df["hour_utc"] = df["sample_ts_utc"].dt.floor("h")
    hourly = df.groupby(["host", "gpu_index", "hour_utc"])["joules"].sum() / 3.6e6
    return {"total_kwh": float(hourly.sum())}


def _child(kind: str, fmt: str, out: Path) -> dict:
    landing, work = out / fmt, out / f"work-{kind}-{fmt}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    if kind == "greenops":
        result = run_greenops(landing, work, out / "fleet.yaml")
    elif kind == "floor":
        result = run_floor(landing, work, fmt)
    else:
        result = run_pandas(landing, work, fmt)
    result["wall_s"] = time.perf_counter() - t0
    result["peak_rss_mb"] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    wh = work / ("wh.duckdb" if kind == "greenops" else "floor.duckdb")
    result["warehouse_mb"] = wh.stat().st_size / 2**20 if wh.exists() else None
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", type=int, default=1000)
    p.add_argument("--seconds", type=int, default=86400, help="seconds of 1 Hz samples (86400 = one day)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    p.add_argument("--skip", default="", help="comma list of runs to skip, e.g. pandas-csv,pandas-parquet")
    p.add_argument("--child", nargs=2, metavar=("KIND", "FORMAT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child, args.out)))
        return {}
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    t = time.perf_counter()
    sizes = generate(args.out, args.gpus, args.seconds)
    sizes["generate_s"] = time.perf_counter() - t
    results = {}
    for fmt in ("parquet", "csv"):
        for kind in ("greenops", "floor", "pandas"):
            if f"{kind}-{fmt}" in args.skip.split(","):
                continue
            proc = subprocess.run([sys.executable, __file__, "--child", kind, fmt, "--out", str(args.out)],
                                  capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "plugins")})
            if proc.returncode:
                results[f"{kind}-{fmt}"] = {"error": proc.stderr[-2000:]}
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["samples_per_s"] = sizes["samples"] / r["wall_s"]
            results[f"{kind}-{fmt}"] = r
    for fmt in ("parquet", "csv"):
        g, f, pd_ = (results.get(f"{k}-{fmt}", {}) for k in ("greenops", "floor", "pandas"))
        if "wall_s" in g and "wall_s" in f:
            results[f"ratio-greenops/floor-{fmt}"] = g["wall_s"] / f["wall_s"]
        if "wall_s" in g and "wall_s" in pd_:
            results[f"ratio-pandas/greenops-{fmt}"] = pd_["wall_s"] / g["wall_s"]
    report = {"size": sizes, "results": results}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
