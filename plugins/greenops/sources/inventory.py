"""The fleet inventory: one YAML file (setting ``GREENOPS_FLEET_FILE``) the operator maintains.

Sections: ``sites`` (PUE, grid zone, IANA timezone), ``hosts`` (site, GPU model and count),
``models`` (optional metadata), ``projects`` (team, weekly carbon budget in kgCO2e and per-ISO-week
overrides) and ``deployments`` (model, owning project, host, GPU indexes or UUIDs, valid from/to).
A problem anywhere fails the load with the file and the entry named: a half-understood inventory
would misattribute energy silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
import yaml


PROVIDERS = ("onprem", "aws", "gcp", "azure")


class InventoryError(ValueError):
    pass


@dataclass(frozen=True)
class Inventory:
    sites: pa.Table
    hosts: pa.Table
    models: pa.Table
    projects: pa.Table
    deployments: pa.Table

    def host_timezones(self) -> dict[str, str]:
        site_tz = dict(zip(self.sites.column("site").to_pylist(), self.sites.column("timezone").to_pylist()))
        return {h: site_tz[s] for h, s in zip(self.hosts.column("host").to_pylist(), self.hosts.column("site").to_pylist())}

    def deployment_names(self) -> list[str]:
        return sorted(set(self.deployments.column("deployment").to_pylist()))


def _ts(value, where: str, path: Path) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise InventoryError(f"{path}: {where}: not a date/time: {value!r}") from exc
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


def _need(entry: dict, key: str, where: str, path: Path):
    if entry.get(key) in (None, ""):
        raise InventoryError(f"{path}: {where} has no {key!r}")
    return entry[key]


def load(path: Path) -> Inventory:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise InventoryError(f"fleet inventory {path} does not exist (setting GREENOPS_FLEET_FILE)") from exc
    except yaml.YAMLError as exc:
        raise InventoryError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise InventoryError(f"{path}: expected a mapping with sites, hosts, deployments")

    sites = []
    for i, s in enumerate(doc.get("sites") or []):
        where = f"sites[{i}]"
        tz = s.get("timezone") or "UTC"
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise InventoryError(f"{path}: {where}: unknown timezone {tz!r}") from exc
        pue = float(_need(s, "pue", where, path))
        if not 1.0 <= pue <= 3.0:
            raise InventoryError(f"{path}: {where}: PUE {pue} outside 1.0-3.0")
        sites.append({"site": str(_need(s, "site", where, path)), "pue": pue,
                      "grid_zone": str(_need(s, "grid_zone", where, path)), "timezone": tz})
    site_names = {s["site"] for s in sites}

    hosts = []
    for i, h in enumerate(doc.get("hosts") or []):
        where = f"hosts[{i}]"
        site = str(_need(h, "site", where, path))
        if site not in site_names:
            raise InventoryError(f"{path}: {where}: unknown site {site!r}")
        hosts.append({"host": str(_need(h, "host", where, path)), "site": site,
                      "gpu_model": h.get("gpu_model"), "gpu_count": h.get("gpu_count")})
    host_names = {h["host"] for h in hosts}

    models = [{"model": str(_need(m, "model", f"models[{i}]", path)), "family": m.get("family"),
               "parameters_billion": m.get("parameters_billion"), "tier": m.get("tier")}
              for i, m in enumerate(doc.get("models") or [])]

    projects = []
    for i, p in enumerate(doc.get("projects") or []):
        where = f"projects[{i}]"
        name = str(_need(p, "project", where, path))
        for period_type in ("week", "month"):
            default = p.get(f"{'weekly' if period_type == 'week' else 'monthly'}_carbon_budget_kgco2e")
            if default is not None:
                projects.append({"project": name, "team": p.get("team"), "period_type": period_type,
                                 "budget_period": "*", "carbon_budget_kgco2e": float(default)})
        for period, budget in (p.get("budget_overrides") or {}).items():
            period = str(period)
            period_type = "week" if "-W" in period else "month"
            if not re.fullmatch(r"\d{4}-W\d{2}|\d{4}-\d{2}", period):
                raise InventoryError(f"{path}: {where}: budget override {period!r} is neither an ISO week (2026-W47) nor a month (2026-11)")
            projects.append({"project": name, "team": p.get("team"), "period_type": period_type,
                             "budget_period": period, "carbon_budget_kgco2e": float(budget)})
        if not any(r["project"] == name for r in projects):  # a project without budgets is still a project
            projects.append({"project": name, "team": p.get("team"), "period_type": "week", "budget_period": "*",
                             "carbon_budget_kgco2e": None})

    deployments = []
    for i, d in enumerate(doc.get("deployments") or []):
        where = f"deployments[{i}]"
        provider = str(d.get("provider") or "onprem").lower()
        if provider not in PROVIDERS:
            raise InventoryError(f"{path}: {where}: provider {provider!r} is not one of {', '.join(PROVIDERS)}")
        valid_from = _ts(d.get("valid_from"), where, path) or datetime(1970, 1, 1)
        valid_to = _ts(d.get("valid_to"), where, path)
        if valid_to is not None and valid_to <= valid_from:
            raise InventoryError(f"{path}: {where}: valid_to is not after valid_from")
        common = {"deployment": str(_need(d, "deployment", where, path)), "model": str(_need(d, "model", where, path)),
                  "project": str(_need(d, "project", where, path)), "provider": provider,
                  "valid_from_utc": valid_from, "valid_to_utc": valid_to}
        if provider == "onprem":
            host = str(_need(d, "host", where, path))
            if host not in host_names:
                raise InventoryError(f"{path}: {where}: unknown host {host!r}")
            gpus = d.get("gpus")
            if not gpus:
                raise InventoryError(f"{path}: {where} lists no gpus")
            deployments += [{**common, "host": host, "gpu_ref": str(g)} for g in gpus]
        else:
            # cloud: attributed by its `deployment` cost-allocation tag first, then these resource ids
            deployments += [{**common, "resource_ref": str(r)} for r in (d.get("resources") or [None])]

    from greenops import raw_tables as rt

    def table(spec, rows):
        # every key of every row (from_pylist would take the first row's keys only: an on-prem
        # deployment first would drop the cloud deployments' resource_ref)
        keys = list(dict.fromkeys(k for r in rows for k in r))
        return rt.conform(spec, pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows])) if rows else rt.empty(spec)

    return Inventory(
        sites=table(rt.INVENTORY_SITES, sites),
        hosts=table(rt.INVENTORY_HOSTS, hosts),
        models=table(rt.INVENTORY_MODELS, models),
        projects=table(rt.INVENTORY_PROJECTS, projects),
        deployments=table(rt.INVENTORY_DEPLOYMENTS, deployments),
    )
