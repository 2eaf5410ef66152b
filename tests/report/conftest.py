"""One small warehouse for the reporting tests: two demo days (on-prem telemetry, request logs, grid
intensity and the AWS CUR), built by the real dbt project and published as a snapshot."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from greenops.settings import PROJECT_ROOT

START = date(2026, 11, 16)
DAYS = 2
MONTH = "2026-11"
DBT = Path(sys.executable).with_name("dbt")


@pytest.fixture(scope="session")
def report_env(tmp_path_factory):
    """Settings pointing at a published snapshot with the reporting schema; yields a namespace."""
    from greenops import ingest, ingest_aws
    from greenops.demo.generate import generate
    from greenops.publish import publish_snapshot
    from greenops.settings import dbt_env, get_settings

    root = tmp_path_factory.mktemp("report")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GREENOPS_LANDING_DIR", str(root / "landing"))
        mp.setenv("GREENOPS_WAREHOUSE", str(root / "warehouse.duckdb"))
        mp.setenv("GREENOPS_PUBLISHED_WAREHOUSE", str(root / "published" / "greenops.duckdb"))
        mp.setenv("GREENOPS_FLEET_FILE", str(PROJECT_ROOT / "include" / "demo_fleet.yaml"))
        for name in ("GREENOPS_AWS_CUR_BUCKET", "GREENOPS_AWS_CUR_PREFIX", "GREENOPS_AWS_CUR_EXPORT"):
            mp.delenv(name, raising=False)  # the CUR comes from the landing folder here
        settings = get_settings()
        generate(settings.landing_dir, settings.fleet_file, START, DAYS, seed=11)
        ingest.load_inventory()
        for day in (START + timedelta(days=i) for i in range(DAYS)):
            ingest.ingest_gpu_telemetry(day)
            ingest.ingest_inference_logs(day)
            ingest.ingest_grid_intensity(day)
        ingest_aws.ingest_aws_cur()
        # a one-day baseline, so that two days exercise the cost-avoided rule; our own target and log
        # paths leave the project's manifest.json (read by Cosmos and the DAG tests) alone
        target = root / "dbt_target"
        result = subprocess.run(
            [str(DBT), "build", "--quiet", "--target-path", str(target), "--log-path", str(target / "logs"),
             "--vars", "{efficiency_baseline_days: 1}"],
            cwd=PROJECT_ROOT / "dbt_project", env={**os.environ, **dbt_env(settings)},
            capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        publish_snapshot(settings)
        # for `python -m greenops` in a subprocess: these settings, and the package on the path
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT / "plugins"), os.environ.get("PYTHONPATH")]))}
        yield SimpleNamespace(root=root, settings=settings, snapshot=settings.published_path, month=MONTH, env=env)
