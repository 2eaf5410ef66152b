"""The alert notifier's webhook: a real HTTP POST to a server on 127.0.0.1, through an Airflow HTTP
Connection given as an environment variable; alerts that cannot be delivered are logged, not lost."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from greenops.airflow_support import AlertNotifier, webhook_url

ALERTS = [{"kind": "carbon_budget", "subject": "p1", "period": "2026-W46", "message": "at_risk: 1.3 of 1.0 kgCO2e"}]


@pytest.fixture
def endpoint():
    """A webhook on 127.0.0.1: the bodies it received, and the status it answers (settable)."""
    received, answer = [], {"status": 204}

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(answer["status"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield SimpleNamespace(port=server.server_port, received=received, answer=answer)
    server.shutdown()


def _notify():
    ti = SimpleNamespace(task_id="efficiency_and_budget_alerts", xcom_pull=lambda task_ids: ALERTS)
    AlertNotifier().notify({"ti": ti})


def test_alerts_are_posted_to_the_connections_url(endpoint, monkeypatch):
    # the connection as a URI, the way an environment variable or `airflow connections add` gives it
    monkeypatch.setenv("AIRFLOW_CONN_GREENOPS_ALERTS", f"http://127.0.0.1:{endpoint.port}/hooks/greenops")
    monkeypatch.setenv("GREENOPS_ALERT_WEBHOOK_CONN", "greenops_alerts")
    _notify()
    assert endpoint.received == [("/hooks/greenops", {"text": "[carbon_budget] p1 2026-W46: at_risk: 1.3 of 1.0 kgCO2e",
                                                      "alerts": ALERTS})]


@pytest.mark.parametrize("problem", ["no such connection", "the endpoint refuses"])
def test_alerts_that_cannot_be_delivered_are_logged_with_the_reason(endpoint, monkeypatch, caplog, problem):
    monkeypatch.setenv("GREENOPS_ALERT_WEBHOOK_CONN", "greenops_alerts")
    if problem == "the endpoint refuses":
        monkeypatch.setenv("AIRFLOW_CONN_GREENOPS_ALERTS", f"http://127.0.0.1:{endpoint.port}/hooks/greenops")
        endpoint.answer["status"] = 500
    else:
        monkeypatch.delenv("AIRFLOW_CONN_GREENOPS_ALERTS", raising=False)
    with caplog.at_level(logging.ERROR, logger="greenops.airflow_support"):
        _notify()  # a callback: raising would not fail the task, only hide the alerts
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "could not send 1 GreenOps alerts to webhook connection greenops_alerts" in errors[0]
    assert ("HTTPError" if problem == "the endpoint refuses" else "isn't defined") in errors[0]
    assert errors[0].endswith("[carbon_budget] p1 2026-W46: at_risk: 1.3 of 1.0 kgCO2e")


@pytest.mark.parametrize("conn, url", [
    # the UI or JSON: the whole URL in host
    (dict(conn_type="http", host="https://hooks.example.com/services/T/B/X", schema=None, port=None),
     "https://hooks.example.com/services/T/B/X"),
    # a URI: the path arrives in schema
    (dict(conn_type="https", host="hooks.example.com", schema="services/T/B/X", port=None), "https://hooks.example.com/services/T/B/X"),
    (dict(conn_type="http", host="10.0.0.5", schema="alerts", port=8080), "http://10.0.0.5:8080/alerts"),
    # the HTTP provider's convention: schema is the scheme
    (dict(conn_type="http", host="alerts.internal", schema="https", port=None), "https://alerts.internal"),
    (dict(conn_type="generic", host="alerts.internal", schema=None, port=None), "https://alerts.internal"),
])
def test_webhook_url_from_the_connections_parts(conn, url):
    assert webhook_url(SimpleNamespace(**conn)) == url
