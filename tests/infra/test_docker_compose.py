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
            # SOURCE:TARGET[:MODE], where SOURCE may be ${NAME:-default}
            cut = volume.index("}") + 1 if volume.startswith("${") else volume.index(":")
            source, target = volume[:cut], volume[cut + 1:].split(":")[0]
            if source == "${GREENOPS_DATA_DIR:-./data}":  # the data folder make server-env creates
                assert target == "/opt/airflow/data"
            elif source.startswith("."):
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


def test_every_container_reads_the_settings_and_shares_what_make_server_env_writes(compose):
    # the settings (README "Settings") reach the containers from .env, optional and git-ignored; the
    # environment block holds only the containers' own paths and the shared secrets
    from greenops.server_env import SECRETS

    common = compose["x-airflow-common"]
    assert common["env_file"] == [{"path": ".env", "required": False}]
    assert ".env" in (REPO / ".gitignore").read_text().split()
    env = common["environment"]
    assert {k for k in env if k.startswith("GREENOPS_")} == {"GREENOPS_HOME"}
    for name, service in compose["services"].items():
        if name != "postgres":
            assert service["env_file"] == common["env_file"], name
    # one value of each secret for every container, and the stack refuses to start without them and
    # without the user id (${NAME:?...}): make server-env writes exactly these
    required = {k for k, v in env.items() if str(v).startswith(f"${{{k}:?")}
    assert required == set(SECRETS)
    assert common["user"].startswith("${AIRFLOW_UID:?") and common["user"].endswith("}:0")
    # the manifest Cosmos renders from is parsed with the warehouse's dbt target (BigQuery when set so);
    # $$ is compose's escape: the container's shell expands the variables
    init = " ".join(compose["services"]["airflow-init"]["command"])
    assert '--target "$${GREENOPS_DBT_TARGET:-$${GREENOPS_WAREHOUSE_KIND:-duckdb}}"' in init
