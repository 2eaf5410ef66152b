"""Benchmark: one day of a large GPU fleet through GreenOps, beside a bare DuckDB floor and pandas.

    python bench/fleet_bench.py --gpus 1000 --days 1 --out bench/out    (the reference size)
    python bench/fleet_bench.py --gpus 16 --seconds 3600                (the smoke size the tests run)

It writes the same samples twice, as nvidia-smi CSV (8 GPUs a host, `--format=csv` lines) and as our
NVML collector's Parquet; beside them, in both landing folders (the same files), the day's inference
request logs (--requests a day, JSON Lines, one file per deployment) and the month's CUR 2.0 export
(--cur-lines line items, Parquet with its manifest, in the bucket's layout under aws_cur/); fleet.yaml
has a few deployments on the bench hosts and on AWS. Then it times on those files, for each input format:
  greenops  our ingestion (ingest_gpu_telemetry, then ingest_inference_logs and ingest_aws_cur, each
            timed) + `dbt build` of the energy chain, the fact, its dimensions and the KPIs;
  floor     a bare DuckDB script doing the telemetry work with nothing around it: persist the raw rows and
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
import gc
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
sys.path.insert(0, str(REPO / "plugins"))  # our package, whether or not PYTHONPATH names it
DAY = date(2026, 11, 20)
GPUS_PER_HOST = 8

FLEET = """
sites:
  - {site: bench, pue: 1.3, grid_zone: DE, timezone: UTC}
hosts:
%s
models:
%s
projects:
%s
deployments:
%s
"""

#: Requests per GPU and day, and CUR line items per GPU and month, when --requests / --cur-lines are
#: not given: 20 million requests and 5 million line items at the reference size (1,000 GPUs).
REQUESTS_PER_GPU = 20_000
CUR_LINES_PER_GPU = 5_000
#: One on-prem deployment per this many hosts (on the first host of each group, all its GPUs); one
#: AWS deployment (two GPU instances: one tagged, one attributed by its resource id) per this many
#: on-prem deployments; at least one of each.
HOSTS_PER_DEPLOYMENT = 8
ONPREM_PER_AWS_DEPLOYMENT = 4
MODELS = ["llama-3.1-70b-instruct", "llama-3.1-8b-instruct", "mistral-small-24b-instruct", "qwen2.5-coder-14b-instruct"]
PROJECTS = ["search", "support-bot", "code-assist"]
AWS_ACCOUNT = "123456789012"
AWS_GPU_INSTANCE = ("p5.48xlarge", 98.32)  # type, on-demand USD per hour
CUR_EXPORT = "greenops-bench"


def fleet_deployments(gpus: int) -> list[dict]:
    """The bench fleet's deployments: a few on-prem ones on the bench hosts, a few on AWS (the CUR's)."""
    hosts = (gpus + GPUS_PER_HOST - 1) // GPUS_PER_HOST
    deployments = []
    for k in range(max(1, hosts // HOSTS_PER_DEPLOYMENT)):
        h = k * HOSTS_PER_DEPLOYMENT
        deployments.append({"deployment": f"bench-{k:03d}", "model": MODELS[k % len(MODELS)], "project": PROJECTS[k % len(PROJECTS)],
                            "provider": "onprem", "host": f"h{h:04d}", "gpus": list(range(min(GPUS_PER_HOST, gpus - h * GPUS_PER_HOST)))})
    for k in range(max(1, len(deployments) // ONPREM_PER_AWS_DEPLOYMENT)):
        deployments.append({"deployment": f"bench-aws-{k:02d}", "model": MODELS[1], "project": PROJECTS[k % len(PROJECTS)],
                            "provider": "aws", "tagged_instance": f"i-0bench{k:02d}0000000a", "listed_instance": f"i-0bench{k:02d}0000000b"})
    return deployments


def _fleet_yaml(gpus: int, deployments: list[dict]) -> str:
    hosts = (gpus + GPUS_PER_HOST - 1) // GPUS_PER_HOST
    entries = []
    for d in deployments:
        head = f"  - {{deployment: {d['deployment']}, model: {d['model']}, project: {d['project']}, valid_from: 2025-01-01T00:00:00Z, "
        if d["provider"] == "onprem":
            entries.append(head + f"host: {d['host']}, gpus: {d['gpus']}}}")
        else:  # attributed by the deployment tag first, then the listed instance id
            entries.append(head + f"provider: aws, resources: [{d['listed_instance']}]}}")
    return FLEET % (
        "\n".join(f"  - {{host: h{h:04d}, site: bench, gpu_model: NVIDIA H100 80GB HBM3, gpu_count: {GPUS_PER_HOST}}}" for h in range(hosts)),
        "\n".join(f"  - {{model: {m}}}" for m in MODELS),
        "\n".join(f"  - {{project: {p}, team: team-{p}, weekly_carbon_budget_kgco2e: 1000}}" for p in PROJECTS),
        "\n".join(entries))


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def write_requests(con: duckdb.DuckDBPyConnection, landing: Path, deployments: list[dict], n: int, seconds: int, day: date) -> dict:
    """``n`` requests of UTC day ``day`` as our request logs (JSON Lines), one file per deployment:
    ``<landing>/inference_logs/date=<day>/<deployment>.jsonl``. The requests fall in the first ``seconds``
    of the day with a diurnal shape (busiest at mid-window), three projects share each deployment, about 1.5 %
    fail, every third request completes a task. One DuckDB COPY per deployment (no Python loop over rows)."""
    folder = landing / "inference_logs" / f"date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    projects = "[" + ", ".join(_q(p) for p in PROJECTS) + "]"
    for k, d in enumerate(deployments):
        m = n // len(deployments) + (1 if k < n % len(deployments) else 0)
        if m == 0:
            continue
        dep = d["deployment"]
        tag = f"{dep}-{day:%Y%m%d}"
        con.execute(f"""
            COPY (
                WITH r AS (
                    SELECT j, (j + 0.5) / {m} AS u,
                           (200 + (j * 2654435761) % 3800)::BIGINT AS prompt_tokens,
                           (20 + (j * 40503) % 700)::BIGINT AS completion_tokens
                    FROM range(0, {m}) t(j)
                )
                SELECT {_q(tag)} || '-' || j AS request_id,
                       strftime(TIMESTAMP '{day} 00:00:00' + to_microseconds(CAST(floor((u - 0.6 * sin(2 * pi() * (u - 0.5)) / (2 * pi()))
                                                                                     * {seconds} * 1e6) AS BIGINT)),
                                '%Y-%m-%dT%H:%M:%S.%g') || '+00:00' AS timestamp,
                       round(150 + completion_tokens * 12.5 + (j * 7919) % 400, 1) AS latency_ms,
                       {_q(dep)} AS deployment, {_q(d['model'])} AS model, {projects}[1 + j % {len(PROJECTS)}] AS project,
                       prompt_tokens, completion_tokens,
                       CASE WHEN j % 5 = 0 THEN prompt_tokens // 4 ELSE 0 END AS cached_prompt_tokens,
                       CASE WHEN j % 97 = 13 THEN 'timeout' WHEN j % 211 = 7 THEN 'server_error' ELSE 'success' END AS status,
                       {_q(tag)} || '-t' || (j // 3) AS task_id, j % 3 = 2 AS task_completed
                FROM r
            ) TO '{folder / (dep + '.jsonl')}' (FORMAT json)""")
    return {"requests": n, "requests_bytes": sum(p.stat().st_size for p in folder.glob("*.jsonl"))}


#: The account's other spend, one resource per row, each billed hourly: services, usage types and
#: operations as a real CUR 2.0 names them; none carries a deployment tag or a listed resource id, so
#: it stays unattributed (int_aws_charges keeps it with deployment_id NULL), as most of a real account does.
CUR_SERVICES = """(VALUES
    (0, 'AmazonEC2', 'BoxUsage:m7i.2xlarge', 'RunInstances', 'Usage', 'Hrs', 1.0, 0.4032, 'm7i.2xlarge', 'i-0m7i'),
    (1, 'AmazonEC2', 'EBS:VolumeUsage.gp3', 'CreateVolume-Gp3', 'Usage', 'GB-Mo', 0.6849, 0.08, NULL, 'vol-0'),
    (2, 'AmazonS3', 'TimedStorage-ByteHrs', 'StandardStorage', 'Usage', 'GB-Mo', 1.3699, 0.023, NULL, 'bucket-'),
    (3, 'AWSDataTransfer', 'DataTransfer-Out-Bytes', 'RunInstances', 'Usage', 'GB', 2.5, 0.09, NULL, 'i-0dt'),
    (4, 'AmazonRDS', 'InstanceUsage:db.r6g.xlarge', 'CreateDBInstance:0016', 'Usage', 'Hrs', 1.0, 0.435, 'db.r6g.xlarge', 'arn:aws:rds:us-east-1:123456789012:db:db-'),
    (5, 'AWSLambda', 'Lambda-GB-Second', 'Invoke', 'Usage', 'Lambda-GB-Second', 3600.0, 0.0000166667, NULL, 'arn:aws:lambda:us-east-1:123456789012:function:fn-'),
    (6, 'AmazonCloudWatch', 'CW:MetricMonitorUsage', 'MetricStorage', 'Usage', 'Metrics', 0.0014, 0.3, NULL, 'arn:aws:cloudwatch:us-east-1:123456789012:ns-'),
    (7, 'AmazonEC2', 'BoxUsage:c7g.4xlarge', 'RunInstances', 'DiscountedUsage', 'Hrs', 1.0, 0.0, 'c7g.4xlarge', 'i-0c7g'),
    (8, 'AmazonEC2', 'BoxUsage:g5.xlarge', 'RunInstances', 'SavingsPlanCoveredUsage', 'Hrs', 1.0, 1.006, 'g5.xlarge', 'i-0g5x'),
    (9, 'AmazonEKS', 'AmazonEKS-Hours:perCluster', 'CreateOperation', 'Usage', 'Hours', 1.0, 0.1, NULL, 'arn:aws:eks:us-east-1:123456789012:cluster/eks-')
) s(k, product_code, usage_type, operation, line_item_type, unit, amount, rate, instance_type, prefix)"""


def write_cur(con: duckdb.DuckDBPyConnection, landing: Path, deployments: list[dict], n: int, day: date) -> dict:
    """A CUR 2.0 export (Data Exports, Parquet: the format Athena and the Cloud Intelligence Dashboards
    expect) of ``n`` line items for the billing month of ``day``, month to date (its first day to ``day``,
    hourly), with its manifest, in the bucket's layout under ``<landing>/aws_cur/`` (read with no bucket):
    ``<export>/data/BILLING_PERIOD=YYYY-MM/<export>-0000N.snappy.parquet`` (a part per million rows) and
    ``<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json``.

    Each resource has a line per hour. The first resources are the AWS deployments' GPU instances (one
    tagged ``user_deployment``, one attributed by the resource id fleet.yaml lists) and the tagged EBS
    volume of each: a small share of the lines, attributed to a deployment. The rest is the account's
    other spend (CUR_SERVICES), unattributed, some with a team tag, some with none."""
    first = day.replace(day=1)
    hours = ((day - first).days + 1) * 24
    period = f"{first:%Y-%m}"
    aws = [d for d in deployments if d["provider"] == "aws"]
    # the attributed resources, per AWS deployment: tagged GPU instance, listed GPU instance, tagged volume
    attributed = ", ".join(
        f"({3 * k + j}, {_q(d[key])}, {_q(d['deployment'])}, {tagged}, {gpu})"
        for k, d in enumerate(aws)
        for j, (key, tagged, gpu) in enumerate((("tagged_instance", "true", "true"), ("listed_instance", "false", "true"),
                                                 ("tagged_instance", "true", "false"))))
    n_attr = 3 * len(aws)
    gpu_type, gpu_rate = AWS_GPU_INSTANCE
    data = landing / "aws_cur" / CUR_EXPORT / "data" / f"BILLING_PERIOD={period}"
    meta = landing / "aws_cur" / CUR_EXPORT / "metadata" / f"BILLING_PERIOD={period}"
    data.mkdir(parents=True, exist_ok=True)
    meta.mkdir(parents=True, exist_ok=True)
    part_rows = 1_000_000
    files = []
    for part in range((n + part_rows - 1) // part_rows):
        path = data / f"{CUR_EXPORT}-{part + 1:05d}.snappy.parquet"
        lo, hi = part * part_rows, min(n, (part + 1) * part_rows)
        con.execute(f"""
            COPY (
                WITH li AS (
                    SELECT i, i // {hours} AS r, i % {hours} AS h,
                           TIMESTAMP '{first} 00:00:00' + to_hours(i % {hours}) AS start_ts
                    FROM range({lo}, {hi}) t(i)
                ),
                a AS (SELECT * FROM (VALUES {attributed or "(NULL, NULL, NULL, NULL, NULL)"}) a(r, resource_id, deployment, tagged, gpu)),
                s AS (SELECT * FROM {CUR_SERVICES})
                SELECT
                    TIMESTAMP '{first} 00:00:00' AS bill_billing_period_start_date,
                    TIMESTAMP '{first} 00:00:00' + INTERVAL 1 MONTH AS bill_billing_period_end_date,
                    'Anniversary' AS bill_bill_type,
                    '{AWS_ACCOUNT}' AS bill_payer_account_id,
                    md5(CAST(li.i AS VARCHAR)) AS identity_line_item_id,
                    CASE WHEN a.r IS NOT NULL THEN 'Usage' ELSE s.line_item_type END AS line_item_line_item_type,
                    li.start_ts AS line_item_usage_start_date,
                    li.start_ts + INTERVAL 1 HOUR AS line_item_usage_end_date,
                    '{AWS_ACCOUNT}' AS line_item_usage_account_id,
                    CASE WHEN a.r IS NULL OR a.gpu THEN coalesce(s.product_code, 'AmazonEC2') ELSE 'AmazonEC2' END AS line_item_product_code,
                    CASE WHEN a.gpu THEN 'BoxUsage:{gpu_type}' WHEN a.r IS NOT NULL THEN 'EBS:VolumeUsage.gp3' ELSE s.usage_type END AS line_item_usage_type,
                    CASE WHEN a.gpu THEN 'RunInstances' WHEN a.r IS NOT NULL THEN 'CreateVolume-Gp3' ELSE s.operation END AS line_item_operation,
                    CASE WHEN a.gpu THEN a.resource_id WHEN a.r IS NOT NULL THEN 'vol-' || a.resource_id
                         ELSE s.prefix || lpad(CAST(li.r AS VARCHAR), 8, '0') END AS line_item_resource_id,
                    CASE WHEN a.gpu THEN 1.0 WHEN a.r IS NOT NULL THEN 2.7397 ELSE s.amount * (0.5 + (li.i * 40503) % 1000 / 1000.0) END AS line_item_usage_amount,
                    'USD' AS line_item_currency_code,
                    CAST(CASE WHEN a.gpu THEN {gpu_rate} WHEN a.r IS NOT NULL THEN 0.08 ELSE s.rate END AS VARCHAR) AS line_item_unblended_rate,
                    round(line_item_usage_amount * CAST(line_item_unblended_rate AS DOUBLE), 10) AS line_item_unblended_cost,
                    round(line_item_unblended_cost * 0.97, 10) AS line_item_net_unblended_cost,
                    CASE WHEN line_item_line_item_type = 'DiscountedUsage' THEN 0.544 * line_item_usage_amount ELSE line_item_unblended_cost END
                        AS pricing_public_on_demand_cost,
                    line_item_usage_type || ' in US East (N. Virginia)' AS line_item_line_item_description,
                    CASE WHEN a.gpu OR a.r IS NULL AND s.instance_type IS NOT NULL THEN 'Hrs' WHEN a.r IS NOT NULL THEN 'GB-Mo' ELSE s.unit END AS pricing_unit,
                    CASE WHEN a.gpu THEN '{gpu_type}' WHEN a.r IS NULL THEN s.instance_type END AS product_instance_type,
                    'us-east-1' AS product_region_code,
                    MAP {{'region': 'us-east-1', 'servicecode': line_item_product_code,
                          'product_family': CASE WHEN product_instance_type IS NOT NULL THEN 'Compute Instance' ELSE 'Other' END}} AS product,
                    CASE WHEN a.tagged THEN MAP {{'user_deployment': a.deployment, 'user_team': 'ml-platform'}}
                         WHEN a.r IS NOT NULL OR li.r % 3 = 0 THEN MAP {{}}::MAP(VARCHAR, VARCHAR)
                         ELSE MAP {{'user_team': 'team-' || (li.r % 7)}} END AS resource_tags
                FROM li
                LEFT JOIN a ON a.r = li.r
                LEFT JOIN s ON a.r IS NULL AND s.k = li.r % 10
                ORDER BY li.i
            ) TO '{path}' (FORMAT parquet, COMPRESSION snappy)""")
        files.append(path)
    columns = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{files[0]}')").fetchall() if files else []
    manifest = {
        "version": "1.0", "exportName": CUR_EXPORT, "exportArn": f"arn:aws:bcm-data-exports:us-east-1:{AWS_ACCOUNT}:export/{CUR_EXPORT}",
        "billingPeriod": {"start": f"{first}T00:00:00.000Z", "end": f"{(first + timedelta(days=32)).replace(day=1)}T00:00:00.000Z"},
        "dataFiles": [f"s3://greenops-bench-billing/{p.relative_to(landing / 'aws_cur').as_posix()}" for p in files],
        "columns": [{"name": c, "type": "map<string,string>" if t.startswith("MAP") else {"VARCHAR": "string"}.get(t, t.lower())}
                    for c, t, *_ in columns],
    }
    (meta / f"{CUR_EXPORT}-Manifest.json").write_text(json.dumps(manifest, indent=2))
    return {"cur_lines": n, "cur_attributed_lines": sum(min(max(0, n - r * hours), hours) for r in range(n_attr)),
            "cur_bytes": sum(p.stat().st_size for p in files)}


def write_parts(con: duckdb.DuckDBPyConnection, rows: str, h: int, folder: Path, part_s: int, day: date,
                compacted: bool = False) -> None:
    """One host's samples (``rows``) as the collector writes them: a part every ``part_s`` seconds
    (``nvml-<HH>-<part>.parquet``, numbered within the UTC hour), its 15 columns, zstd. ``compacted``:
    as the collector leaves them once each hour is compacted and its parts deleted, a file an hour
    (``nvml-<HH>-<first>-<last>.parquet``, the same rows in the same order)."""
    from greenops.collector.storage import compacted_name, part_name

    file_s = 3600 if compacted else part_s
    tmp = folder / "parts.tmp"
    con.execute(f"""COPY (SELECT ts AS sample_ts_utc, 'h{h:04d}' AS host, g::INTEGER AS gpu_index, 'GPU-{h:04d}-' || g AS gpu_uuid,
                                'NVIDIA H100 80GB HBM3' AS gpu_name, power_w, NULL::DOUBLE AS energy_counter_mj,
                                60.0::DOUBLE AS utilization_gpu_pct, 40.0::DOUBLE AS utilization_memory_pct,
                                60000.0::DOUBLE AS memory_used_mib, 81559.0::DOUBLE AS memory_total_mib, 700.0::DOUBLE AS power_limit_w,
                                55.0::DOUBLE AS temperature_c, 1755.0::DOUBLE AS sm_clock_mhz, NULL::VARCHAR AS mig_instance,
                                CAST(epoch(ts - TIMESTAMP '{day} 00:00:00') AS BIGINT) // {file_s} AS part
                         FROM ({rows}) ORDER BY ts, g)
                    TO '{tmp}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (part))""")
    for d in tmp.iterdir():
        start = int(d.name.split("=")[1]) * file_s
        hour = start // 3600
        name = compacted_name(hour, 0, 3600 // part_s - 1) if compacted else part_name(hour, start % 3600 // part_s)
        next(d.glob("*.parquet")).rename(folder / name)
    shutil.rmtree(tmp)


def generate(out: Path, gpus: int, seconds: int, day: date = DAY, formats: tuple[str, ...] = ("csv", "parquet"),
             requests: int | None = None, cur_lines: int | None = None, parquet_part_s: int = 0,
             parquet_compacted: bool = False) -> dict:
    """Write the fleet's CSV and Parquet landing folders for one day (DuckDB generates them: seconds, not minutes):
    the GPU telemetry in each format (Parquet: one file a host and day of 8 columns, or with ``parquet_part_s``
    the collector's own parts, or with ``parquet_compacted`` too its compacted hours, see write_parts); the day's request logs (``requests`` a day, scaled to ``seconds``) and the
    month's CUR export (``cur_lines``; 0: none) once, in the first format's folder, linked from the others."""
    if requests is None:
        requests = REQUESTS_PER_GPU * gpus
    if cur_lines is None:
        cur_lines = CUR_LINES_PER_GPU * gpus
    t0 = time.perf_counter()
    hosts = (gpus + GPUS_PER_HOST - 1) // GPUS_PER_HOST
    con = duckdb.connect()
    for h in range(hosts):
        n = min(GPUS_PER_HOST, gpus - h * GPUS_PER_HOST)
        rows = f"""
            SELECT TIMESTAMP '{day} 00:00:00' + to_seconds(s) AS ts, g,
                   round(80 + 520 * (0.5 + 0.5 * sin(s / 3600.0 + g + {h})), 2) AS power_w
            FROM range(0, {seconds}) t(s), range(0, {n}) u(g)"""
        if "parquet" in formats:
            folder = out / "parquet" / "gpu_telemetry" / f"host=h{h:04d}" / f"date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            if parquet_part_s:
                write_parts(con, rows, h, folder, parquet_part_s, day, parquet_compacted)
            else:
                con.execute(f"""COPY (SELECT ts AS sample_ts_utc, 'h{h:04d}' AS host, g::INTEGER AS gpu_index,
                                          'GPU-{h:04d}-' || g AS gpu_uuid, 'NVIDIA H100 80GB HBM3' AS gpu_name, power_w,
                                          NULL::DOUBLE AS energy_counter_mj, 60.0 AS utilization_gpu_pct
                                   FROM ({rows}) ORDER BY ts, g) TO '{folder / "nvml.parquet"}' (FORMAT parquet)""")
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
    t_telemetry = time.perf_counter() - t0
    deployments = fleet_deployments(gpus)
    (out / "fleet.yaml").write_text(_fleet_yaml(gpus, deployments))
    home = out / formats[0]
    sizes = {"gpus": gpus, "hosts": hosts, "samples": gpus * seconds, "deployments": len(deployments),
             "csv_bytes": sum(p.stat().st_size for p in out.glob("csv/gpu_telemetry/**/*.csv")),
             "parquet_bytes": sum(p.stat().st_size for p in out.glob("parquet/gpu_telemetry/**/*.parquet")),
             "parquet_files": sum(1 for _ in out.glob("parquet/gpu_telemetry/**/*.parquet")),
             "generate_telemetry_s": t_telemetry}
    t0 = time.perf_counter()
    # requests per day, over the day's sampled seconds
    sizes.update(write_requests(con, home, deployments, round(requests * min(seconds, 86400) / 86400), seconds, day))
    sizes["generate_requests_s"] = time.perf_counter() - t0
    if cur_lines:
        t0 = time.perf_counter()
        sizes.update(write_cur(con, home, deployments, cur_lines, day))
        sizes["generate_cur_s"] = time.perf_counter() - t0
    for fmt in formats[1:]:  # the same request logs and CUR export for the other format's run
        for sub in ("inference_logs", "aws_cur"):
            link = out / fmt / sub
            if (home / sub).exists() and not link.exists():
                link.symlink_to(Path("..") / formats[0] / sub, target_is_directory=True)
    con.close()
    return sizes


# --- the three implementations, each run in its own process (peak RSS per run) ---------------------

def _greenops_settings(landing: Path, work: Path, fleet: Path) -> None:
    os.environ.update({"GREENOPS_LANDING_DIR": str(landing), "GREENOPS_WAREHOUSE": str(work / "wh.duckdb"),
                       "GREENOPS_FLEET_FILE": str(fleet)})


def run_telemetry(landing: Path, work: Path, fleet: Path, day: date = DAY) -> dict:
    """The day's telemetry ingestion alone (the part profiled most; `--child telemetry FORMAT`)."""
    _greenops_settings(landing, work, fleet)
    from greenops import ingest

    ingest.load_inventory()
    t0 = time.perf_counter()
    loaded = ingest.ingest_gpu_telemetry(day)
    return {"ingest_s": time.perf_counter() - t0, "rows": loaded["rows"], "quarantined": loaded["quarantined"]}


def dag_interval(loads: dict[str, tuple[date, date]]) -> dict:
    """The dates the transformation DAG passes to dbt after these loads (the Asset's name in
    airflow_support -> first and last day replaced): airflow_support.dbt_vars_from_events, run in a
    process of its own so that Airflow stays out of the timed process's memory."""
    code = ("import json, sys; from types import SimpleNamespace; from greenops import airflow_support as a; "
            "print(json.dumps(a.dbt_vars_from_events({getattr(a, n): [SimpleNamespace(extra={'start_date': s, 'end_date': e})] "
            "for n, (s, e) in json.loads(sys.argv[1]).items()})))")
    arg = json.dumps({t: [d.isoformat() for d in days] for t, days in loads.items()})
    out = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO / "plugins")})
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_greenops(landing: Path, work: Path, fleet: Path, day: date = DAY, interval: dict | None = None) -> dict:
    _greenops_settings(landing, work, fleet)
    from greenops import ingest
    from greenops.ingest_aws import ingest_aws_cur
    from greenops.settings import dbt_env, dbt_run_env

    dbt = Path(sys.executable).with_name("dbt")
    # the run's dates as the transformation DAG passes them (none: build everything)
    env = {**os.environ, **dbt_env(), **dbt_run_env(interval or {})}
    # the project as the previous daily run left it parsed (Cosmos keeps dbt's partial_parse.msgpack
    # from run to run): not timed
    subprocess.run([str(dbt), "parse", "--quiet"], cwd=REPO / "dbt_project", env=env, check=True)
    t0 = time.perf_counter()
    ingest.load_inventory()
    ingest.ingest_gpu_telemetry(day)
    t1 = time.perf_counter()
    requests = ingest.ingest_inference_logs(day)
    t2 = time.perf_counter()
    cur = ingest_aws_cur()
    t3 = time.perf_counter()
    t_ingest, t_requests, t_cur, t_total = t1 - t0, t2 - t1, t3 - t2, t3 - t0
    # the energy chain, the fact, its dimensions and the KPIs, with their data tests (unit tests are not volume)
    args = [str(dbt), "build", "--quiet", "--select", "+path:models/marts", "--exclude", "test_type:unit"]
    built = subprocess.run(args, cwd=REPO / "dbt_project", env=env, capture_output=True, text=True)
    if built.returncode:
        raise RuntimeError("dbt build failed:\n" + (built.stdout + built.stderr)[-3000:])
    t_dbt = time.perf_counter() - t3
    with duckdb.connect(str(work / "wh.duckdb"), read_only=True) as con:
        kwh = con.execute("select sum(gpu_energy_kwh) from intermediate.int_gpu_energy_hourly where date_day = ?", [day]).fetchone()[0]
        fact_requests, fact_tokens = con.execute("select sum(requests), sum(total_tokens) from marts.inference_energy_fact "
                                                 "where date_day = ?", [day]).fetchone()
        # the CUR's line items attributed to a deployment (by tag or by resource id), and the cloud cost they carry into the fact
        cur_attributed = con.execute("select count(deployment_id) from intermediate.int_aws_charges").fetchone()[0]
        fact_cloud_cost = con.execute("select sum(cloud_cost_usd) from marts.inference_energy_fact").fetchone()[0]
    # ingest_s: telemetry only (as before); ingest_total_s: telemetry, requests and CUR
    return {"ingest_s": t_ingest, "ingest_requests_s": t_requests, "ingest_cur_s": t_cur, "ingest_total_s": t_total,
            "dbt_s": t_dbt, "total_kwh": kwh,
            "requests_loaded": requests["rows"], "requests_quarantined": requests["quarantined"],
            "cur_rows_loaded": cur["rows"], "cur_quarantined": cur["quarantined"], "cur_attributed_lines": cur_attributed,
            "fact_requests": fact_requests, "fact_total_tokens": fact_tokens, "fact_cloud_cost_usd": fact_cloud_cost}


# --- history: the daily incremental run on top of 1, 30 and 365 days ---------------------------------

NEXT_DAY = DAY + timedelta(days=1)
#: The incremental models a daily run appends to (every marts table with a date_day is added); their
#: copies for earlier days have the real row count. Raw samples are not copied (see add_history).
#: int_onprem_charges is keyed by the month of its hours, but its rows are hours: copied by day.
HISTORY_TABLES = ("intermediate.int_gpu_energy_hourly", "intermediate.int_gpu_deployment_hours", "intermediate.int_requests_hourly",
                  "intermediate.int_deployment_energy_hourly", "intermediate.int_site_hour_grid_intensity",
                  "intermediate.int_onprem_charges", "marts.inference_energy_fact")


def add_history(warehouse: Path, days: int) -> dict:
    """Copy the built day's rows of every incremental table to the ``days`` days before it (dates and
    timestamps shifted, the fact's key recomputed), as if those days had been loaded and built; and the
    month's CUR line items (raw) and its charge tables' rows to the ``(days + 1) // 30`` months before it
    (12 under a year of history), as if those months' exports had been loaded and built: the charges a
    daily run must not rebuild."""
    con = duckdb.connect(str(warehouse))
    tables = list(HISTORY_TABLES) + [f"marts.{t}" for (t,) in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' and table_name in "
        "(select table_name from information_schema.columns where table_schema = 'marts' and column_name = 'date_day') "
        "and table_name not in ('inference_energy_fact', 'dim_date')").fetchall()]
    rows = {}
    for table in tables:
        # the built day's rows only: the month-to-date CUR also gave the fact its cloud hours of the days
        # before, which the copies replace (else the copies would duplicate them)
        day = "date_day" if table != "intermediate.int_onprem_charges" else "cast(hour_utc as date)"
        con.execute(f"delete from {table} where {day} <> ?", [DAY])
        _copy_shifted(con, table, days, "day")
        rows[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
    # the charge tables that keep their months (incremental by billing month); a table rebuilt in full
    # from the raw line items each run needs no copy, nor does a view over them (int_charges)
    monthly = [f"{s}.{t}" for s, t in con.execute(
        "select table_schema, table_name from information_schema.columns join information_schema.tables using (table_schema, table_name) "
        "where column_name in ('billing_month_start', 'usage_month_start') and table_schema in ('intermediate', 'marts') "
        "and table_type = 'BASE TABLE'").fetchall() if f"{s}.{t}" not in HISTORY_TABLES]
    for table in ["raw.aws_cur_line_items"] + monthly:
        _copy_shifted(con, table, (days + 1) // 30, "month")
        rows[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
    con.execute("checkpoint")
    con.close()
    return rows


def _copy_shifted(con: duckdb.DuckDBPyConnection, table: str, n: int, unit: str) -> None:
    """Insert ``n`` copies of ``table``'s rows, the k-th with every date and timestamp ``k`` days or
    months earlier, month labels ('YYYY-MM') and keys recomputed."""
    if n <= 0:
        return
    schema, name = table.split(".")
    cols = con.execute("select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ? "
                       "order by ordinal_position", [schema, name]).fetchall()
    shift = "to_days(k)" if unit == "day" else "to_months(k)"

    def shifted(c: str, t: str) -> str:
        if c == "fact_key":
            return ("md5(cast(hour_utc - to_days(k) as varchar) || '|' || deployment_id || '|' || model_id || '|' || project_id)")
        if c == "charge_id":
            return "md5(charge_id || '|' || k)"
        if c in ("billing_period", "billing_month"):  # 'YYYY-MM'
            return f"strftime(cast({c} || '-01' as date) - to_months(k), '%Y-%m')"
        if c.endswith("_month_start") and unit == "day":  # the month of the shifted hour
            return f"cast(date_trunc('month', hour_utc - {shift}) as date)"
        if t == "DATE":
            return f"cast({c} - {shift} as date)"
        if t.startswith("TIMESTAMP"):
            return f"{c} - {shift}"
        return c
    select = ", ".join(f"{shifted(c, t)} as {c}" for c, t in cols)
    # one copy a statement, the oldest first, as the daily runs would have written them: each copy
    # fills row groups of its own, so DuckDB's per-row-group min/max (zone maps) can skip other days and
    # months. One statement over `range(1, n + 1)` interleaves the copies every 2,048 rows (before round 17).
    con.execute(f"create or replace temp table history_source as select * from {table}")
    for k in range(n, 0, -1):
        con.execute(f"insert into {table} select {select} from history_source s, (select {k} as k) r")
    con.execute("drop table history_source")


def run_history(out: Path, days: int) -> dict:
    """The next day's ingestion and incremental `dbt build` on a warehouse holding ``days`` days of history."""
    hist, work = out / "history", out / f"work-history-{days}"
    shutil.copy(hist / "base" / "wh.duckdb", work / "wh.duckdb")
    t0 = time.perf_counter()
    rows = add_history(work / "wh.duckdb", days - 1)
    history_s = time.perf_counter() - t0
    gc.collect()
    _reset_own_peak_rss()  # the daily run's peak memory, not the copying's (dbt runs in a child process)
    # the dates the transformation DAG passes after a day of telemetry and requests (no billing period reloaded)
    result = run_greenops(hist / "parquet", work, hist / "fleet.yaml", NEXT_DAY,
                          dag_interval({a: (NEXT_DAY, NEXT_DAY) for a in ("RAW_GPU_TELEMETRY", "RAW_INFERENCE_REQUESTS")}))
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
    # the busiest real project and model (not the hosts' unallocated GPU-hours)
    project, model = con.execute("select project_id, model_id from marts.inference_energy_fact where is_allocated "
                                 "group by all order by sum(requests) desc, project_id, model_id limit 1").fetchone()
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


def _reset_own_peak_rss() -> None:
    """Start this process's peak memory afresh (Linux: clear_refs 5 resets VmHWM), so that what it did
    before (building a history) is not counted as the run's own; elsewhere nothing is reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _own_peak_rss_kb() -> int:
    """This process's peak resident memory (kB) since it started or since _reset_own_peak_rss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


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
        # the dates the transformation DAG passes after the day's loads and the CUR month's (a first
        # build: nothing to increment, but the dates reach dbt as in every daily run)
        month = DAY.replace(day=1)
        result = run_greenops(landing, work, out / "fleet.yaml", interval=dag_interval(
            {"RAW_GPU_TELEMETRY": (DAY, DAY), "RAW_INFERENCE_REQUESTS": (DAY, DAY),
             "RAW_AWS_CUR": (month, (month + timedelta(days=31)).replace(day=1) - timedelta(days=1))}))
    elif kind == "telemetry":
        result = run_telemetry(landing, work, out / "fleet.yaml")
    elif kind == "floor":
        result = run_floor(landing, work, fmt)
    else:
        result = run_pandas(landing, work, fmt)
    result["wall_s"] = time.perf_counter() - t0
    result["peak_rss_mb"] = max(_own_peak_rss_kb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    wh = work / ("floor.duckdb" if kind == "floor" else "wh.duckdb")
    result["warehouse_mb"] = wh.stat().st_size / 2**20 if wh.exists() else None
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", type=int, default=1000)
    p.add_argument("--seconds", type=int, default=86400, help="seconds of 1 Hz samples (86400 = one day)")
    p.add_argument("--requests", type=int, default=None,
                   help=f"inference requests per day (default {REQUESTS_PER_GPU:,} per GPU: 20 million at 1,000 GPUs); "
                        "a shorter --seconds gets its share of them")
    p.add_argument("--cur-lines", type=int, default=None,
                   help=f"line items of the month's CUR 2.0 export (default {CUR_LINES_PER_GPU:,} per GPU: 5 million at 1,000 GPUs; "
                        "0: no CUR)")
    p.add_argument("--parquet-part-s", type=int, default=0,
                   help="Parquet as the collector writes it: a part every N seconds (60: its default, 1,440 files a "
                        "host and day; 15 columns). 0 (default): one file a host and day, as in rounds 1-11")
    p.add_argument("--parquet-compacted", action="store_true",
                   help="with --parquet-part-s: the parts as the collector leaves them once each hour is compacted "
                        "(a file a host and hour, 24 a day)")
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
    report = {}
    if "day" in scenarios:
        # the day's files in both formats (about 10 GB of CSV at the reference size): only the day reads them
        t = time.perf_counter()
        sizes = generate(args.out, args.gpus, args.seconds, requests=args.requests, cur_lines=args.cur_lines,
                         parquet_part_s=args.parquet_part_s, parquet_compacted=args.parquet_compacted)
        sizes["generate_s"] = time.perf_counter() - t
        report["size"] = sizes
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
    # telemetry and requests of each day; the CUR month on the first day only (a daily run finds the
    # delivery unchanged: its fingerprint), copied to the history's earlier months by add_history
    size = generate(hist, args.gpus, args.seconds, DAY, ("parquet",), args.requests, args.cur_lines, args.parquet_part_s,
                    args.parquet_compacted)
    generate(hist, args.gpus, args.seconds, NEXT_DAY, ("parquet",), args.requests, 0, args.parquet_part_s, args.parquet_compacted)
    results = {"size": size, "base": _run_child("history-base", "parquet", args.out)}
    base_mb = results["base"].get("warehouse_mb")
    for days in history_days:
        r = _run_child("history", str(days), args.out)
        if "ingest_s" in r:
            r["daily_run_s"] = r["ingest_total_s"] + r["dbt_s"]
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
            # GreenOps: over its telemetry ingestion + dbt build (the part the floor and pandas also do)
            r["samples_per_s"] = sizes["samples"] / (r["ingest_s"] + r["dbt_s"] if "ingest_s" in r else r["wall_s"])
            results[f"{kind}-{fmt}"] = r
    for fmt in ("parquet", "csv"):
        g, f, pd_ = (results.get(f"{k}-{fmt}", {}) for k in ("greenops", "floor", "pandas"))
        # the like-for-like figure: telemetry ingestion + the dbt build (the floor and pandas do the
        # telemetry only; the build also carries the requests and costs, which only makes it heavier)
        telemetry_s = g["ingest_s"] + g["dbt_s"] if "ingest_s" in g else None
        if telemetry_s and "wall_s" in f:
            results[f"ratio-greenops/floor-{fmt}"] = telemetry_s / f["wall_s"]
        if telemetry_s and "wall_s" in pd_:
            results[f"ratio-pandas/greenops-{fmt}"] = pd_["wall_s"] / telemetry_s
    return results


if __name__ == "__main__":
    main()
