"""Settings that reach dbt: the power-gap setting from the environment, the one power bound that the
ingestion and the energy rule share, and the BigQuery cost cap; a malformed value fails, naming it."""

from greenops.sources.common import MAX_PLAUSIBLE_POWER_W
from support.dbt_runner import dbt_command, dbt_compile_inline

SNIPPET = "{{ max_power_gap_s() }} {{ var('max_gpu_power_w') }}"


def test_the_power_gap_setting_reaches_dbt_and_the_power_bound_is_the_ingestions(tmp_path):
    # the settings' default (dbt_env passes GREENOPS_MAX_POWER_GAP_S=120.0), then the user's 300 s
    gap, bound = dbt_compile_inline(SNIPPET, tmp_path / "w.duckdb").split()
    assert float(gap) == 120.0 and float(bound) == MAX_PLAUSIBLE_POWER_W
    gap, _ = dbt_compile_inline(SNIPPET, tmp_path / "w.duckdb", env={"GREENOPS_MAX_POWER_GAP_S": "300"}).split()
    assert float(gap) == 300.0
    # dbt run by hand, without the settings' check: "2m" fails, naming the setting (a float filter made it 0)
    bad = dbt_command(tmp_path / "w.duckdb", "compile", "--inline", SNIPPET, env={"GREENOPS_MAX_POWER_GAP_S": "2m"})
    assert bad.returncode != 0
    assert "max_power_gap_s (GREENOPS_MAX_POWER_GAP_S) must be a number of seconds, 0 or more: 2m" in bad.stdout + bad.stderr


def test_a_bigquery_cost_cap_that_is_not_a_number_of_bytes_fails_the_profile(tmp_path):
    # "10GB" became 0, which BigQuery reads as no cap at all
    env = {"GREENOPS_DBT_TARGET": "bigquery", "GREENOPS_BQ_PROJECT": "greenops-test", "GREENOPS_BQ_MAX_BYTES_BILLED": "10GB"}
    # a target folder of its own: the project's (and its parse of the DuckDB profile) is left alone
    bad = dbt_command(tmp_path / "w.duckdb", "compile", "--target-path", str(tmp_path / "target"), "--inline", "select 1", env=env)
    assert bad.returncode != 0
    assert "GREENOPS_BQ_MAX_BYTES_BILLED must be a whole number of bytes" in bad.stdout + bad.stderr
