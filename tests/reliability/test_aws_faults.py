"""Faults at the AWS edge: a call that times out, and a page that arrives cut short, are retried, and
when they keep failing the run fails cleanly with the previously loaded days untouched.

The real boto3 client talks HTTP to a local server on 127.0.0.1 that misbehaves on purpose; nothing in
the SDK is patched. The client is built by the project's own `aws_client.aws_session` and
`boto_config` (standard retry mode, GREENOPS_AWS_MAX_ATTEMPTS attempts), with 1 s timeouts instead
of 10/60 s so that the test is quick. Throttling and 5xx are covered by
tests/unit/test_aws_cost_explorer.py (test_a_throttled_call_is_retried,
test_a_pull_that_keeps_failing_leaves_the_loaded_days) and S3 faults by tests/unit/test_aws_cur.py
(test_a_broken_delivery_changes_nothing).
"""

from __future__ import annotations

import json
import threading
from datetime import date

import duckdb
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError

from greenops import ingest_aws
from greenops.aws_client import aws_session, boto_config
from greenops.settings import get_settings
from support.local_http import LocalHttpServer, QuietHandler
from support.moto_server import set_dummy_credentials

DAY = date(2026, 11, 20)
DEFS = [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "TAG", "Key": "deployment"}]


def _page(cost: str) -> dict:
    metrics = {"UnblendedCost": {"Amount": cost, "Unit": "USD"}, "NetAmortizedCost": {"Amount": cost, "Unit": "USD"},
               "UsageQuantity": {"Amount": "1", "Unit": "N/A"}}
    return {"GroupDefinitions": DEFS, "DimensionValueAttributes": [], "ResultsByTime": [
        {"TimePeriod": {"Start": "2026-11-20", "End": "2026-11-21"}, "Total": {}, "Estimated": False,
         "Groups": [{"Keys": ["Amazon Elastic Compute Cloud - Compute", "deployment$chat-70b"], "Metrics": metrics}]}]}


OK = ("ok", _page("3.00"))
HANG = ("hang", _page("9.99"))  # answers only after the client gave up waiting
TRUNCATED = ("truncated", _page("9.99"))  # Content-Length of the whole page, half of it sent, connection closed
CUT_JSON = ("cut_json", _page("9.99"))  # a well-framed 200 whose JSON stops half-way


class MisbehavingServer(LocalHttpServer):
    """Answers Cost Explorer POSTs from a script of (behaviour, page), in order; the last one repeats."""

    def __init__(self, script):
        self.script, self.requests = list(script), 0
        self._release = threading.Event()
        outer = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                kind, page = outer.script[min(outer.requests, len(outer.script) - 1)]
                outer.requests += 1
                body = json.dumps(page).encode()
                try:
                    if kind == "hang":
                        outer._release.wait(5)
                    if kind == "cut_json":
                        body = body[: len(body) // 2]
                    self.send_response(200)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if kind == "truncated":
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    self.wfile.write(body)
                except OSError:  # the client hung up first (a timeout): nothing to answer
                    pass

        super().__init__(Handler)

    def __exit__(self, *exc):
        self._release.set()  # a hanging answer returns first
        super().__exit__(*exc)


@pytest.fixture()
def settings(monkeypatch, tmp_path, settings_env):
    set_dummy_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("GREENOPS_AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("GREENOPS_AWS_CE_RESTATEMENT_DAYS", "0")
    return get_settings()


def _client(settings, server: MisbehavingServer):
    """The project's Cost Explorer client (session, standard retries) against ``server``, 1 s timeouts."""
    return aws_session(settings).client("ce", region_name=settings.aws_region, endpoint_url=server.url,
                                        config=boto_config(settings).merge(Config(connect_timeout=1, read_timeout=1)))


def _loaded(settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("select usage_date, group2_value, unblended_cost_usd, _load_id from raw.aws_ce_costs_daily").fetchall()


def _first_load(settings) -> list[tuple]:
    with MisbehavingServer([OK]) as server:
        ingest_aws.ingest_aws_cost_explorer(DAY, load_id="good", settings=settings, client=_client(settings, server))
    before = _loaded(settings)
    assert before == [(DAY, "chat-70b", 3.0, "good")]
    return before


def test_a_timed_out_call_is_retried(settings):
    with MisbehavingServer([HANG, OK]) as server:
        summary = ingest_aws.ingest_aws_cost_explorer(DAY, settings=settings, client=_client(settings, server))
    assert server.requests == 2
    assert (summary["rows"], summary["ce_requests"], summary["ce_retries"]) == (1, 1, 1)
    assert [r[2] for r in _loaded(settings)] == [3.0]


def test_a_call_that_keeps_timing_out_fails_and_leaves_the_loaded_days(settings):
    before = _first_load(settings)
    with MisbehavingServer([HANG]) as server:
        with pytest.raises(ReadTimeoutError):
            ingest_aws.ingest_aws_cost_explorer(DAY, load_id="bad", settings=settings, client=_client(settings, server))
    assert server.requests == 2  # GREENOPS_AWS_MAX_ATTEMPTS
    assert _loaded(settings) == before


# botocore reads bodies without enforcing Content-Length and turns a body that is not JSON into
# {"message": ...}: sources/aws_cost_explorer.fetch_pages asks again for a page without ResultsByTime
# and fails the pull after aws_max_attempts, so such a page never empties the window's days.


@pytest.mark.parametrize("broken", [TRUNCATED, CUT_JSON], ids=["truncated-body", "cut-json"])
def test_a_page_cut_short_is_retried(settings, broken):
    with MisbehavingServer([broken, OK]) as server:
        summary = ingest_aws.ingest_aws_cost_explorer(DAY, settings=settings, client=_client(settings, server))
    assert server.requests == 2
    assert summary["rows"] == 1 and [r[2] for r in _loaded(settings)] == [3.0]


@pytest.mark.parametrize("broken", [TRUNCATED, CUT_JSON], ids=["truncated-body", "cut-json"])
def test_pages_that_keep_arriving_cut_short_fail_and_leave_the_loaded_days(settings, broken):
    before = _first_load(settings)
    with MisbehavingServer([broken]) as server:
        with pytest.raises(Exception, match="(?i)cost explorer"):
            ingest_aws.ingest_aws_cost_explorer(DAY, load_id="bad", settings=settings, client=_client(settings, server))
    assert server.requests == 2
    assert _loaded(settings) == before
