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

Further scenarios (--scenarios, all by default):
  history    the next day's ingestion and incremental `dbt build` (vars start_date/end_date, as the
             transformation DAG runs it) on a warehouse holding 1, 30 and 365 days (--history-days):
             day 0 is loaded and built for real, the earlier days are copies of its rows in the
             incremental tables (see add_history); also the warehouse's growth per day;
  dashboard  the KPI queries a dashboard sends (a week, a quarter, a year; by project and model) on
             the longest history;
  dags       each DAG file parsed by Airflow's DagBag in a fresh process.
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


def generate(out: Path, gpus: int, seconds: int, day: date = DAY, formats: tuple[str, ...] = ("csv", "parquet")) -> dict:
    """Write the fleet's CSV and Parquet landing folders for one day (DuckDB generates them: seconds, not minutes)."""
    hosts = (gpus + GPUS_PER_HOST - 1) // GPUS_PER_HOST
    con = duckdb.connect()
    for h in range(hosts):
        n = min(GPUS_PER_HOST, gpus - h * GPUS_PER_HOST)
        rows = f"""
            SELECT TIMESTAMP '{day} 00:00:00' + to_seconds(s) AS ts, g,
                   round(80 + 520 * (0.5 + 0.5 * sin(s / 3600.0 + g + {h})), 2) AS power_w
            FROM range(0, {seconds}) t(s), range(0, {n}) u(g)"""
        if "parquet" in formats:
            pq = out / "parquet" / "gpu_telemetry" / f"host=h{h:04d}" / f"date={day}" / "nvml.parquet"
            pq.parent.mkdir(parents=True, exist_ok=True)
            con.execute(f"""COPY (SELECT ts AS sample_ts_utc, 'h{h:04d}' AS host, g::INTEGER AS gpu_index,
                                      'GPU-{h:04d}-' || g AS gpu_uuid, 'NVIDIA H100 80GB HBM3' AS gpu_name, power_w,
                                      NULL::DOUBLE AS energy_counter_mj, 60.0 AS utilization_gpu_pct
                               FROM ({rows}) ORDER BY ts, g) TO '{pq}' (FORMAT parquet)""")
        if "csv" not in formats:
            continue
        csv = out / "csv" / "gpu_telemetry" / f"host=h{h:04d}" / f"date={day}" / "nvidia-smi.csv"
        csv.parent.mkdir(parents=True, exist_ok=True)
        csv.write_text("timestamp, index, uuid, name, power.draw [W], utilization.gpu [%], memory.used [MiB], memory.total [MiB]\n")
        con.execute(f"""COPY (SELECT strftime(ts, '%Y/%m/%d %H:%M:%S.000') || ', ' || g || ', GPU-{h:04d}-' || g
                                  || ', NVIDIA H100 80GB HBM3, ' || power_w || ' W, 60 %, 60000 MiB, 81559 MiB'
                           FROM ({rows}) ORDER BY ts, g)
                        TO '{csv}.body' (HEADER false, QUOTE '', ESCAPE '', DELIMITER '\t')""")
        with open(csv, "ab") as f, open(f"{csv}.body", "rb") as body:
            shutil.copyfileobj(body, f)
        os.remove(f"{csv}.body")
    fleet = out / "fleet.yaml"
    fleet.write_text(FLEET % "\n".join(
        f"  - {{host: h{h:04d}, site: bench, gpu_model: NVIDIA H100 80GB HBM3, gpu_count: {GPUS_PER_HOST}}}" for h in range(hosts)))
    return {"gpus": gpus, "hosts": hosts, "samples": gpus * seconds,
            "csv_bytes": sum(p.stat().st_size for p in out.glob("csv/**/*.csv")),
            "parquet_bytes": sum(p.stat().st_size for p in out.glob("parquet/**/*.parquet"))}


# --- the three implementations, each run in its own process (peak RSS per run) ---------------------

def run_greenops(landing: Path, work: Path, fleet: Path, day: date = DAY, dbt_vars: dict | None = None) -> dict:
    env = {"GREENOPS_LANDING_DIR": str(landing), "GREENOPS_WAREHOUSE": str(work / "wh.duckdb"), "GREENOPS_FLEET_FILE": str(fleet)}
    os.environ.update(env)
    sys.path.insert(0, str(REPO / "plugins"))
    from greenops import ingest
    from greenops.settings import dbt_env

    t0 = time.perf_counter()
    ingest.load_inventory()
    ingest.ingest_gpu_telemetry(day)
    t_ingest = time.perf_counter() - t0
    dbt = Path(sys.executable).with_name("dbt")
    # the energy chain, the fact, its dimensions and the KPIs, with their data tests (unit tests are not volume)
    args = [str(dbt), "build", "--quiet", "--select", "+path:models/marts", "--exclude", "test_type:unit"]
    if dbt_vars:  # the daily incremental run, as the transformation DAG starts it
        args += ["--vars", json.dumps(dbt_vars)]
    built = subprocess.run(args, cwd=REPO / "dbt_project", env={**os.environ, **dbt_env()}, capture_output=True, text=True)
    if built.returncode:
        raise RuntimeError("dbt build failed:\n" + (built.stdout + built.stderr)[-3000:])
    with duckdb.connect(str(work / "wh.duckdb"), read_only=True) as con:
        kwh = con.execute("select sum(gpu_energy_kwh) from intermediate.int_gpu_energy_hourly where date_day = ?", [day]).fetchone()[0]
    return {"ingest_s": t_ingest, "dbt_s": time.perf_counter() - t0 - t_ingest, "total_kwh": kwh}


# --- history: the daily incremental run on top of 1, 30 and 365 days ---------------------------------

NEXT_DAY = DAY + timedelta(days=1)
#: The incremental models a daily run appends to, and how their copies for earlier days are made.
#: The interval model's history is one row per GPU-hour instead of one per sample (a daily run only
#: deletes its own day there), so a year of history is built in seconds; every other table's history
#: has its real row count.
HISTORY_TABLES = {
    "intermediate.int_gpu_energy_intervals": "qualify row_number() over (partition by gpu_key, hour_utc order by interval_end_utc) = 1",
    "intermediate.int_gpu_energy_hourly": "",
    "intermediate.int_gpu_deployment_hours": "",
    "marts.inference_energy_fact": "",
}


def add_history(warehouse: Path, days: int) -> dict:
    """Copy the built day's rows of every incremental table to the ``days`` days before it (dates and
    timestamps shifted, the fact's key recomputed), as if those days had been loaded and built."""
    con = duckdb.connect(str(warehouse))
    tables = dict(HISTORY_TABLES)
    tables.update({f"marts.{t}": "" for (t,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' and table_name in "
        "(select table_name from information_schema.columns where table_schema = 'marts' and column_name = 'date_day') "
        "and table_name not in ('inference_energy_fact', 'dim_date')").fetchall()})
    rows = {}
    for table, keep in tables.items():
        schema, name = table.split(".")
        cols = con.execute("select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
                           "order by ordinal_position", [schema, name]).fetchall()

        def shifted(c: str, t: str) -> str:
            if c == "fact_key":
                return ("md5(cast(hour_utc - to_days(k) as varchar) || '|' || deployment_id || '|' || model_id || '|' || project_id)")
            if t == "DATE":
                return f"cast({c} - to_days(k) as date)"
            if t.startswith("TIMESTAMP"):
                return f"{c} - to_days(k)"
            return c
        select = ", ".join(f"{shifted(c, t)} as {c}" for c, t in cols)
        if days > 0:
            con.execute(f"insert into {table} select {select} from (select * from {table} {keep}) s, range(1, {days} + 1) r(k)")
        rows[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
    con.execute("checkpoint")
    con.close()
    return rows


def run_history(out: Path, days: int) -> dict:
    """The next day's ingestion and incremental `dbt build` on a warehouse holding ``days`` days of history."""
    hist, work = out / "history", out / f"work-history-{days}"
    shutil.copy(hist / "base" / "wh.duckdb", work / "wh.duckdb")
    t0 = time.perf_counter()
    rows = add_history(work / "wh.duckdb", days - 1)
    history_s = time.perf_counter() - t0
    result = run_greenops(hist / "parquet", work, hist / "fleet.yaml", NEXT_DAY,
                          {"start_date": NEXT_DAY.isoformat(), "end_date": NEXT_DAY.isoformat()})
    return {**result, "history_build_s": history_s, "history_rows": rows}


# --- dashboard: the KPI queries a dashboard sends, on a year of marts ---------------------------------

DASHBOARD_QUERIES = {
    # daily energy, carbon, cost and tokens of one project and model
    "fact_daily_project_model": """
        select date_day, sum(gpu_energy_kwh), sum(facility_energy_kwh), sum(carbon_kgco2e_location),
               sum(carbon_kgco2e_market), sum(cost_usd), sum(requests), sum(total_tokens)
        from marts.inference_energy_fact
        where date_day between $start and $end and project_id = $project and model_id = $model
        group by date_day order by date_day""",
    # the period's totals by deployment for one project
    "fact_by_deployment_project": """
        select deployment_id, sum(facility_energy_kwh), sum(carbon_kgco2e_location), sum(gpu_hours), sum(cost_usd)
        from marts.inference_energy_fact
        where date_day between $start and $end and project_id = $project
        group by deployment_id order by 2 desc""",
    # energy per million tokens of one model, by day
    "energy_per_million_tokens_model": """
        select date_day, sum(gpu_energy_kwh) * 1e6 / nullif(sum(total_tokens), 0)
        from marts.energy_per_million_tokens
        where date_day between $start and $end and model_id = $model
        group by date_day order by date_day""",
    # idle GPU energy of the period, by deployment
    "gpu_idle_waste": """
        select deployment_id, sum(idle_gpu_energy_kwh)
        from marts.gpu_idle_waste where date_day between $start and $end
        group by deployment_id order by 2 desc""",
}


def run_dashboard(out: Path, days: int, repeat: int = 5) -> dict:
    """Time each dashboard query over the last week, quarter and year of the history warehouse."""
    path = out / f"work-history-{days}" / "wh.duckdb"
    con = duckdb.connect(str(path), read_only=True)
    project, model = con.execute("select project_id, model_id from marts.inference_energy_fact "
                                 "group by all order by count(*) desc limit 1").fetchone()
    idle_cols = {c for (c,) in con.execute("select column_name from information_schema.columns where table_name = 'gpu_idle_waste'").fetchall()}
    results = {}
    for period, n in (("week", 7), ("quarter", 91), ("year", 365)):
        params = {"start": NEXT_DAY - timedelta(days=n - 1), "end": NEXT_DAY, "project": project, "model": model}
        for name, sql in DASHBOARD_QUERIES.items():
            if name == "gpu_idle_waste" and "idle_gpu_energy_kwh" not in idle_cols:
                continue
            used = {k: v for k, v in params.items() if f"${k}" in sql}
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                con.execute(sql, used).fetchall()
                times.append((time.perf_counter() - t0) * 1000)
            results[f"{name}-{period}"] = {"first_ms": times[0], "median_ms": sorted(times)[len(times) // 2], "max_ms": max(times)}
    con.close()
    return {"project_id": project, "model_id": model, "queries": results}


# --- DAG parse time ------------------------------------------------------------------------------------

PARSE_ONE = """
import json, sys, time
from airflow.dag_processing.dagbag import DagBag   # imported before the clock starts: a scheduler has it loaded
t0 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"parse_s": time.perf_counter() - t0, "dags": len(bag.dags), "errors": len(bag.import_errors)}))
"""


def run_dag_parse(out: Path) -> dict:
    """Each DAG file parsed by Airflow's DagBag in a fresh process (Airflow itself imported first)."""
    home = out / "airflow-home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False", "DO_NOT_TRACK": "1", "SCARF_ANALYTICS": "false",
           "PYTHONPATH": str(REPO / "plugins"), "GREENOPS_HOME": str(REPO)}
    results = {}
    for path in sorted((REPO / "dags").glob("*.py")):
        proc = subprocess.run([sys.executable, "-c", PARSE_ONE, str(path)], capture_output=True, text=True, env=env, cwd=REPO)
        results[path.name] = (json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0
                              else {"error": proc.stderr[-1500:]})
    return results


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
    if kind == "dashboard":
        return run_dashboard(out, int(fmt))
    landing, work = out / fmt, out / f"work-{kind}-{fmt}"
    if kind == "history-base":
        landing, work = out / "history" / "parquet", out / "history" / "base"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    t0 = time.perf_counter()
    if kind == "history":
        result = run_history(out, int(fmt))
    elif kind == "history-base":
        result = run_greenops(landing, work, out / "history" / "fleet.yaml")
    elif kind == "greenops":
        result = run_greenops(landing, work, out / "fleet.yaml")
    elif kind == "floor":
        result = run_floor(landing, work, fmt)
    else:
        result = run_pandas(landing, work, fmt)
    result["wall_s"] = time.perf_counter() - t0
    result["peak_rss_mb"] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    wh = work / ("floor.duckdb" if kind == "floor" else "wh.duckdb")
    result["warehouse_mb"] = wh.stat().st_size / 2**20 if wh.exists() else None
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", type=int, default=1000)
    p.add_argument("--seconds", type=int, default=86400, help="seconds of 1 Hz samples (86400 = one day)")
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    p.add_argument("--skip", default="", help="comma list of runs to skip, e.g. pandas-csv,pandas-parquet")
    p.add_argument("--scenarios", default="day,history,dashboard,dags",
                   help="comma list: day (one day, three implementations), history (the daily incremental run on "
                        "top of --history-days days), dashboard (KPI queries on the longest history), dags (parse time)")
    p.add_argument("--history-days", default="1,30,365", help="days of history under the timed daily run")
    p.add_argument("--child", nargs=2, metavar=("KIND", "FORMAT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child, args.out)))
        return {}
    scenarios = set(args.scenarios.split(","))
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    t = time.perf_counter()
    sizes = generate(args.out, args.gpus, args.seconds)
    sizes["generate_s"] = time.perf_counter() - t
    report = {"size": sizes}
    if "day" in scenarios:
        report["results"] = _day(args, sizes)
    if "history" in scenarios:
        report["history"] = _history(args, [int(d) for d in args.history_days.split(",")])
        if "dashboard" in scenarios:
            report["dashboard"] = _run_child("dashboard", str(max(int(d) for d in args.history_days.split(","))), args.out)
    if "dags" in scenarios:
        report["dag_parse"] = run_dag_parse(args.out)
    print(json.dumps(report, indent=2, default=str))
    return report


def _run_child(kind: str, arg: str, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, arg, "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "plugins")})
    if proc.returncode:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _history(args, history_days: list[int]) -> dict:
    """Day 0 built in full once; then, for each history size, the next day's ingestion and incremental build."""
    hist = args.out / "history"
    generate(hist, args.gpus, args.seconds, DAY, ("parquet",))
    generate(hist, args.gpus, args.seconds, NEXT_DAY, ("parquet",))
    results = {"base": _run_child("history-base", "parquet", args.out)}
    base_mb = results["base"].get("warehouse_mb")
    for days in history_days:
        r = _run_child("history", str(days), args.out)
        if "ingest_s" in r:
            r["daily_run_s"] = r["ingest_s"] + r["dbt_s"]
        results[f"days-{days}"] = r
    first, last = (results.get(f"days-{d}", {}) for d in (min(history_days), max(history_days)))
    if "daily_run_s" in first and "daily_run_s" in last:
        results[f"ratio-day{max(history_days)}/day{min(history_days)}"] = last["daily_run_s"] / first["daily_run_s"]
    if base_mb and "warehouse_mb" in results.get("days-1", {}):
        # one more day loaded and built (raw samples, intervals, hourly, fact and KPIs)
        results["warehouse_growth_mb_per_day"] = results["days-1"]["warehouse_mb"] - base_mb
    return results


def _day(args, sizes) -> dict:
    results = {}
    for fmt in ("parquet", "csv"):
        for kind in ("greenops", "floor", "pandas"):
            if f"{kind}-{fmt}" in args.skip.split(","):
                continue
            r = _run_child(kind, fmt, args.out)
            if "error" in r:
                results[f"{kind}-{fmt}"] = r
                continue
            r["samples_per_s"] = sizes["samples"] / r["wall_s"]
            results[f"{kind}-{fmt}"] = r
    for fmt in ("parquet", "csv"):
        g, f, pd_ = (results.get(f"{k}-{fmt}", {}) for k in ("greenops", "floor", "pandas"))
        if "wall_s" in g and "wall_s" in f:
            results[f"ratio-greenops/floor-{fmt}"] = g["wall_s"] / f["wall_s"]
        if "wall_s" in g and "wall_s" in pd_:
            results[f"ratio-pandas/greenops-{fmt}"] = pd_["wall_s"] / g["wall_s"]
    return results


if __name__ == "__main__":
    main()
