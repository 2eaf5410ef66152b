"""The operator's commands: ``python -m greenops <command>`` (with plugins/ on PYTHONPATH).

  demo [--days N] [--end YYYY-MM-DD] [--seed S]   generate the demo fleet, run the real DAGs for each
                                                  day with `airflow dags test`, print the KPI summary
  demo-data [--days N] [--end ...] [--seed S]     only write the demo landing files
  airflow-setup                                   migrate the Airflow metadata DB, create the pool
  run-day DAY                                     run the on-prem DAG for one UTC day (airflow dags test)
  transform [DAY]                                 run the transformation DAG (airflow dags test)
  summary                                         print the KPI summary from the published snapshot
  report [--out DIR] [--month YYYY-MM]            write the HTML report from the published snapshot
                                                  (--month: reports/<YYYY-MM>/ with CSV extracts)
  server-env                                      write .env for docker-compose.yml (your user id, the
                                                  stack's shared secrets) and the data folder it mounts
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from greenops.settings import WAREHOUSE_POOL, airflow_env, get_settings

log = logging.getLogger("greenops")

DEMO_MARKER = ".greenops-demo"
DEMO_SUBDIRS = ("gpu_telemetry", "inference_logs", "grid_intensity")


def _airflow(*args: str, check: bool = True, quiet: bool = False) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("airflow")
    # `airflow dags test` waits out retry delays in-process: runs from here fail fast instead.
    env = {"GREENOPS_TASK_RETRIES": "0", **os.environ, **airflow_env()}
    cmd = [str(exe), *args]
    log.info("$ airflow %s", " ".join(args))
    result = subprocess.run(cmd, env=env, text=True, capture_output=quiet)
    if check and result.returncode != 0:
        tail = (result.stdout or "")[-3000:] + (result.stderr or "")[-3000:] if quiet else ""
        raise SystemExit(f"airflow {' '.join(args)} failed with exit code {result.returncode}\n{tail}")
    return result


def airflow_setup() -> None:
    _airflow("db", "migrate", quiet=True)
    _airflow("pools", "set", WAREHOUSE_POOL, "1", "Tasks that write the embedded DuckDB warehouse (one writer)", quiet=True)


def run_day(day: date) -> None:
    _airflow("dags", "test", "greenops_onprem", day.isoformat(), quiet=True)


def transform(day: date) -> None:
    _airflow("dags", "test", "greenops_transform", day.isoformat(), quiet=True)


def demo_data(days: int, end: date, seed: int) -> date:
    s = get_settings()
    landing = s.landing_dir
    if landing.exists() and any(landing.iterdir()) and not (landing / DEMO_MARKER).exists():
        raise SystemExit(f"{landing} holds files that are not demo data; set GREENOPS_LANDING_DIR to an empty folder")
    for sub in DEMO_SUBDIRS:
        shutil.rmtree(landing / sub, ignore_errors=True)
    landing.mkdir(parents=True, exist_ok=True)
    (landing / DEMO_MARKER).write_text("written by `greenops demo`; removed and rewritten on every demo run\n")
    from greenops.demo.generate import generate

    start = end - timedelta(days=days - 1)
    counts = generate(landing, s.fleet_file, start, days, seed)
    print(f"demo data for {start} .. {end} in {landing}: {counts}")
    return start


def demo(days: int, end: date, seed: int) -> None:
    t0 = time.monotonic()
    start = demo_data(days, end, seed)
    airflow_setup()
    for i in range(days):
        day = start + timedelta(days=i)
        t = time.monotonic()
        run_day(day)
        print(f"greenops_onprem {day}: success ({time.monotonic() - t:.0f} s)")
    t = time.monotonic()
    _airflow("dags", "test", "greenops_aws", end.isoformat(), quiet=True)  # CUR + carbon exports, by billing period
    print(f"greenops_aws {end}: success ({time.monotonic() - t:.0f} s)")
    t = time.monotonic()
    _airflow("dags", "test", "greenops_gcp", end.isoformat(), quiet=True)  # billing + Carbon Footprint exports, by month
    print(f"greenops_gcp {end}: success ({time.monotonic() - t:.0f} s)")
    t = time.monotonic()
    _airflow("dags", "test", "greenops_azure", end.isoformat(), quiet=True)  # Cost Management exports, by month
    print(f"greenops_azure {end}: success ({time.monotonic() - t:.0f} s)")
    t = time.monotonic()
    transform(end)
    print(f"greenops_transform: success ({time.monotonic() - t:.0f} s)")
    from greenops.report import render_summary

    print()
    print(render_summary())
    s = get_settings()
    print(f"\nfor analysts and dashboards: {s.published_path} (read-only; docs/analysts.md)"
          f"\nthe pipeline's own warehouse: {s.warehouse_path} (never open it beside a run)"
          f"\nnext: make report (the HTML report), make summary (these tables again)"
          + ("; efficiency savings are measured against a model's first 7 days, so they show with --days 14"
             if days <= 7 else "")
          + f"\n(demo took {time.monotonic() - t0:.0f} s)")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=os.environ.get("GREENOPS_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="greenops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    for name in ("demo", "demo-data"):
        p = sub.add_parser(name)
        p.add_argument("--days", type=int, default=7)
        p.add_argument("--end", type=date.fromisoformat, default=yesterday, help="last UTC day (default: yesterday)")
        p.add_argument("--seed", type=int, default=7)
    sub.add_parser("airflow-setup")
    p = sub.add_parser("run-day")
    p.add_argument("day", type=date.fromisoformat)
    p = sub.add_parser("transform")
    p.add_argument("day", type=date.fromisoformat, nargs="?", default=yesterday)
    sub.add_parser("summary")
    p = sub.add_parser("report")
    p.add_argument("--out", type=Path, default=None, help="folder (default: reports/ in the project)")
    p.add_argument("--month", default=None, help="UTC month YYYY-MM: the disclosure, with CSV extracts (default: latest month)")
    sub.add_parser("server-env")
    args = parser.parse_args(argv)

    if args.command == "demo":
        demo(args.days, args.end, args.seed)
    elif args.command == "demo-data":
        demo_data(args.days, args.end, args.seed)
    elif args.command == "airflow-setup":
        airflow_setup()
    elif args.command == "run-day":
        run_day(args.day)
    elif args.command == "transform":
        transform(args.day)
    elif args.command == "summary":
        from greenops.report import render_summary

        print(render_summary())
    elif args.command == "report":
        from greenops.report_html import ReportError, build_report

        try:
            print(build_report(args.out, args.month))
        except ReportError as exc:
            raise SystemExit(str(exc)) from exc
    elif args.command == "server-env":
        from greenops.server_env import write_server_env

        added = write_server_env(get_settings().home, os.getuid())
        print(f"{get_settings().home / '.env'}: " + (f"added {', '.join(added)}" if added else "complete, nothing added"))


if __name__ == "__main__":
    main()
