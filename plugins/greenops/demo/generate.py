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
"""

from __future__ import annotations

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
}
#: The AWS-hosted deployment's instance, and its on-demand price (USD per hour, us-east-1 list price order).
AWS_INSTANCE = {"id": "i-0a1b2c3d4e5f60718", "type": "g6e.12xlarge", "usd_per_hour": 10.49, "region": "us-east-1"}
AWS_ACCOUNT = "123456789012"
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
    rng = np.random.default_rng(seed)
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
        with gzip.open(data, "wt") as f:
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
