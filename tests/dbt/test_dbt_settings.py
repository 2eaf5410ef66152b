"""Settings that reach dbt: the power-gap setting from the environment, and the one power bound that
the ingestion and the energy rule share."""

from greenops.sources.common import MAX_PLAUSIBLE_POWER_W
from support.dbt_runner import dbt_compile_inline

SNIPPET = "{{ max_power_gap_s() }} {{ var('max_gpu_power_w') }}"


def test_the_power_gap_setting_reaches_dbt_and_the_power_bound_is_the_ingestions(tmp_path):
    # the settings' default (dbt_env passes GREENOPS_MAX_POWER_GAP_S=120.0), then the user's 300 s
    gap, bound = dbt_compile_inline(SNIPPET, tmp_path / "w.duckdb").split()
    assert float(gap) == 120.0 and float(bound) == MAX_PLAUSIBLE_POWER_W
    gap, _ = dbt_compile_inline(SNIPPET, tmp_path / "w.duckdb", env={"GREENOPS_MAX_POWER_GAP_S": "300"}).split()
    assert float(gap) == 300.0
