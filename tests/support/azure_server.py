"""A local Azure Resource Manager for the Consumption API tests: the real SDK over HTTP on 127.0.0.1.

- ``ConsumptionServer``: a small ``http.server`` in a thread answering
  ``GET /<scope>/providers/Microsoft.Consumption/usageDetails?api-version=...`` from a script of
  replies (a page of items, a 429 with the consumption retry-after header, a 5xx...), in order, the
  last one repeating. A page with a ``next_token`` gets a ``nextLink`` back to the server (the same
  query plus ``$skiptoken``). Every request is recorded (path, query, headers, arrival time).
- ``StaticTokenCredential``: any object with ``get_token`` returning an ``AccessToken`` will do for
  azure-core; this one counts its calls and never reaches Microsoft Entra ID.
- ``usage_page`` and ``rest_example_items``: response bodies, and the items of the Azure REST API
  examples in the shared fixtures.

Nothing of the SDK is patched: the client is built by ``greenops.azure_client`` with ``base_url``
(setting GREENOPS_AZURE_ARM_ENDPOINT) pointed here.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from support.local_http import LocalHttpServer, QuietHandler

CONSUMPTION_RETRY_AFTER = "x-ms-ratelimit-microsoft.consumption-retry-after"


@dataclass
class Reply:
    status: int = 200
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: a page with more to come: its nextLink repeats the request's URL with $skiptoken=<next_token>,
    #: as ARM does (the SDK follows it as given).
    next_token: str | None = None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


def usage_page(items: list[dict], next_token: str | None = None) -> Reply:
    """A 200 page; with ``next_token`` its nextLink points back at the server with that $skiptoken."""
    return Reply(200, {"value": items}, next_token=next_token)


def throttled(seconds: str = "1") -> Reply:
    """429 with only the Consumption API's own retry-after header (azure-core ignores it)."""
    return Reply(429, {"error": {"code": "429", "message": "Too many requests. Please retry."}},
                 {CONSUMPTION_RETRY_AFTER: seconds})


def unavailable(retry_after: str | None = "1") -> Reply:
    return Reply(503, {"error": {"code": "ServiceUnavailable", "message": "try again later"}},
                 {"Retry-After": retry_after} if retry_after else {})


def server_error() -> Reply:
    return Reply(500, {"error": {"code": "InternalServerError", "message": "Encountered internal server error."}})


def rest_example_items(external: Path) -> dict[str, dict]:
    """The single item of each REST example: {'legacy': ..., 'modern': ...} (deep copies)."""
    folder = external / "azure_consumption_api_examples"
    out = {}
    for kind, name in (("legacy", "UsageDetailsList_legacy.json"), ("modern", "UsageDetailsListByMCABillingAccount_modern.json")):
        doc = json.loads((folder / name).read_text())
        out[kind] = copy.deepcopy(doc["responses"]["200"]["body"]["value"][0])
    return out


class ConsumptionServer(LocalHttpServer):
    def __init__(self, script: list[Reply]):
        self.script = list(script)
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 (http.server's naming)
                parsed = urlparse(self.path)
                with outer._lock:
                    outer.requests.append(Recorded("GET", parsed.path, parse_qs(parsed.query),
                                                   {k.lower(): v for k, v in self.headers.items()}, time.monotonic()))
                    if "/providers/Microsoft.Consumption/usageDetails" not in parsed.path:
                        reply = Reply(404, {"error": {"code": "NotFound", "message": parsed.path}})
                    else:
                        reply = outer.script[min(len(outer.requests) - 1, len(outer.script) - 1)]
                body = dict(reply.body or {})
                if reply.next_token:
                    query = [(k, v) for k, vs in parse_qs(parsed.query).items() for v in vs if k != "$skiptoken"]
                    body["nextLink"] = f"{outer.url}{parsed.path}?{urlencode(query + [('$skiptoken', reply.next_token)])}"
                self.send_json(reply.status, body, "application/json; charset=utf-8",
                               {"x-ms-request-id": f"req-{len(outer.requests)}", **reply.headers})

        super().__init__(Handler)


class StaticTokenCredential:
    """A TokenCredential for tests: a fixed bearer token, calls counted."""

    def __init__(self, token: str = "test-token"):
        self.token = token
        self.calls = 0
        self.scopes: tuple[str, ...] = ()

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        self.calls += 1
        self.scopes = scopes
        return AccessToken(self.token, int(time.time()) + 3600)
