"""docker-compose.yml cannot be started here (no Docker engine): validate it statically and honestly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).with_name("airflow")
AIRFLOW_3_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_services_and_commands_are_airflow_3s(compose):
    services = compose["services"]
    assert set(AIRFLOW_3_SERVICES) | {"postgres", "airflow-init"} == set(services)
    for name, command in AIRFLOW_3_SERVICES.items():
        assert services[name]["command"] == command
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert "webserver" not in repr(compose)  # Airflow 2's UI process is gone in 3


@pytest.mark.parametrize("command", sorted(set(AIRFLOW_3_SERVICES.values())))
def test_each_command_exists_in_the_installed_airflow(command):
    result = subprocess.run([str(AIRFLOW), command, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_init_creates_the_pool_and_the_manifest(compose):
    init = " ".join(compose["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in init
    assert "airflow pools set greenops_warehouse 1" in init
    assert "dbt parse" in init


def test_every_bind_mount_exists_and_named_volumes_are_declared(compose):
    declared = set(compose.get("volumes") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
            assert target.startswith("/")


def test_image_builds_from_our_pinned_requirements(compose):
    dockerfile = (REPO / "Dockerfile").read_text()
    assert compose["x-airflow-common"]["build"] == "."
    assert "COPY requirements.txt" in dockerfile and "pip install --no-cache-dir -r /requirements.txt" in dockerfile
    pinned = next(line for line in (REPO / "requirements.txt").read_text().splitlines() if line.startswith("apache-airflow=="))
    assert pinned.split("==")[1].split()[0] in dockerfile.split("\n")[2]  # the base image is the pinned Airflow


def test_every_container_reads_the_settings_file_and_parses_dbt_for_the_warehouse_kind(compose):
    # the settings (README "Settings") reach the containers from greenops.env, optional and git-ignored;
    # the environment block holds only the containers' own paths, which win over that file
    common = compose["x-airflow-common"]
    assert common["env_file"] == [{"path": "greenops.env", "required": False}]
    assert "greenops.env" in (REPO / ".gitignore").read_text().split()
    greenops = {k: v for k, v in common["environment"].items() if k.startswith("GREENOPS_")}
    assert set(greenops) == {"GREENOPS_HOME", "GREENOPS_FLEET_FILE"}
    for name, service in compose["services"].items():
        if name != "postgres":
            assert service["env_file"] == common["env_file"], name
    # the manifest Cosmos renders from is parsed with the warehouse's dbt target (BigQuery when set so);
    # $$ is compose's escape: the container's shell expands the variables
    init = " ".join(compose["services"]["airflow-init"]["command"])
    assert '--target "$${GREENOPS_DBT_TARGET:-$${GREENOPS_WAREHOUSE_KIND:-duckdb}}"' in init
