"""Shared test set-up: paths, the real public samples, an isolated Airflow home and warehouse."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GREENOPS_SHARED_DIR", REPO.parent / "shared"))
EXTERNAL = SHARED / "fixtures" / "external"

# Airflow reads its configuration at import: point it at a throw-away home before any test imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="greenops-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_AIRFLOW_HOME))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__COSMOS__ENABLE_TELEMETRY", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def external() -> Path:
    if not EXTERNAL.exists():
        pytest.fail(f"the public samples are missing: expected {EXTERNAL} (../shared beside the repository)")
    return EXTERNAL


@pytest.fixture()
def landing(tmp_path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture()
def settings_env(tmp_path, landing, monkeypatch):
    """Point every GreenOps setting at this test's own folders and return the Settings."""
    from greenops.settings import get_settings

    monkeypatch.setenv("GREENOPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("GREENOPS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    return get_settings()


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    """One migrated Airflow metadata database for the tests that run DAGs with `airflow dags test`."""
    from support.known_fleet import migrate_airflow

    home = tmp_path_factory.mktemp("airflow-home")
    migrate_airflow(home)
    return home
