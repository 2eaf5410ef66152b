"""Cost Explorer: parsing a real response, paging, estimated-then-final restatement, throttling retries,
and a failed pull leaving the loaded days alone. Real boto3 against moto or a scripted local server."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest
from botocore.exceptions import ClientError

from greenops import ingest_aws
from greenops.settings import get_settings, parse_ce_group_by
from greenops.sources import aws_cost_explorer as ce
from support.moto_server import (  # noqa: F401 (fixtures)
    SERVER_ERROR, THROTTLED, ScriptedServer, _moto_server, aws_env, moto_endpoint, queue_cost_and_usage,
    set_dummy_credentials,
)

DEFS = [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "TAG", "Key": "deployment"}]


def _group(service, deployment, cost, net=None, usage="1", unit="USD"):
    return {"Keys": [service, f"deployment${deployment}"], "Metrics": {
        "UnblendedCost": {"Amount": cost, "Unit": unit},
        "NetAmortizedCost": {"Amount": net or cost, "Unit": unit},
        "UsageQuantity": {"Amount": usage, "Unit": "N/A"}}}


def _result(day, groups, estimated):
    end = date.fromisoformat(day).toordinal() + 1
    return {"TimePeriod": {"Start": day, "End": date.fromordinal(end).isoformat()}, "Total": {},
            "Groups": groups, "Estimated": estimated}


def _page(results, token=None):
    page = {"GroupDefinitions": DEFS, "ResultsByTime": results, "DimensionValueAttributes": []}
    if token:
        page["NextPageToken"] = token
    return page


def _rows(settings, sql):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


# --- parsing ------------------------------------------------------------------------------------


def test_parses_the_real_monthly_by_service_response(external):
    doc = json.loads((external / "aws_cost_explorer_response" / "get_cost_and_usage_monthly_by_service.json").read_text())
    t = ce.parse_pages([doc], "sample")
    assert t.num_rows == 160
    by_month = {}
    for d in t.column("usage_date").to_pylist():
        by_month[d] = by_month.get(d, 0) + 1
    assert list(by_month.values()) == [23, 26, 27, 31, 27, 26]
    rows = {(r["usage_date"], r["group1_value"]): r for r in t.to_pylist()}
    config = rows[(date(2023, 4, 1), "AWS Config")]
    assert config["unblended_cost_usd"] == 39.017 and config["unblended_cost_unit"] == "USD"
    assert config["period_end_date"] == date(2023, 5, 1) and config["is_estimated"] is False
    assert config["group1_type"] == "DIMENSION" and config["group1_key"] == "SERVICE" and config["group2_type"] is None
    assert rows[(date(2023, 4, 1), "AWS Key Management Service")]["unblended_cost_usd"] == 39.4826997565
    assert rows[(date(2023, 4, 1), "AWS CodeArtifact")]["unblended_cost_usd"] == 0.0051256592
    # the sample asked for UnblendedCost only: the other metrics stay NULL rather than 0
    assert config["net_amortized_cost_usd"] is None and config["usage_quantity"] is None


def test_tag_keys_are_split_and_amounts_read_as_decimals():
    page = _page([_result("2026-11-20", [
        _group("Amazon Elastic Compute Cloud - Compute", "chat-70b", "12.3456789012", usage="24"),
        _group("Amazon Elastic Compute Cloud - Compute", "", "1.5E-3"),
    ], True)])
    rows = ce.parse_pages([page]).to_pylist()
    assert [(r["group2_key"], r["group2_value"]) for r in rows] == [("deployment", "chat-70b"), ("deployment", None)]
    assert rows[0]["unblended_cost_usd"] == 12.3456789012 and rows[0]["usage_quantity"] == 24.0
    assert rows[1]["unblended_cost_usd"] == 0.0015 and rows[1]["is_estimated"] is True
    bad = _page([_result("2026-11-20", [_group("S3", "x", "twelve")], False)])
    with pytest.raises(ValueError, match="not a decimal number"):
        ce.parse_pages([bad])


def test_group_by_setting(monkeypatch, settings_env):
    assert get_settings().aws_ce_group_by == (("DIMENSION", "SERVICE"), ("TAG", "deployment"))
    assert parse_ce_group_by("dimension:LINKED_ACCOUNT, COST_CATEGORY:team") == (("DIMENSION", "LINKED_ACCOUNT"), ("COST_CATEGORY", "team"))
    for bad in ("SERVICE", "TAG:a,TAG:b,TAG:c", "LABEL:x"):
        with pytest.raises(ValueError, match="GREENOPS_AWS_CE_GROUP_BY"):
            parse_ce_group_by(bad)
    assert ce.request_window(date(2026, 11, 20), 3) == (date(2026, 11, 17), date(2026, 11, 21))


# --- loads through moto ---------------------------------------------------------------------------


def test_two_pages_then_estimated_days_restated(aws_env, settings_env):
    # run for 2026-11-20: window 17..20 in two pages; 19 and 20 are still estimated
    queue_cost_and_usage(aws_env,
        _page([_result("2026-11-17", [_group("EC2", "chat-70b", "10.00")], False),
               _result("2026-11-18", [_group("EC2", "chat-70b", "11.00")], False)], token="page-2"),
        _page([_result("2026-11-19", [_group("EC2", "chat-70b", "5.00"), _group("EC2", "", "0.50")], True),
               _result("2026-11-20", [_group("EC2", "chat-70b", "1.00")], True)]))
    first = ingest_aws.ingest_aws_cost_explorer(date(2026, 11, 20), settings=settings_env)
    assert first == {"window_start": "2026-11-17", "window_end": "2026-11-20", "days": 4, "rows": 5, "estimated_rows": 3,
                     "ce_requests": 2, "ce_request_cost_usd": 0.02, "ce_retries": 0}
    assert _rows(settings_env, "select usage_date::varchar, group2_value, unblended_cost_usd, is_estimated from raw.aws_ce_costs_daily "
                 "order by 1, 2 nulls first") == [
        ("2026-11-17", "chat-70b", 10.0, False), ("2026-11-18", "chat-70b", 11.0, False),
        ("2026-11-19", None, 0.5, True), ("2026-11-19", "chat-70b", 5.0, True), ("2026-11-20", "chat-70b", 1.0, True)]

    # next day's run (window 18..21) brings the final numbers: the estimated rows are replaced, not added to
    queue_cost_and_usage(aws_env, _page([
        _result("2026-11-18", [_group("EC2", "chat-70b", "11.00")], False),
        _result("2026-11-19", [_group("EC2", "chat-70b", "5.25")], False),
        _result("2026-11-20", [_group("EC2", "chat-70b", "1.40")], False),
        _result("2026-11-21", [_group("EC2", "chat-70b", "0.90")], True)]))
    second = ingest_aws.ingest_aws_cost_explorer(date(2026, 11, 21), settings=settings_env)
    assert (second["rows"], second["estimated_rows"], second["ce_requests"]) == (4, 1, 1)
    assert _rows(settings_env, "select usage_date::varchar, group2_value, unblended_cost_usd, is_estimated from raw.aws_ce_costs_daily "
                 "order by 1, 2 nulls first") == [
        ("2026-11-17", "chat-70b", 10.0, False),  # outside the second window: kept from the first run
        ("2026-11-18", "chat-70b", 11.0, False), ("2026-11-19", "chat-70b", 5.25, False),
        ("2026-11-20", "chat-70b", 1.4, False), ("2026-11-21", "chat-70b", 0.9, True)]
    assert _rows(settings_env, "select count(distinct _load_id) from raw.aws_ce_costs_daily where usage_date >= '2026-11-18'") == [(1,)]


# --- retries and failures (a scripted local endpoint) ---------------------------------------------


def _ok(results, token=None):
    return (200, _page(results, token))


@pytest.fixture()
def scripted_env(monkeypatch, tmp_path, settings_env):
    set_dummy_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("GREENOPS_AWS_MAX_ATTEMPTS", "2")

    def use(server: ScriptedServer):
        monkeypatch.setenv("GREENOPS_AWS_ENDPOINT_URL", server.url)
        return get_settings()

    return use


def test_a_throttled_call_is_retried(scripted_env):
    ok = _ok([_result("2026-11-20", [_group("EC2", "chat-70b", "2.00")], True)])
    with ScriptedServer([THROTTLED, ok]) as server:
        s = scripted_env(server)
        summary = ingest_aws.ingest_aws_cost_explorer(date(2026, 11, 20), settings=s)
    assert server.requests == 2  # the throttled attempt and its retry
    assert server.bodies[0] == server.bodies[1]
    assert server.bodies[0]["GroupBy"] == DEFS and server.bodies[0]["Granularity"] == "DAILY"
    assert sorted(server.bodies[0]["Metrics"]) == ["NetAmortizedCost", "UnblendedCost", "UsageQuantity"]
    assert (summary["ce_requests"], summary["ce_retries"], summary["rows"]) == (1, 1, 1)


def test_a_pull_that_keeps_failing_leaves_the_loaded_days(scripted_env):
    first = _ok([_result("2026-11-20", [_group("EC2", "chat-70b", "2.00")], True)])
    with ScriptedServer([first]) as server:
        s = scripted_env(server)
        ingest_aws.ingest_aws_cost_explorer(date(2026, 11, 20), settings=s)
    before = _rows(s, "select usage_date, unblended_cost_usd, _load_id from raw.aws_ce_costs_daily")

    # page 1 arrives, page 2 fails on every attempt: nothing may be written
    page1 = _ok([_result("2026-11-20", [_group("EC2", "chat-70b", "3.00")], False)], token="p2")
    with ScriptedServer([page1, SERVER_ERROR]) as server:
        s = scripted_env(server)
        with pytest.raises(ClientError, match="InternalServerError"):
            ingest_aws.ingest_aws_cost_explorer(date(2026, 11, 20), settings=s)
    assert server.requests == 3  # page 1, then page 2 twice (GREENOPS_AWS_MAX_ATTEMPTS=2)
    assert server.bodies[1]["NextPageToken"] == "p2"
    assert _rows(s, "select usage_date, unblended_cost_usd, _load_id from raw.aws_ce_costs_daily") == before

    with ScriptedServer([THROTTLED]) as server:
        s = scripted_env(server)
        with pytest.raises(ClientError, match="LimitExceededException"):
            ingest_aws.ingest_aws_cost_explorer(date(2026, 11, 20), settings=s)
    assert server.requests == 2
    assert _rows(s, "select usage_date, unblended_cost_usd, _load_id from raw.aws_ce_costs_daily") == before


# --- credentials -------------------------------------------------------------------------------------


def test_credentials_from_the_airflow_connection_inside_a_task_else_the_default_chain(monkeypatch, tmp_path, settings_env):
    from greenops.aws_client import aws_client, aws_session

    set_dummy_credentials(monkeypatch, tmp_path)
    # outside a task: boto3's default chain (here the environment)
    assert aws_session().get_credentials().access_key == "testing"
    # inside a task (the runner exports AIRFLOW_CTX_*): the aws_default Connection, here from the environment
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", '{"conn_type": "aws", "login": "conn-key", "password": "conn-secret"}')
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "greenops_aws")
    assert aws_session().get_credentials().access_key == "conn-key"
    client = aws_client("ce")
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 5}
