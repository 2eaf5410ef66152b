"""Azure credentials and the Consumption API client, built in one place.

Credentials are never settings and never logged. ``azure_credential()`` picks one of azure-identity's
credentials by ``GREENOPS_AZURE_CREDENTIAL``:

- ``auto`` (default): inside an Airflow task (the runner exports ``AIRFLOW_CTX_DAG_ID``), a
  ``ClientSecretCredential`` from the Airflow Connection ``settings.AZURE_CONN_ID`` (``azure_default``:
  login = client id, password = client secret, extra ``tenantId``) when it exists and has a secret;
  otherwise ``DefaultAzureCredential`` (environment, workload identity, managed identity, Azure CLI...);
- ``connection``: the Connection, and fail when it is missing or has no secret;
- ``managed_identity``: ``ManagedIdentityCredential`` (``GREENOPS_AZURE_MANAGED_IDENTITY_CLIENT_ID``
  for a user-assigned identity);
- ``default``: ``DefaultAzureCredential`` only.

Airflow and azure-identity are imported lazily, so importing this module costs nothing at DAG parse time.

``consumption_client()`` gives a ``ConsumptionManagementClient`` on ``GREENOPS_AZURE_ARM_ENDPOINT`` with:

- ``ConsumptionRetryPolicy``: azure-core's ``RetryPolicy`` reads ``Retry-After``, ``retry-after-ms``
  and ``x-ms-retry-after-ms`` only, so on a 429 it ignores the Consumption API's own
  ``x-ms-ratelimit-microsoft.consumption-retry-after`` and backs off blindly. This subclass reads that
  header too (and ``Retry-After`` on 503), waits what it says, capped at
  ``GREENOPS_AZURE_RETRY_AFTER_MAX_S``, and records every wait; ``GREENOPS_AZURE_MAX_ATTEMPTS``
  attempts per request in all;
- ``ScopeRateLimitPolicy``: a per-retry policy keeping each scope under the published call rates
  (about 10 calls a minute per subscription, 6 per billing account, 2 per management group), so a
  run does not spend its attempts on 429s.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from greenops.settings import AZURE_CONN_ID, Settings, get_settings

log = logging.getLogger(__name__)

CONSUMPTION_RETRY_AFTER = "x-ms-ratelimit-microsoft.consumption-retry-after"

#: Calls per minute per scope (Microsoft's published Consumption API limits; they may change).
CALLS_PER_MINUTE = {"subscription": 10, "billing_account": 6, "management_group": 2, "other": 6}

_SCOPE_IN_URL = re.compile(r"^/*(?P<scope>.*?)/providers/Microsoft\.Consumption/", re.IGNORECASE)
_SUBSCRIPTION = re.compile(r"^/*subscriptions/(?P<id>[^/]+)", re.IGNORECASE)
_BILLING_ACCOUNT = re.compile(r"^/*providers/Microsoft\.Billing/billingAccounts/(?P<id>[^/]+)", re.IGNORECASE)
_MANAGEMENT_GROUP = re.compile(r"^/*providers/Microsoft\.Management/managementGroups/(?P<id>[^/]+)", re.IGNORECASE)


# ------------------------------------------------------------------------------------------------
# Credentials


def _in_airflow_task() -> bool:
    # The Airflow task runner exports the run's context as AIRFLOW_CTX_* before executing a task.
    return bool(os.environ.get("AIRFLOW_CTX_DAG_ID"))


def _credential_from_connection(conn_id: str):
    """A ClientSecretCredential (or a user-assigned ManagedIdentityCredential) from an Airflow
    Connection, or None when Airflow, the Connection or its secret is missing."""
    try:
        from airflow.sdk import BaseHook
    except ImportError:
        log.info("Airflow is not installed: no Connection %s to read", conn_id)
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or no metadata database / supervisor
        log.info("no Airflow Connection %s (%s): using the default credential chain", conn_id, type(exc).__name__)
        return None
    extra = conn.extra_dejson or {}
    tenant = extra.get("tenantId") or extra.get("tenant_id")
    if conn.login and conn.password and tenant:
        from azure.identity import ClientSecretCredential

        log.info("Azure credential: client secret from Airflow Connection %s", conn_id)
        return ClientSecretCredential(tenant_id=tenant, client_id=conn.login, client_secret=conn.password)
    if extra.get("managed_identity_client_id"):
        from azure.identity import ManagedIdentityCredential

        log.info("Azure credential: user-assigned managed identity named by Airflow Connection %s", conn_id)
        return ManagedIdentityCredential(client_id=extra["managed_identity_client_id"])
    log.info("Airflow Connection %s has no client id, secret and tenantId: using the default credential chain", conn_id)
    return None


def azure_credential(settings: Settings | None = None):
    """The azure-identity credential ``GREENOPS_AZURE_CREDENTIAL`` asks for (see the module docstring)."""
    s = settings or get_settings()
    mode = s.azure_credential
    if mode == "connection" or (mode == "auto" and _in_airflow_task()):
        credential = _credential_from_connection(AZURE_CONN_ID)
        if credential is not None:
            return credential
        if mode == "connection":
            raise RuntimeError(f"GREENOPS_AZURE_CREDENTIAL=connection but Airflow Connection {AZURE_CONN_ID} is missing "
                               "or has no client id, client secret and tenantId")
    if mode == "managed_identity":
        from azure.identity import ManagedIdentityCredential

        log.info("Azure credential: managed identity")
        return ManagedIdentityCredential(client_id=s.azure_managed_identity_client_id)
    from azure.identity import DefaultAzureCredential

    log.info("Azure credential: DefaultAzureCredential")
    kwargs = {"managed_identity_client_id": s.azure_managed_identity_client_id} if s.azure_managed_identity_client_id else {}
    return DefaultAzureCredential(**kwargs)


# ------------------------------------------------------------------------------------------------
# Throttling: retry policy and per-scope rate limiter


def _retry_policy_class():
    from azure.core.pipeline.policies import RetryPolicy

    class ConsumptionRetryPolicy(RetryPolicy):
        """azure-core's RetryPolicy that also reads the Consumption API's retry-after header.

        ``max_retry_after_s`` caps any server-requested wait. ``sleep_fn`` (default: the transport's
        sleep) does the waiting; every wait is appended to ``waits`` as ``(seconds, why)``.
        """

        def __init__(self, max_retry_after_s: float = 120.0, sleep_fn: Callable[[float], None] | None = None, **kwargs):
            super().__init__(**kwargs)
            self.max_retry_after_s = max_retry_after_s
            self.sleep_fn = sleep_fn
            self.waits: list[tuple[float, str]] = []

        def get_retry_after(self, response):
            value = response.http_response.headers.get(CONSUMPTION_RETRY_AFTER)
            seconds = None
            if value:
                try:
                    seconds = float(value)
                except ValueError:
                    log.warning("ignoring %s: %r is not a number of seconds", CONSUMPTION_RETRY_AFTER, value)
            if seconds is None:
                seconds = super().get_retry_after(response)  # Retry-After (429, 503), retry-after-ms...
            if seconds is None:
                return None
            return max(0.0, min(seconds, self.max_retry_after_s))

        def _wait(self, seconds: float, why: str, transport) -> None:
            self.waits.append((seconds, why))
            log.warning("Consumption API: waiting %.1f s before retrying (%s)", seconds, why)
            (self.sleep_fn or transport.sleep)(seconds)

        def sleep(self, settings, transport, response=None):
            if response is not None:
                seconds = self.get_retry_after(response)
                if seconds:
                    self._wait(seconds, f"HTTP {response.http_response.status_code}, server asked", transport)
                    return
            backoff = self.get_backoff_time(settings)
            if backoff > 0:
                status = getattr(getattr(response, "http_response", None), "status_code", None)
                self._wait(backoff, f"backoff after {'HTTP %s' % status if status else 'a connection error'}", transport)

    return ConsumptionRetryPolicy


def consumption_retry_policy(settings: Settings | None = None, sleep_fn: Callable[[float], None] | None = None):
    """A ``ConsumptionRetryPolicy`` with ``GREENOPS_AZURE_MAX_ATTEMPTS`` attempts in all per request."""
    s = settings or get_settings()
    retries = max(0, s.azure_max_attempts - 1)
    return _retry_policy_class()(
        max_retry_after_s=s.azure_retry_after_max_s, sleep_fn=sleep_fn,
        retry_total=retries, retry_status=retries, retry_connect=retries, retry_read=retries,
    )


def scope_of_url(url: str) -> str:
    """The scope a Consumption API URL is about: ``subscriptions/<id>`` or ``providers/.../<id>``."""
    from urllib.parse import urlparse

    m = _SCOPE_IN_URL.match(urlparse(url).path)
    return m.group("scope") if m else ""


def rate_key(scope: str) -> tuple[str, str]:
    """``(kind, key)``: which published limit applies to a scope and which counter it shares."""
    for kind, pattern, prefix in (("subscription", _SUBSCRIPTION, "subscriptions"),
                                  ("billing_account", _BILLING_ACCOUNT, "billingAccounts"),
                                  ("management_group", _MANAGEMENT_GROUP, "managementGroups")):
        if m := pattern.match(scope):
            return kind, f"{prefix}/{m.group('id').lower()}"
    return "other", scope.strip("/").lower()


@dataclass
class ScopeRateLimiter:
    """At most ``CALLS_PER_MINUTE[kind]`` calls in any 60 s per scope key (a sliding window).

    ``clock`` and ``sleep`` are injectable for tests; ``waits`` records ``(key, seconds)``.
    """

    limits: dict[str, int] = field(default_factory=lambda: dict(CALLS_PER_MINUTE))
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    window_s: float = 60.0
    calls: int = 0
    waits: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self):
        self._sent: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()

    def acquire(self, scope: str) -> None:
        kind, key = rate_key(scope)
        limit = self.limits.get(kind, self.limits["other"])
        with self._lock:
            sent = self._sent[key]
            now = self.clock()
            while sent and now - sent[0] >= self.window_s:
                sent.popleft()
            if len(sent) >= limit:
                wait = self.window_s - (now - sent[0])
                self.waits.append((key, wait))
                log.info("Consumption API: %d calls to %s in the last minute; waiting %.1f s", len(sent), key, wait)
                self.sleep(wait)
                now = self.clock()
                while sent and now - sent[0] >= self.window_s:
                    sent.popleft()
            sent.append(now)
            self.calls += 1


def _rate_limit_policy(limiter: ScopeRateLimiter):
    from azure.core.pipeline.policies import HTTPPolicy

    class ScopeRateLimitPolicy(HTTPPolicy):
        """Waits for the scope's rate limiter before every attempt (placed after the retry policy)."""

        def send(self, request):
            limiter.acquire(scope_of_url(request.http_request.url))
            return self.next.send(request)

    return ScopeRateLimitPolicy()


# ------------------------------------------------------------------------------------------------
# The client


@dataclass
class ConsumptionConnection:
    """A Consumption API client and the policies whose records a run reports."""

    client: object  # azure.mgmt.consumption.ConsumptionManagementClient
    retry_policy: object  # ConsumptionRetryPolicy
    rate_limiter: ScopeRateLimiter
    call_kwargs: dict  # per-operation options (timeouts; enforce_https=False for an http:// test endpoint)
    endpoint: str

    def close(self) -> None:
        self.client.close()


def consumption_client(settings: Settings | None = None, credential=None, sleep_fn: Callable[[float], None] | None = None,
                       rate_limiter: ScopeRateLimiter | None = None) -> ConsumptionConnection:
    """A ``ConsumptionManagementClient`` on ``GREENOPS_AZURE_ARM_ENDPOINT`` with the retry policy and
    the per-scope rate limiter above. ``credential`` defaults to ``azure_credential()``."""
    from azure.mgmt.consumption import ConsumptionManagementClient

    s = settings or get_settings()
    endpoint = s.azure_arm_endpoint.rstrip("/")
    limiter = rate_limiter or ScopeRateLimiter()
    retry = consumption_retry_policy(s, sleep_fn)
    call_kwargs: dict = {"connection_timeout": 10, "read_timeout": 300}
    if endpoint.lower().startswith("http://"):
        # Bearer tokens go over TLS only; a plain-HTTP endpoint is a local test server or emulator.
        log.warning("GREENOPS_AZURE_ARM_ENDPOINT %s is not HTTPS: sending the token in clear (test endpoints only)", endpoint)
        call_kwargs["enforce_https"] = False
    client = ConsumptionManagementClient(
        credential or azure_credential(s),
        # The client wants a subscription id; usage_details.list takes its scope explicitly and ignores it.
        subscription_id="00000000-0000-0000-0000-000000000000",
        base_url=endpoint,
        credential_scopes=[f"{endpoint}/.default"],
        retry_policy=retry,
        per_retry_policies=[_rate_limit_policy(limiter)],
    )
    return ConsumptionConnection(client, retry, limiter, call_kwargs, endpoint)
