"""The demo fleet: realistic landing files for the inventory in include/demo_fleet.yaml.

Deterministic for a seed and a date range. What it writes under the landing folder:
- ``gpu_telemetry/host=<fra1-*>/date=<local date>/nvidia-smi.csv``: nvidia-smi ``--format=csv`` at
  10 s, host-local timestamps without zone (the inventory gives Europe/Berlin), with a few
  malformed lines (``[N/A]`` power, a truncated line).
- ``gpu_telemetry/host=<sea1-*>/date=<UTC date>/dcgm-<HH>.prom``: dcgm-exporter scrapes at 60 s with
  sample timestamps, power and the energy counter; sea1-gpu02's driver reloads on the fourth day
  (its counter restarts near zero).
- ``inference_logs/date=<UTC date>/<deployment>.jsonl``: requests with diurnal traffic, idle night
  hours for the code assistant, failed requests, multi-request tasks, a few bad lines.
- ``grid_intensity/date=<UTC date>/DE.csv``: hourly intensity for the German site; the US site has
  no drops and falls back to the yearly reference average.
- ``aws_cur/``, ``aws_carbon/``: the AWS-hosted deployment's CUR 2.0 export and AWS's carbon export.
- ``gcp_billing/invoice_month=<YYYYMM>/``: the GCP-hosted deployment's Cloud Billing export as
  ``bq extract`` writes it (Parquet, nested records, repeated labels); ``gcp_carbon/usage_month=<YYYY-MM>/``:
  GCP's Carbon Footprint export (newline-delimited JSON, INT64 values as strings).
- ``azure_exports/greenops/demo-actual/<YYYYMMDD-YYYYMMDD>/<run>/``: the Azure-hosted deployment's
  Cost Management ActualCost export (MCA columns, billed in EUR with the USD amounts beside them) as
  the storage container holds it, month to date, with its manifest.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yaml

SMI_INTERVAL_S = 15
DCGM_INTERVAL_S = 60
SMI_HEADER = ("timestamp, index, uuid, name, power.draw [W], utilization.gpu [%], utilization.memory [%], "
              "memory.used [MiB], memory.total [MiB], enforced.power.limit [W]")


@dataclass(frozen=True)
class GpuKind:
    name: str
    idle_w: float
    max_w: float
    limit_w: float
    memory_mib: int


KINDS = {
    "NVIDIA H100 80GB HBM3": GpuKind("NVIDIA H100 80GB HBM3", 70.0, 640.0, 700.0, 81559),
    "NVIDIA L40S": GpuKind("NVIDIA L40S", 37.0, 300.0, 350.0, 46068),
}

#: Peak requests per hour and traffic shape per deployment.
TRAFFIC = {
    "chat-70b-fra": {"peak_per_hour": 1000, "prompt_mean": 1200, "completion_mean": 380, "night_idle": False, "tasks": 1.8},
    "assist-8b-fra": {"peak_per_hour": 1500, "prompt_mean": 600, "completion_mean": 220, "night_idle": False, "tasks": 2.5},
    "summarize-24b-sea": {"peak_per_hour": 400, "prompt_mean": 3500, "completion_mean": 300, "night_idle": False, "tasks": 1.0},
    "code-14b-sea": {"peak_per_hour": 600, "prompt_mean": 2200, "completion_mean": 160, "night_idle": True, "tasks": 3.0},
    "rag-8b-aws": {"peak_per_hour": 800, "prompt_mean": 2800, "completion_mean": 200, "night_idle": False, "tasks": 1.5},
    "chat-8b-gcp": {"peak_per_hour": 500, "prompt_mean": 900, "completion_mean": 260, "night_idle": False, "tasks": 1.3},
    "assist-24b-azure": {"peak_per_hour": 300, "prompt_mean": 1500, "completion_mean": 240, "night_idle": False, "tasks": 1.2},
}
#: The AWS-hosted deployment's instance, and its on-demand price (USD per hour, us-east-1 list price order).
AWS_INSTANCE = {"id": "i-0a1b2c3d4e5f60718", "type": "g6e.12xlarge", "usd_per_hour": 10.49, "region": "us-east-1"}
AWS_ACCOUNT = "123456789012"
#: The GCP-hosted deployment's VM (a2-highgpu-2g: 2 x A100 40GB, 24 vCPUs) with its list prices (USD
#: per hour, us-central1 order of magnitude), and an unlabelled experiment VM (g2-standard-4: 1 x L4).
GCP_PROJECT = {"id": "greenops-demo-prod", "number": "418022341234", "name": "GreenOps demo"}
GCP_BILLING_ACCOUNT = "01D0E5-6A7B8C-9D0E1F"
GCP_REGION = "us-central1"
GCP_VM = {"name": "greenops-demo-a2-vm", "machine_type": "a2-highgpu-2g", "vcpus": 24, "memory_gib": 170, "gpus": 2,
          "usd_per_vcpu_hour": 0.031611, "usd_per_gib_hour": 0.004237, "usd_per_gpu_hour": 2.933908,
          "gpu_sku": "Nvidia Tesla A100 GPU running in Americas", "cud_credit_per_gpu_hour": -0.88}
GCP_EXPERIMENT_VM = {"name": "experiment-l4", "machine_type": "g2-standard-4", "vcpus": 4, "memory_gib": 16, "gpus": 1,
                     "usd_per_vcpu_hour": 0.024, "usd_per_gib_hour": 0.0028, "usd_per_gpu_hour": 0.56,
                     "gpu_sku": "Nvidia L4 GPU running in Americas", "cud_credit_per_gpu_hour": 0.0}
#: GCP's reported kgCO2e per VM-hour of the demo project's Compute Engine use (scope 1, 2 location,
#: 2 market, 3), and per day of its model bucket in Cloud Storage (multi-region US).
GCP_CARBON_PER_VM_HOUR = {"scope1": 0.0004, "scope2_location": 0.21, "scope2_market": 0.05, "scope3": 0.035}
GCP_CARBON_STORAGE_PER_DAY = {"scope1": 0.00001, "scope2_location": 0.004, "scope2_market": 0.001, "scope3": 0.002}
#: Which project sends how much of a deployment's traffic (the rest goes to the owner).
#: The Azure-hosted deployment's VM (Standard_NC40ads_H100_v5: 1 x H100 NVL) with its price (USD per
#: hour, eastus2 pay-as-you-go order of magnitude), its OS disk (tagged), and an untagged dev VM with a
#: sixth of an A10 (Standard_NV6ads_A10_v5). Billed in EUR at EUR_PER_USD; costInUsd carries USD.
AZURE_SUBSCRIPTION = "6f0b4a2c-1d3e-4f5a-8b9c-0d1e2f3a4b5c"
AZURE_BILLING_ACCOUNT = "7a1b2c3d-0000-4000-8000-000000000000:1f2e3d4c-0000-4000-8000-000000000000_2019-05-31"
AZURE_VM = {"name": "greenops-demo-nc40", "size": "Standard_NC40ads_H100_v5", "usd_per_hour": 6.98, "meter": "NC40ads H100 v5",
            "series": "NCads H100 v5 Series", "location": "EastUS2",
            "id": "/subscriptions/6f0b4a2c-1d3e-4f5a-8b9c-0d1e2f3a4b5c/resourceGroups/RG-INFERENCE/providers/Microsoft.Compute/virtualMachines/greenops-demo-nc40"}
AZURE_DEV_VM = {"name": "dev-a10", "size": "Standard_NV6ads_A10_v5", "usd_per_hour": 0.454, "meter": "NV6ads A10 v5",
                "series": "NVadsA10 v5 Series", "location": "eastus2",
                "id": "/subscriptions/6f0b4a2c-1d3e-4f5a-8b9c-0d1e2f3a4b5c/resourceGroups/rg-dev/providers/Microsoft.Compute/virtualMachines/dev-a10"}
AZURE_DISK_USD_PER_DAY = 0.66
EUR_PER_USD = 0.92
#: Which project sends how much of a deployment's traffic (the rest goes to the owner).
SHARED_TRAFFIC = {"chat-70b-fra": {"support-bot": 0.15}, "assist-8b-fra": {"search": 0.2}}


def gpu_uuid(host: str, index: int) -> str:
    site_no = {"fra1": 0xF4A1, "sea1": 0x5E1F}[host.split("-")[0]]
    host_no = int(host.split("gpu")[-1])
    return f"GPU-{site_no:04x}0000-0000-4000-8000-0000000000{host_no - 1}{index}"


def _load_factor(local_hour: np.ndarray, weekday: np.ndarray, night_idle: bool) -> np.ndarray:
    """Traffic relative to peak by local hour: low at night, high in the afternoon."""
    day_curve = 0.5 - 0.5 * np.cos((local_hour - 3) / 24 * 2 * math.pi)  # 0 at 03:00, 1 at 15:00
    factor = 0.08 + 0.92 * day_curve**1.5
    factor = np.where(weekday >= 5, factor * 0.55, factor)
    if night_idle:
        factor = np.where((local_hour < 7) | (local_hour >= 21), 0.0, factor)
    return factor


def generate(landing_dir: Path, fleet_file: Path, start: date, days: int, seed: int = 7) -> dict:
    """Write ``days`` UTC days of demo data starting at ``start``. Returns counts of what was written."""
    fleet = yaml.safe_load(Path(fleet_file).read_text())
    rng = main_rng = np.random.default_rng(seed)
    landing_dir = Path(landing_dir)
    sites = {s["site"]: s for s in fleet["sites"]}
    hosts = {h["host"]: h for h in fleet["hosts"]}
    t0 = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
    hours = pd.date_range(t0, periods=24 * days, freq="h")
    counts = {"requests": 0, "telemetry_lines": 0, "bad_lines": 0}

    # --- requests per deployment-hour, and the GPU load they cause ----------------------------------
    load_by_deployment: dict[str, np.ndarray] = {}
    request_frames = []
    for dep in fleet["deployments"]:
        name = dep["deployment"]
        traffic = TRAFFIC[name]
        # The GCP and Azure deployments came later: their own random streams leave every other file as it was.
        rng = {"gcp": np.random.default_rng([seed, 1]), "azure": np.random.default_rng([seed, 2])}.get(dep.get("provider"), main_rng)
        # cloud deployments log in UTC; on-prem ones in their site's zone
        tz = ZoneInfo(sites[hosts[dep["host"]]["site"]]["timezone"]) if dep.get("host") else ZoneInfo("UTC")
        local = hours.tz_convert(tz)
        factor = _load_factor(local.hour.to_numpy(), local.weekday.to_numpy(), traffic["night_idle"])
        n_per_hour = rng.poisson(traffic["peak_per_hour"] * factor)
        load_by_deployment[name] = np.minimum(0.97, 0.04 + 0.93 * factor)
        n = int(n_per_hour.sum())
        hour_of = np.repeat(np.arange(len(hours)), n_per_hour)
        offsets_us = rng.integers(0, 3_600_000_000, n)
        ts = hours.as_unit("us").asi8[hour_of] + offsets_us  # µs since epoch, UTC
        order = np.argsort(ts, kind="stable")
        ts = ts[order]
        prompt = np.maximum(1, rng.lognormal(math.log(traffic["prompt_mean"]), 0.6, n)).astype(int)
        completion = np.maximum(1, rng.lognormal(math.log(traffic["completion_mean"]), 0.5, n)).astype(int)
        cached = (prompt * rng.choice([0.0, 0.5, 0.8], n, p=[0.5, 0.3, 0.2])).astype(int)
        status = rng.choice(["success", "timeout", "rate_limited", "server_error"], n, p=[0.965, 0.015, 0.015, 0.005])
        completion = np.where(status == "success", completion, 0)
        latency = np.round(40 + completion * rng.uniform(8, 25, n) + prompt * 0.05, 1)
        projects = np.full(n, dep["project"], dtype=object)
        r = rng.random(n)
        edge = 0.0
        for other, share in SHARED_TRAFFIC.get(name, {}).items():
            projects = np.where((r >= edge) & (r < edge + share), other, projects)
            edge += share
        task_no = np.floor(np.arange(n) / traffic["tasks"]).astype(int)
        last_in_task = np.append(task_no[1:] != task_no[:-1], True)
        abandoned = rng.random(n) < 0.05
        frame = pd.DataFrame({
            "request_id": [f"{name}-{i:07d}" for i in range(n)],
            "ts_us": ts,
            "latency_ms": latency,
            "deployment": name,
            "model": dep["model"],
            "project": projects,
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "cached_prompt_tokens": cached,
            "status": status,
            "task_id": [f"{name}-task-{t:06d}" for t in task_no],
            "task_completed": last_in_task & ~abandoned & (status == "success"),
            "tz": str(tz),
        })
        request_frames.append(frame)
    requests = pd.concat(request_frames, ignore_index=True)
    counts["requests"] = len(requests)
    _write_requests(landing_dir, requests, rng, counts)

    rng = main_rng
    # --- GPU telemetry -----------------------------------------------------------------------------
    dep_of_gpu: dict[tuple[str, str], str] = {}
    for dep in fleet["deployments"]:
        for g in dep.get("gpus", []):
            dep_of_gpu[(dep["host"], str(g))] = dep["deployment"]
    for host, h in hosts.items():
        kind = KINDS[h["gpu_model"]]
        site = sites[h["site"]]
        for idx in range(h["gpu_count"]):
            uuid = gpu_uuid(host, idx)
            dep_name = dep_of_gpu.get((host, str(idx))) or dep_of_gpu.get((host, uuid))
            hourly_load = load_by_deployment.get(dep_name, np.zeros(len(hours)))
            interval = SMI_INTERVAL_S if site["site"] == "fra1" else DCGM_INTERVAL_S
            n = 24 * days * 3600 // interval
            ts_s = t0.timestamp() + np.arange(n) * interval + idx * 0.013  # each GPU read a little apart
            load = np.repeat(hourly_load, 3600 // interval)
            util = np.clip(load * 100 * rng.normal(1.0, 0.06, n), 0, 100)
            power = kind.idle_w + (kind.max_w - kind.idle_w) * (util / 100) ** 0.85 + rng.normal(0, 3, n)
            power = np.clip(power, kind.idle_w * 0.9, kind.limit_w)
            mem_util = np.clip(util * 0.4 + rng.normal(0, 1, n), 0, 100)
            mem_used = np.where(dep_name is None, 0, kind.memory_mib * 0.82).astype(int) + rng.integers(0, 64, n)
            frame = pd.DataFrame({"ts_s": ts_s, "power_w": np.round(power, 2), "util": np.round(util),
                                  "mem_util": np.round(mem_util), "mem_used": mem_used})
            if site["site"] == "fra1":
                _write_smi(landing_dir, host, idx, uuid, kind, frame, ZoneInfo(site["timezone"]), rng, counts)
            else:
                energy_j = np.cumsum(frame["power_w"].to_numpy() * interval) + 3.2e9 / 1000 * (idx + 1)
                if host == "sea1-gpu02":  # driver reload on the fourth day at 03:00 UTC
                    reload_at = (3 * 24 + 3) * 3600 // interval
                    if reload_at < n:
                        energy_j[reload_at:] -= energy_j[reload_at - 1]
                frame["energy_mj"] = np.round(energy_j * 1000)
                _write_dcgm(landing_dir, host, idx, uuid, kind, frame, counts)

    _write_grid(landing_dir, hours, rng)
    if any(d.get("provider") == "aws" for d in fleet["deployments"]):
        counts["cur_line_items"] = _write_aws_exports(landing_dir, hours, rng)
    if any(d.get("provider") == "gcp" for d in fleet["deployments"]):
        counts["gcp_billing_rows"] = _write_gcp_exports(landing_dir, hours)
    if any(d.get("provider") == "azure" for d in fleet["deployments"]):
        counts["azure_export_rows"] = _write_azure_exports(landing_dir, hours)
    return counts


def _write_requests(landing_dir: Path, requests: pd.DataFrame, rng, counts: dict) -> None:
    ts = pd.to_datetime(requests["ts_us"], unit="us", utc=True)
    requests = requests.assign(utc_date=ts.dt.date)
    for (day, dep), part in requests.groupby(["utc_date", "deployment"], sort=True):
        tz = ZoneInfo(part["tz"].iloc[0])
        local = pd.to_datetime(part["ts_us"], unit="us", utc=True).dt.tz_convert(tz)
        iso = local.dt.strftime("%Y-%m-%dT%H:%M:%S.%f%z").str.replace(r"(\d\d)(\d\d)$", r"\1:\2", regex=True)
        out = part.drop(columns=["ts_us", "tz", "utc_date"]).assign(timestamp=iso.to_numpy())
        cols = ["request_id", "timestamp", "latency_ms", "deployment", "model", "project", "prompt_tokens",
                "completion_tokens", "cached_prompt_tokens", "status", "task_id", "task_completed"]
        lines = out[cols].to_json(orient="records", lines=True).splitlines()
        # a few bad lines, as real logs have
        if dep == "assist-8b-fra" and len(lines) > 100:
            lines.insert(50, '{"request_id": "assist-8b-fra-broken", "timestamp": "2026-')
            bad = json.loads(lines[70])
            bad["request_id"] += "-neg"
            bad["completion_tokens"] = -5
            lines.insert(71, json.dumps(bad))
            counts["bad_lines"] += 2
        path = landing_dir / "inference_logs" / f"date={day.isoformat()}" / f"{dep}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")


def _write_smi(landing_dir, host, idx, uuid, kind, frame, tz, rng, counts) -> None:
    local = pd.to_datetime(frame["ts_s"], unit="s", utc=True).dt.tz_convert(tz)
    text = (local.dt.strftime("%Y/%m/%d %H:%M:%S.") + (local.dt.microsecond // 1000).astype(str).str.zfill(3)
            + f", {idx}, {uuid}, {kind.name}, " + frame["power_w"].map("{:.2f} W".format)
            + ", " + frame["util"].astype(int).astype(str) + " %, " + frame["mem_util"].astype(int).astype(str)
            + " %, " + frame["mem_used"].astype(str) + " MiB, " + f"{kind.memory_mib} MiB, {kind.limit_w:.2f} W")
    frame = frame.assign(line=text, local_date=local.dt.date)
    for day, part in frame.groupby("local_date", sort=True):
        path = landing_dir / "gpu_telemetry" / f"host={host}" / f"date={day.isoformat()}" / f"nvidia-smi-gpu{idx}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = part["line"].tolist()
        if idx == 1 and len(lines) > 500:  # a sensor hiccup and a line cut short by a full disk
            lines[300] = lines[300].replace(lines[300].split(", ")[4], "[N/A]")
            lines[400] = lines[400][:30]
            counts["bad_lines"] += 2
        path.write_text(SMI_HEADER + "\n" + "\n".join(lines) + "\n")
        counts["telemetry_lines"] += len(lines)


def _write_dcgm(landing_dir, host, idx, uuid, kind, frame, counts) -> None:
    ts_ms = (frame["ts_s"] * 1000).round().astype("int64")
    labels = f'{{gpu="{idx}",UUID="{uuid}",device="nvidia{idx}",modelName="{kind.name}",Hostname="{host}"}}'
    frame = frame.assign(ts_ms=ts_ms, hour=pd.to_datetime(frame["ts_s"], unit="s", utc=True).dt.floor("h"))
    for hour, part in frame.groupby("hour", sort=True):
        t = part["ts_ms"].astype(str)
        block = pd.concat([
            "DCGM_FI_DEV_POWER_USAGE" + labels + " " + part["power_w"].map("{:.3f}".format) + " " + t,
            "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" + labels + " " + part["energy_mj"].astype("int64").astype(str) + " " + t,
            "DCGM_FI_DEV_GPU_UTIL" + labels + " " + part["util"].astype(int).astype(str) + " " + t,
            "DCGM_FI_DEV_FB_USED" + labels + " " + part["mem_used"].astype(str) + " " + t,
            "DCGM_FI_DEV_FB_FREE" + labels + " " + (kind.memory_mib - part["mem_used"]).astype(str) + " " + t,
        ])
        path = (landing_dir / "gpu_telemetry" / f"host={host}" / f"date={hour.date().isoformat()}"
                / f"dcgm-{hour:%H}.prom")
        path.parent.mkdir(parents=True, exist_ok=True)
        header = "" if path.exists() else ("# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).\n"
                                            "# TYPE DCGM_FI_DEV_POWER_USAGE gauge\n")
        with path.open("a") as f:
            f.write(header + "\n".join(block.tolist()) + "\n")
        counts["telemetry_lines"] += len(block)


def _write_grid(landing_dir: Path, hours: pd.DatetimeIndex, rng) -> None:
    # German grid: cleaner at midday (solar), dirtier in the evening; a PPA halves market-based.
    h = hours.hour.to_numpy()
    location = 341 + 90 * np.cos((h - 19) / 24 * 2 * math.pi) + rng.normal(0, 12, len(hours))
    frame = pd.DataFrame({"zone": "DE", "hour_utc": hours.strftime("%Y-%m-%dT%H:00:00Z"),
                          "gco2e_per_kwh_location": np.round(location, 1),
                          "gco2e_per_kwh_market": np.round(location * 0.5, 1), "day": hours.date})
    for day, part in frame.groupby("day", sort=True):
        path = landing_dir / "grid_intensity" / f"date={day.isoformat()}" / "DE.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        part.drop(columns=["day"]).to_csv(path, index=False)


def _write_aws_exports(landing_dir: Path, hours: pd.DatetimeIndex, rng) -> int:
    """A CUR 2.0 export (gzip CSV + manifest, in the S3 layout) and a carbon export for each month."""
    import gzip

    rows = []
    for h in hours:
        start, end = h.to_pydatetime().replace(tzinfo=None), (h + pd.Timedelta(hours=1)).to_pydatetime().replace(tzinfo=None)
        common = {"line_item_usage_start_date": start, "line_item_usage_end_date": end, "line_item_usage_account_id": AWS_ACCOUNT,
                  "line_item_currency_code": "USD", "line_item_line_item_type": "Usage", "product_region_code": AWS_INSTANCE["region"],
                  "bill_billing_period_start_date": start.replace(day=1, hour=0)}
        rows.append({**common, "line_item_product_code": "AmazonEC2", "line_item_usage_type": f"BoxUsage:{AWS_INSTANCE['type']}",
                     "line_item_operation": "RunInstances", "line_item_resource_id": AWS_INSTANCE["id"],
                     "line_item_usage_amount": 1.0, "line_item_unblended_cost": AWS_INSTANCE["usd_per_hour"],
                     "line_item_net_unblended_cost": AWS_INSTANCE["usd_per_hour"], "line_item_unblended_rate": str(AWS_INSTANCE["usd_per_hour"]),
                     "product_instance_type": AWS_INSTANCE["type"], "pricing_unit": "Hrs",
                     "resource_tags": json.dumps({"user:deployment": "rag-8b-aws", "user:project": "search"})})
        # an experiment box nobody tagged: unattributed spend, kept and visible
        rows.append({**common, "line_item_product_code": "AmazonEC2", "line_item_usage_type": "BoxUsage:g5.xlarge",
                     "line_item_operation": "RunInstances", "line_item_resource_id": "i-0ffee0000experiment",
                     "line_item_usage_amount": 1.0, "line_item_unblended_cost": 1.006, "line_item_net_unblended_cost": 1.006,
                     "line_item_unblended_rate": "1.006", "product_instance_type": "g5.xlarge", "pricing_unit": "Hrs",
                     "resource_tags": "{}"})
        if h.hour == 0:  # the model store on S3, tagged, billed daily
            rows.append({**common, "line_item_usage_end_date": start + timedelta(days=1), "line_item_product_code": "AmazonS3",
                         "line_item_usage_type": "TimedStorage-ByteHrs", "line_item_operation": "StandardStorage",
                         "line_item_resource_id": "greenops-demo-models", "line_item_usage_amount": 120.0,
                         "line_item_unblended_cost": round(float(rng.uniform(0.09, 0.1)), 4), "line_item_net_unblended_cost": 0.09,
                         "line_item_unblended_rate": "0.023", "product_instance_type": None, "pricing_unit": "GB-Mo",
                         "resource_tags": json.dumps({"user:deployment": "rag-8b-aws"})})
    frame = pd.DataFrame(rows)
    frame["period"] = frame["line_item_usage_start_date"].dt.strftime("%Y-%m")
    root = landing_dir / "aws_cur" / "greenops-demo"
    for period, part in frame.groupby("period", sort=True):
        key = f"greenops-demo/data/BILLING_PERIOD={period}/greenops-demo-00001.csv.gz"
        data = root / "data" / f"BILLING_PERIOD={period}" / "greenops-demo-00001.csv.gz"
        data.parent.mkdir(parents=True, exist_ok=True)
        # mtime=0: the same data gives the same bytes (gzip stores a timestamp otherwise)
        with open(data, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, io.TextIOWrapper(gz) as f:
            part.drop(columns=["period"]).to_csv(f, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        manifest = root / "metadata" / f"BILLING_PERIOD={period}" / "greenops-demo-Manifest.json"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(json.dumps({"exportName": "greenops-demo", "billingPeriod": period,
                                        "dataFiles": [f"s3://greenops-demo-billing/{key}"]}, indent=2))
        # AWS's own monthly carbon figures for the account (location- and market-based, MTCO2e)
        carbon = landing_dir / "aws_carbon" / "model_version=v3.0.0" / f"usage_period={period}" / "carbon.csv"
        carbon.parent.mkdir(parents=True, exist_ok=True)
        instance_hours = int((part["line_item_usage_type"] == f"BoxUsage:{AWS_INSTANCE['type']}").sum())
        carbon.write_text("usage_account_id,region_code,product_code,total_lbm_emissions_value,total_lbm_emissions_unit,"
                          "total_mbm_emissions_value,total_mbm_emissions_unit\n"
                          f"{AWS_ACCOUNT},{AWS_INSTANCE['region']},AmazonEC2,{instance_hours * 0.00058:.5f},MTCO2e,"
                          f"{instance_hours * 0.00012:.5f},MTCO2e\n")
    return len(frame)


def _gcp_billing_schema():
    import pyarrow as pa

    kv = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
    return pa.schema([
        ("billing_account_id", pa.string()),
        ("service", pa.struct([("id", pa.string()), ("description", pa.string())])),
        ("sku", pa.struct([("id", pa.string()), ("description", pa.string())])),
        ("usage_start_time", pa.timestamp("us", tz="UTC")),
        ("usage_end_time", pa.timestamp("us", tz="UTC")),
        ("project", pa.struct([("id", pa.string()), ("number", pa.string()), ("name", pa.string()), ("labels", kv)])),
        ("labels", kv),
        ("system_labels", kv),
        ("location", pa.struct([("location", pa.string()), ("country", pa.string()), ("region", pa.string()), ("zone", pa.string())])),
        ("resource", pa.struct([("name", pa.string()), ("global_name", pa.string())])),
        ("export_time", pa.timestamp("us", tz="UTC")),
        ("cost", pa.float64()),
        ("currency", pa.string()),
        ("currency_conversion_rate", pa.float64()),
        ("usage", pa.struct([("amount", pa.float64()), ("unit", pa.string()), ("amount_in_pricing_units", pa.float64()),
                             ("pricing_unit", pa.string())])),
        ("credits", pa.list_(pa.struct([("name", pa.string()), ("amount", pa.float64()), ("full_name", pa.string()),
                                        ("id", pa.string()), ("type", pa.string())]))),
        ("invoice", pa.struct([("month", pa.string())])),
        ("cost_type", pa.string()),
    ])


def _write_gcp_exports(landing_dir: Path, hours: pd.DatetimeIndex) -> int:
    """The GCP project's Cloud Billing export (Parquet as `bq extract` writes it: nested records,
    repeated labels) per invoice month, and GCP's Carbon Footprint export (newline-delimited JSON,
    INT64 as strings) per usage month. Deterministic: no random numbers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    compute = {"id": "6F81-5844-456A", "description": "Compute Engine"}
    storage = {"id": "95FF-2EF5-5EA1", "description": "Cloud Storage"}
    project = {**GCP_PROJECT, "labels": [{"key": "env", "value": "prod"}]}
    zone = f"{GCP_REGION}-a"

    def kv(d: dict) -> list[dict]:
        return [{"key": k, "value": v} for k, v in d.items()]

    rows = []
    for h in hours:
        start = h.to_pydatetime()
        end = start + timedelta(hours=1)
        common = {"billing_account_id": GCP_BILLING_ACCOUNT, "usage_start_time": start, "usage_end_time": end,
                  "project": project, "export_time": end + timedelta(hours=5), "currency": "USD",
                  "currency_conversion_rate": 1.0, "invoice": {"month": start.strftime("%Y%m")}, "cost_type": "regular",
                  "location": {"location": GCP_REGION, "country": "US", "region": GCP_REGION, "zone": zone}}
        for vm, labels in ((GCP_VM, {"deployment": "chat-8b-gcp", "team": "support"}), (GCP_EXPERIMENT_VM, {})):
            family = vm["machine_type"].split("-")[0].upper()
            system = kv({"compute.googleapis.com/machine_spec": vm["machine_type"], "compute.googleapis.com/cores": str(vm["vcpus"]),
                         "compute.googleapis.com/memory": str(vm["memory_gib"] * 1024)})
            base = {**common, "service": compute, "labels": kv(labels), "system_labels": system,
                    "resource": {"name": vm["name"], "global_name": f"//compute.googleapis.com/projects/{GCP_PROJECT['id']}/zones/{zone}/instances/{vm['name']}"}}
            rows.append({**base, "sku": {"id": f"{family}-CORE-0001", "description": f"{family} Instance Core running in Americas"},
                         "cost": round(vm["vcpus"] * vm["usd_per_vcpu_hour"], 6), "credits": [],
                         "usage": {"amount": vm["vcpus"] * 3600.0, "unit": "seconds", "amount_in_pricing_units": float(vm["vcpus"]), "pricing_unit": "hour"}})
            rows.append({**base, "sku": {"id": f"{family}-RAM-0001", "description": f"{family} Instance Ram running in Americas"},
                         "cost": round(vm["memory_gib"] * vm["usd_per_gib_hour"], 6), "credits": [],
                         "usage": {"amount": vm["memory_gib"] * 2.0**30 * 3600, "unit": "byte-seconds",
                                   "amount_in_pricing_units": float(vm["memory_gib"]), "pricing_unit": "gibibyte hour"}})
            credit = vm["cud_credit_per_gpu_hour"] * vm["gpus"]
            rows.append({**base, "sku": {"id": f"{family}-GPU-0001", "description": vm["gpu_sku"]},
                         "cost": round(vm["gpus"] * vm["usd_per_gpu_hour"], 6),
                         "credits": [{"name": "Committed use discount: GPUs", "amount": credit, "full_name": None,
                                      "id": "CUD-GPU", "type": "COMMITTED_USAGE_DISCOUNT"}] if credit else [],
                         "usage": {"amount": vm["gpus"] * 3600.0, "unit": "seconds", "amount_in_pricing_units": float(vm["gpus"]), "pricing_unit": "hour"}})
        if h.hour == 0:  # the model bucket, labelled, billed daily (a multi-region: no region)
            rows.append({**common, "service": storage, "sku": {"id": "E5F0-6A5D-7BAD", "description": "Standard Storage US Multi-region"},
                         "usage_end_time": start + timedelta(days=1), "labels": kv({"deployment": "chat-8b-gcp"}), "system_labels": [],
                         "location": {"location": "us", "country": "US", "region": None, "zone": None},
                         "resource": {"name": "greenops-demo-models", "global_name": None}, "cost": 0.0832, "credits": [],
                         "usage": {"amount": 40.0 * 2.0**30 * 86400, "unit": "byte-seconds", "amount_in_pricing_units": 1.3333,
                                   "pricing_unit": "gibibyte month"}})
    schema = _gcp_billing_schema()
    months = sorted({r["usage_start_time"].strftime("%Y%m") for r in rows})
    for month in months:
        part = [r for r in rows if r["usage_start_time"].strftime("%Y%m") == month]
        path = landing_dir / "gcp_billing" / f"invoice_month={month}" / "billing-000000000000.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(part, schema), path)

        # GCP's own monthly figures: Compute Engine in the region (both VMs), the bucket, and a
        # sandbox project with no billing rows here (its carbon stays unallocated)
        vm_hours = sum(1 for r in part if "Instance Core" in r["sku"]["description"])
        storage_days = sum(1 for r in part if r["service"] == storage)
        period = f"{month[:4]}-{month[4:]}"

        def carbon(project_id, number, service, location, region, per, units):
            s1, s2l, s2m, s3 = (round(per[k] * units, 6) for k in ("scope1", "scope2_location", "scope2_market", "scope3"))
            return {"usage_month": f"{period}-01", "billing_account_id": GCP_BILLING_ACCOUNT,
                    "project": {"id": project_id, "number": number}, "service": service,
                    "location": {"location": location, "region": region},
                    "carbon_footprint_kgCO2e": {"scope1": s1, "scope2": {"location_based": s2l, "market_based": s2m}, "scope3": s3},
                    "carbon_footprint_total_kgCO2e": {"location_based": round(s1 + s2l + s3, 6), "market_based": round(s1 + s2m + s3, 6)},
                    "carbon_model_version": "12"}

        records = [
            carbon(GCP_PROJECT["id"], GCP_PROJECT["number"], compute, GCP_REGION, GCP_REGION, GCP_CARBON_PER_VM_HOUR, vm_hours),
            carbon(GCP_PROJECT["id"], GCP_PROJECT["number"], storage, "us", None, GCP_CARBON_STORAGE_PER_DAY, storage_days),
            carbon("greenops-sandbox", "418022349999", {"id": "24E6-581D-38E5", "description": "BigQuery"}, "US", None,
                   GCP_CARBON_STORAGE_PER_DAY, storage_days),
        ]
        carbon_path = landing_dir / "gcp_carbon" / f"usage_month={period}" / "carbon_footprint-000000000000.json"
        carbon_path.parent.mkdir(parents=True, exist_ok=True)
        carbon_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return len(rows)


def _write_azure_exports(landing_dir: Path, hours: pd.DatetimeIndex) -> int:
    """The subscription's Cost Management ActualCost export per month, month to date (the last run of
    each month's period folder holds every day so far), in MCA column names, as the storage
    container holds it: ``<dir>/<export>/<YYYYMMDD-YYYYMMDD>/<runId>/part_0_0001.csv`` and the
    ``manifest.json`` Azure writes last. Daily rows (Azure bills VMs per day). Deterministic."""
    days = sorted({h.date() for h in hours.to_pydatetime()})
    rows = []
    for day in days:
        month_end = (pd.Timestamp(day) + pd.offsets.MonthEnd(0)).date()
        common = {"billingAccountId": AZURE_BILLING_ACCOUNT, "billingPeriodStartDate": f"{day.replace(day=1):%m/%d/%Y}",
                  "billingPeriodEndDate": f"{month_end:%m/%d/%Y}", "subscriptionGuid": AZURE_SUBSCRIPTION,
                  "subscriptionName": "greenops-demo", "date": f"{day:%m/%d/%Y}", "billingCurrencyCode": "EUR",
                  "chargeType": "Usage", "pricingModel": "OnDemand", "frequency": "UsageBased", "publisherType": "Azure"}
        # the deployment's VM: no tag, attributed by its resource id (listed in the fleet file)
        for vm, tags in ((AZURE_VM, {}), (AZURE_DEV_VM, {"owner": "data-science"})):
            usd = round(24 * vm["usd_per_hour"], 6)
            rows.append({**common, "resourceGroupName": vm["id"].split("/")[4], "instanceName": vm["id"],
                         "resourceLocation": vm["location"], "consumedService": "Microsoft.Compute",
                         "meterCategory": "Virtual Machines", "meterSubCategory": vm["series"], "meterName": vm["meter"],
                         "unitOfMeasure": "1 Hour", "quantity": 24, "effectivePrice": round(vm["usd_per_hour"] * EUR_PER_USD, 6),
                         "costInBillingCurrency": round(usd * EUR_PER_USD, 6), "costInUsd": usd, "tags": json.dumps(tags),
                         "additionalInfo": json.dumps({"ServiceType": vm["size"], "VCPUs": 40 if vm is AZURE_VM else 6})})
        rows.append({**common, "resourceGroupName": "RG-INFERENCE", "instanceName": AZURE_VM["id"].rsplit("/", 4)[0]
                     + "/providers/Microsoft.Compute/disks/greenops-demo-nc40-os", "resourceLocation": "eastus2",
                     "consumedService": "Microsoft.Compute", "meterCategory": "Storage", "meterSubCategory": "Premium SSD Managed Disks",
                     "meterName": "P10 LRS Disk", "unitOfMeasure": "1/Month", "quantity": round(1 / 30, 6),
                     "effectivePrice": round(19.71 * EUR_PER_USD, 4), "costInBillingCurrency": round(AZURE_DISK_USD_PER_DAY * EUR_PER_USD, 6),
                     "costInUsd": AZURE_DISK_USD_PER_DAY, "tags": json.dumps({"deployment": "assist-24b-azure"}), "additionalInfo": ""})
    frame = pd.DataFrame(rows)
    for month, part in frame.groupby(frame["date"].str.slice(6, 10) + frame["date"].str.slice(0, 2), sort=True):
        first = date(int(month[:4]), int(month[4:]), 1)
        last = (pd.Timestamp(first) + pd.offsets.MonthEnd(0)).date()
        last_day = max(datetime.strptime(d, "%m/%d/%Y") for d in part["date"])
        run_id = f"demo-{last_day:%Y%m%d}"
        folder = landing_dir / "azure_exports" / "greenops" / "demo-actual" / f"{first:%Y%m%d}-{last:%Y%m%d}" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part_0_0001.csv").write_text(part.to_csv(index=False))
        submitted = (last_day + timedelta(days=1, hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        blob = f"greenops/demo-actual/{first:%Y%m%d}-{last:%Y%m%d}/{run_id}/part_0_0001.csv"
        (folder / "manifest.json").write_text(json.dumps({
            "manifestVersion": "2024-04-01", "byteCount": (folder / "part_0_0001.csv").stat().st_size, "blobCount": 1,
            "dataRowCount": len(part), "exportConfig": {"exportName": "demo-actual", "type": "ActualCost", "dataVersion": "2023-12-01-preview"},
            "runInfo": {"runId": run_id, "submittedTime": submitted},
            "blobs": [{"blobName": blob, "byteCount": (folder / "part_0_0001.csv").stat().st_size, "dataRowCount": len(part)}]}, indent=2))
    return len(frame)
