"""Run the project's dbt against a test's own warehouse file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from greenops.settings import PROJECT_ROOT, dbt_env

DBT = Path(sys.executable).with_name("dbt")


#: dbt's arguments that leave out the data and unit tests: for tests that compare the tables two
#: builds make (the data and unit tests run in the cloud flow tests and the DAG runs), a third faster.
WITHOUT_TESTS = ("--exclude", "resource_type:test", "resource_type:unit_test")


def dbt_build(warehouse: Path, *args: str, env: dict[str, str] | None = None) -> None:
    result = dbt_command(warehouse, "build", *args, env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]


def dbt_command(warehouse: Path, command: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A dbt command against ``warehouse``, its outcome returned (not asserted); ``env``: more
    environment (the run's dates as the transformation DAG passes them: settings.dbt_run_env)."""
    env = {**os.environ, **dbt_env(), "GREENOPS_WAREHOUSE": str(warehouse), **(env or {})}
    return subprocess.run([str(DBT), command, "--quiet", *args], cwd=PROJECT_ROOT / "dbt_project", env=env,
                          capture_output=True, text=True, timeout=900)


def dbt_compile_inline(sql: str, warehouse: Path, env: dict[str, str] | None = None) -> str:
    """The SQL dbt renders for an inline snippet (macros expanded) against the DuckDB profile; ``env``:
    more environment."""
    env = {**os.environ, **dbt_env(), "GREENOPS_WAREHOUSE": str(warehouse), **(env or {})}
    result = subprocess.run([str(DBT), "compile", "--quiet", "--inline", sql], cwd=PROJECT_ROOT / "dbt_project", env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return result.stdout.strip()
