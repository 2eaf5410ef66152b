"""Consumption API: the real azure-mgmt-consumption SDK over HTTP against a local ARM server on
127.0.0.1 (tests/support/azure_server.py), serving the Azure REST API examples: two pages joined by
nextLink, a legacy and a modern item, the example whose billing period ends before it starts
(quarantined), throttling waited out as the consumption header asks, and a persistent 5xx that
fails without touching the loaded days."""

from __future__ import annotations

import copy
import time
from datetime import date

import duckdb
import pytest
from azure.core.exceptions import HttpResponseError

from greenops import ingest_azure
from greenops.azure_client import ScopeRateLimiter, rate_key, scope_of_url
from greenops.settings import get_settings, parse_azure_scopes
from greenops.sources import azure_consumption as consumption
from support.azure_server import (
    ConsumptionServer, StaticTokenCredential, rest_example_items, server_error, throttled, unavailable, usage_page,
)

SCOPE = "/subscriptions/00000000-0000-0000-0000-000000000000"
DAY = date(2019, 4, 10)  # the legacy example's usage day (2019-04-09) is in this run's window


def _rows(settings, sql):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture()
def azure_env(settings_env, monkeypatch):
    for name in ("AIRFLOW_CTX_DAG_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("GREENOPS_AZURE_SCOPES", SCOPE)
    monkeypatch.setenv("GREENOPS_AZURE_MAX_ATTEMPTS", "3")

    def use(server: ConsumptionServer):
        monkeypatch.setenv("GREENOPS_AZURE_ARM_ENDPOINT", server.url)
        return get_settings()

    return use


@pytest.fixture()
def items(external):
    return rest_example_items(external)


def _modern_fixed(modern):
    """The modern example with a coherent billing period and a usage day in the run's window."""
    item = copy.deepcopy(modern)
    item["name"] = "usageDetails_modern_ok"
    item["properties"].update(date="2019-04-10T00:00:00.0000000Z", billingPeriodStartDate="2019-04-01T00:00:00.0000000Z",
                              billingPeriodEndDate="2019-04-30T00:00:00.0000000Z")
    return item


def _legacy_with(legacy, **properties):
    item = copy.deepcopy(legacy)
    item["properties"].update(properties)
    return item


# --- windows and settings ---------------------------------------------------------------------


def test_request_window_chunks_and_filter():
    assert consumption.request_window(date(2026, 11, 20), 3) == (date(2026, 11, 17), date(2026, 11, 20))
    # the first five days of a month re-pull the whole previous month, in one request per month
    first, last = consumption.request_window(date(2026, 3, 5), 3)
    assert (first, last) == (date(2026, 2, 1), date(2026, 3, 5))
    assert consumption.chunks(first, last) == [(date(2026, 2, 1), date(2026, 2, 28)), (date(2026, 3, 1), date(2026, 3, 5))]
    assert consumption.request_window(date(2026, 1, 1), 0) == (date(2025, 12, 1), date(2026, 1, 1))
    assert consumption.request_window(date(2026, 3, 6), 3) == (date(2026, 3, 3), date(2026, 3, 6))
    assert consumption.date_filter(date(2026, 3, 1), date(2026, 3, 5)) == (
        "properties/usageStart ge '2026-03-01' and properties/usageEnd le '2026-03-05'")


def test_scope_setting():
    assert parse_azure_scopes("/subscriptions/a, providers/Microsoft.Billing/billingAccounts/1234:56789,/subscriptions/A") == (
        "/subscriptions/a", "/providers/Microsoft.Billing/billingAccounts/1234:56789")
    with pytest.raises(ValueError, match="GREENOPS_AZURE_SCOPES"):
        parse_azure_scopes("/resourceGroups/x")


# --- loads through the local ARM server --------------------------------------------------------


def test_two_pages_legacy_and_modern_items_with_quarantine(azure_env, items):
    legacy, broken_modern = items["legacy"], items["modern"]
    # values the SDK cannot deserialise reach us as text (its models are lazy): quarantined, page kept
    bad_date = _legacy_with(legacy, date="2019-04-45T00:00:00Z")
    bad_cost = _legacy_with(legacy, cost="n/a")
    credential = StaticTokenCredential()
    with ConsumptionServer([usage_page([legacy, bad_date, bad_cost], next_token="page-2"),
                            usage_page([broken_modern, _modern_fixed(broken_modern)])]) as server:
        s = azure_env(server)
        summary = ingest_azure.ingest_azure_consumption(DAY, load_id="run-1", settings=s, credential=credential)

    assert summary == {"window_start": "2019-04-07", "window_end": "2019-04-10", "days": ["2019-04-07", "2019-04-10"],
                       "scopes": [SCOPE], "pages": 2, "requests": 2, "rows": 2, "rows_by_kind": {"legacy": 1, "modern": 1},
                       "quarantined": 3, "retry_waits_s": [], "rate_limit_waits_s": []}
    first, second = server.requests
    assert first.path == f"{SCOPE}/providers/Microsoft.Consumption/usageDetails"
    assert first.query["$filter"] == ["properties/usageStart ge '2019-04-07' and properties/usageEnd le '2019-04-10'"]
    assert first.query["$expand"] == ["properties/meterDetails,properties/additionalInfo"]
    assert first.query["api-version"] == ["2024-08-01"]
    assert second.query["$skiptoken"] == ["page-2"] and second.query["$filter"] == first.query["$filter"]
    assert first.headers["authorization"] == "Bearer test-token" and credential.scopes == (f"{server.url}/.default",)

    rows = _rows(s, """select kind, usage_date::varchar, subscription_id, resource_id, resource_location, quantity,
        cost_billing_currency, billing_currency, cost_usd, tags, billing_period_start_date::varchar,
        billing_period_end_date::varchar, charge_type, _source_file, _source_line, _load_id
        from raw.azure_usage_details order by kind""")
    assert rows == [
        ("legacy", "2019-04-09", "00000000-0000-0000-0000-000000000000",
         "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Resource-Group-westus/providers/"
         "Microsoft.ClassicStorage/storageAccounts/ResourceName1", "uswest", 0.000036, 0.000001980949998, "CAD",
         None,  # legacy items carry no USD cost, and this one is billed in CAD
         '{"dev":"tools","env":"newcrp"}', "2019-04-01", "2019-04-30", "Usage",
         f"azure-consumption:{SCOPE}/2019-04-07..2019-04-10#page1", 1, "run-1"),
        ("modern", "2019-04-10", "00000000-0000-0000-0000-000000000000",  # modern subscriptionGuid
         "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Resource Group 1/providers/"
         "Microsoft.Storage/storageAccounts/Resource Name 1",  # modern instanceName
         "USEast", 0.7329, 1.84763819095477, "USD", 1.84763819095477, '{"dev":"tools","env":"newcrp"}',
         "2019-04-01", "2019-04-30", "Usage", f"azure-consumption:{SCOPE}/2019-04-07..2019-04-10#page2", 2, "run-1"),
    ]
    quarantined = _rows(s, """select partition_date::varchar, reason, _source_file, _source_line from raw.quarantine
        where source = 'azure_usage_details' order by _source_file, _source_line""")
    page1, page2 = (f"azure-consumption:{SCOPE}/2019-04-07..2019-04-10#page{n}" for n in (1, 2))
    assert quarantined == [
        ("2019-04-10", "unparseable usage date: 2019-04-45T00:00:00Z", page1, 2),
        ("2019-04-09", "cost_billing_currency is not a number: n/a", page1, 3),
        # the REST example's own inconsistency: billed 2023-03-01 .. 2019-10-31
        ("2019-04-10", "billing period ends before it starts: 2023-03-01T00:00:00+00:00 .. 2019-10-31T00:00:00+00:00", page2, 1),
    ]


def test_early_month_window_is_pulled_per_scope_and_month(azure_env, items, monkeypatch):
    account = "/providers/Microsoft.Billing/billingAccounts/1234:56789"
    monkeypatch.setenv("GREENOPS_AZURE_SCOPES", f"{SCOPE},{account}")
    modern = _modern_fixed(items["modern"])
    modern["properties"]["date"] = "2019-05-01T00:00:00.0000000Z"
    # run for 2019-05-02: the whole of April is pulled again, April and May asked separately
    with ConsumptionServer([usage_page([items["legacy"]]), usage_page([]), usage_page([]), usage_page([modern])]) as server:
        s = azure_env(server)
        summary = ingest_azure.ingest_azure_consumption(date(2019, 5, 2), settings=s, credential=StaticTokenCredential())
    assert (summary["window_start"], summary["window_end"], summary["requests"], summary["rows"]) == ("2019-04-01", "2019-05-02", 4, 2)
    april = consumption.date_filter(date(2019, 4, 1), date(2019, 4, 30))
    may = consumption.date_filter(date(2019, 5, 1), date(2019, 5, 2))
    assert [(r.path.split("/providers/Microsoft.Consumption")[0], r.query["$filter"][0]) for r in server.requests] == [
        (SCOPE, april), (SCOPE, may), (account, april), (account, may)]
    assert _rows(s, "select scope, kind, usage_date::varchar from raw.azure_usage_details order by usage_date") == [
        (SCOPE, "legacy", "2019-04-09"), (account, "modern", "2019-05-01")]


def test_throttling_waits_as_the_consumption_header_and_retry_after_say(azure_env, items, monkeypatch):
    monkeypatch.setenv("GREENOPS_AZURE_RETRY_AFTER_MAX_S", "1.5")
    # 429 with only x-ms-ratelimit-microsoft.consumption-retry-after: 1 (azure-core alone would ignore it),
    # then 503 with Retry-After: 60, capped by the setting to 1.5 s, then the page
    with ConsumptionServer([throttled("1"), unavailable("60"), usage_page([items["legacy"]])]) as server:
        s = azure_env(server)
        started = time.monotonic()
        summary = ingest_azure.ingest_azure_consumption(DAY, settings=s, credential=StaticTokenCredential())
        elapsed = time.monotonic() - started
    assert summary["retry_waits_s"] == [1.0, 1.5]
    assert (summary["requests"], summary["pages"], summary["rows"]) == (3, 1, 1)
    arrivals = [r.at for r in server.requests]
    assert arrivals[1] - arrivals[0] >= 1.0 and arrivals[2] - arrivals[1] >= 1.5
    assert elapsed >= 2.5


def test_a_persistent_5xx_fails_and_leaves_the_loaded_days(azure_env, items, monkeypatch):
    monkeypatch.setenv("GREENOPS_AZURE_MAX_ATTEMPTS", "2")
    with ConsumptionServer([usage_page([items["legacy"]])]) as server:
        s = azure_env(server)
        ingest_azure.ingest_azure_consumption(DAY, load_id="good", settings=s, credential=StaticTokenCredential())
    query = "select usage_date, cost_billing_currency, _load_id from raw.azure_usage_details"
    before = _rows(s, query)
    assert before and before[0][2] == "good"

    # page 1 arrives, page 2 keeps failing: nothing may be written
    changed = _legacy_with(items["legacy"], cost=99.0)
    with ConsumptionServer([usage_page([changed], next_token="page-2"), server_error()]) as server:
        s = azure_env(server)
        with pytest.raises(HttpResponseError, match="Internal"):
            ingest_azure.ingest_azure_consumption(DAY, load_id="bad", settings=s, credential=StaticTokenCredential())
    assert len(server.requests) == 3  # page 1, then page 2 twice (GREENOPS_AZURE_MAX_ATTEMPTS=2)
    assert server.requests[2].query["$skiptoken"] == ["page-2"]
    assert _rows(s, query) == before


# --- the rate limiter ---------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_per_scope_rate_limits():
    assert scope_of_url("https://management.azure.com/subscriptions/S1/providers/Microsoft.Consumption/usageDetails?x=1") == "subscriptions/S1"
    assert rate_key("subscriptions/S1/resourceGroups/rg") == ("subscription", "subscriptions/s1")
    assert rate_key("providers/Microsoft.Billing/billingAccounts/1234:56789/billingProfiles/p") == (
        "billing_account", "billingAccounts/1234:56789")
    assert rate_key("providers/Microsoft.Management/managementGroups/mg")[0] == "management_group"

    clock = FakeClock()
    limiter = ScopeRateLimiter(clock=clock, sleep=clock.sleep)
    account = "providers/Microsoft.Billing/billingAccounts/1234:56789"
    for _ in range(6):  # 6 calls a minute per billing account go straight through
        limiter.acquire(account)
        clock.now += 1
    limiter.acquire("subscriptions/S1")  # another scope has its own budget
    assert clock.slept == []
    limiter.acquire(account)  # the 7th within the minute waits for the first to age out
    assert clock.slept == [54.0] and limiter.calls == 8
    for _ in range(9):
        limiter.acquire("subscriptions/S1")
    assert clock.slept == [54.0]  # 10 a minute per subscription
    limiter.acquire("subscriptions/s1")
    assert len(clock.slept) == 2


# --- credentials ------------------------------------------------------------------------------


def test_credentials_connection_inside_a_task_else_the_default_chain(settings_env, monkeypatch):
    from azure.identity import ClientSecretCredential, DefaultAzureCredential, ManagedIdentityCredential

    from greenops.azure_client import azure_credential

    monkeypatch.delenv("AIRFLOW_CTX_DAG_ID", raising=False)
    assert isinstance(azure_credential(get_settings()), DefaultAzureCredential)
    # inside a task (the runner exports AIRFLOW_CTX_*): the azure_default Connection, here from the environment
    monkeypatch.setenv("AIRFLOW_CONN_AZURE_DEFAULT",
                       '{"conn_type": "azure", "login": "app-id", "password": "app-secret", "extra": {"tenantId": "tenant-1"}}')
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "greenops_azure")
    credential = azure_credential(get_settings())
    assert isinstance(credential, ClientSecretCredential)
    monkeypatch.setenv("GREENOPS_AZURE_CREDENTIAL", "managed_identity")
    assert isinstance(azure_credential(get_settings()), ManagedIdentityCredential)
    monkeypatch.setenv("GREENOPS_AZURE_CREDENTIAL", "connection")
    monkeypatch.delenv("AIRFLOW_CONN_AZURE_DEFAULT")
    with pytest.raises(RuntimeError, match="azure_default"):
        azure_credential(get_settings())
