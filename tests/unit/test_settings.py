"""Settings: a malformed number fails with the setting's name; dbt's environment carries its target."""

import pytest

from greenops.settings import dbt_env, get_settings, number_setting


@pytest.mark.parametrize("value", ["10m", "-1", "nan", "inf"])
def test_a_number_setting_that_is_not_a_number_0_or_more_names_itself(monkeypatch, value):
    monkeypatch.setenv("GREENOPS_LOCK_WAIT_S", value)
    with pytest.raises(ValueError, match=r"setting GREENOPS_LOCK_WAIT_S="):
        number_setting("GREENOPS_LOCK_WAIT_S", 600.0)


def test_an_unset_or_empty_number_setting_is_its_default(monkeypatch):
    monkeypatch.delenv("GREENOPS_LOCK_WAIT_S", raising=False)
    assert number_setting("GREENOPS_LOCK_WAIT_S", 600.0) == 600.0
    monkeypatch.setenv("GREENOPS_LOCK_WAIT_S", "")
    assert number_setting("GREENOPS_LOCK_WAIT_S", 600.0) == 600.0
    monkeypatch.setenv("GREENOPS_LOCK_WAIT_S", "30")
    assert number_setting("GREENOPS_LOCK_WAIT_S", 600.0) == 30.0


def test_every_dbt_command_gets_the_warehouses_target(monkeypatch):
    # the freshness check and `dbt parse` run dbt outside Cosmos: profiles.yml falls back to duckdb
    monkeypatch.delenv("GREENOPS_DBT_TARGET", raising=False)
    monkeypatch.setenv("GREENOPS_WAREHOUSE_KIND", "bigquery")
    monkeypatch.setenv("GREENOPS_BQ_PROJECT", "greenops-test")
    assert dbt_env(get_settings())["GREENOPS_DBT_TARGET"] == "bigquery"
    monkeypatch.setenv("GREENOPS_WAREHOUSE_KIND", "duckdb")
    assert dbt_env(get_settings())["GREENOPS_DBT_TARGET"] == "duckdb"
    monkeypatch.setenv("GREENOPS_MAX_POWER_GAP_S", "-5")
    with pytest.raises(ValueError, match="GREENOPS_MAX_POWER_GAP_S='-5' must be a number, 0 or more"):
        get_settings()


def test_a_service_account_without_its_key_file_is_refused(monkeypatch):
    monkeypatch.setenv("GREENOPS_BQ_METHOD", "service-account")
    monkeypatch.delenv("GREENOPS_BQ_KEYFILE", raising=False)
    with pytest.raises(ValueError, match="GREENOPS_BQ_METHOD=service-account needs GREENOPS_BQ_KEYFILE"):
        get_settings()
    monkeypatch.setenv("GREENOPS_BQ_KEYFILE", "/secrets/greenops-sa.json")
    assert get_settings().bq_keyfile == "/secrets/greenops-sa.json"
