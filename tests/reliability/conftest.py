"""Session fixtures of the reliability tests: a 30-day generated fleet loaded day by day and built
with dbt (shared by the idempotency and conservation tests), and one end-to-end run of the real DAGs
with test credentials in the environment (shared by the security and gate tests)."""

from __future__ import annotations

import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from greenops import ingest
from greenops.demo.generate import generate
from reliability.rel_support import SMALL_FLEET, days, dbt, fingerprint, ingest_days, settings_for, thinned_demo
from support.known_fleet import Pipeline, assert_success, migrate_airflow

#: 30 UTC days; Europe/Berlin leaves daylight-saving time on 2026-10-25 (a local hour repeats).
BACKFILL_START = date(2026, 10, 12)
BACKFILL_DAYS = 30


@dataclass
class Backfill:
    root: Path
    settings: object
    days: list[date]
    target_dir: Path
    baseline: dict = field(default_factory=dict)  # the fingerprint after the first load and build
    timings: dict = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        return self.settings.warehouse_path


@pytest.fixture(scope="session")
def backfill(tmp_path_factory) -> Backfill:
    """The small fleet's 30 days generated, every day loaded once, then one full `dbt build`."""
    root = tmp_path_factory.mktemp("backfill")
    fleet = root / "fleet.yaml"
    fleet.write_text(SMALL_FLEET)
    s = settings_for(root / "landing", root / "warehouse.duckdb", fleet)
    b = Backfill(root, s, days(BACKFILL_START, BACKFILL_DAYS), root / "dbt-target")
    t = time.monotonic()
    with thinned_demo():
        generate(s.landing_dir, fleet, BACKFILL_START, BACKFILL_DAYS, seed=23)
    b.timings["generate_s"] = time.monotonic() - t
    t = time.monotonic()
    ingest.load_inventory(load_id="first", settings=s)
    ingest_days(s, b.days, "first")
    b.timings["ingest_s"] = time.monotonic() - t
    t = time.monotonic()
    dbt(s.warehouse_path, "build", "--quiet", target_dir=b.target_dir)
    b.timings["dbt_build_s"] = time.monotonic() - t
    b.baseline = fingerprint(s.warehouse_path)
    return b


@dataclass
class EndToEnd:
    pipeline: Pipeline
    airflow_home: Path
    secret: str
    access_key: str
    started_at: float
    outputs: list[str]


def _fake_access_key() -> str:
    # the shape of a real AWS access key id (AKIA + 16), made up on each run
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))


@pytest.fixture(scope="session")
def end_to_end(tmp_path_factory) -> EndToEnd:
    """The on-prem and transformation DAGs run once with `airflow dags test` over the known fleet, with
    made-up AWS credentials and an aws_default Connection in the environment, as a worker would have."""
    root = tmp_path_factory.mktemp("e2e")
    home = root / "airflow-home"
    home.mkdir()
    migrate_airflow(home)
    p = Pipeline(root, home)
    secret = f"greenops-test-secret-{secrets.token_hex(12)}"
    access_key = _fake_access_key()
    p.env.update({
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AIRFLOW_CONN_AWS_DEFAULT": f'{{"conn_type": "aws", "login": "{access_key}", "password": "{secret}"}}',
        "GREENOPS_TASK_RETRIES": "0",
    })
    e = EndToEnd(p, home, secret, access_key, time.time(), [])
    for dag_id in ("greenops_onprem", "greenops_transform"):
        result = p.run(dag_id)
        e.outputs.append(result.stdout + result.stderr)
        assert_success(result)
    return e
