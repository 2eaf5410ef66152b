"""Local AWS endpoints for the AWS tests: real boto3 over HTTP on 127.0.0.1, no network, no SDK patching.

- ``moto_endpoint``: moto's server (S3, Cost Explorer) in a thread, bound to 127.0.0.1 on a free port,
  reset before each test.
- ``aws_env``: dummy credentials and GREENOPS_AWS_ENDPOINT_URL pointing at moto; nothing of the
  developer's own AWS configuration is read.
- ``ScriptedServer``: a tiny HTTP server answering a script of responses (a throttle, a 5xx, a valid
  page...), counting requests, for the retry tests moto cannot stage.

Import the fixtures into a test module: ``from support.moto_server import aws_env, moto_endpoint``.
"""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest

from support.local_http import LocalHttpServer, QuietHandler

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _post(url: str, payload: dict | None = None) -> None:
    data = json.dumps(payload or {}).encode()
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    with _NO_PROXY.open(req, timeout=10) as resp:
        resp.read()


@pytest.fixture(scope="session")
def _moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture()
def moto_endpoint(_moto_server) -> str:
    """The moto server's URL, with every backend emptied (buckets, queued Cost Explorer results)."""
    _post(f"{_moto_server}/moto-api/reset")
    return _moto_server


def set_dummy_credentials(monkeypatch, tmp_path) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AIRFLOW_CTX_DAG_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture()
def aws_env(moto_endpoint, monkeypatch, tmp_path) -> str:
    """Dummy credentials and GREENOPS_AWS_ENDPOINT_URL = the moto server; returns its URL."""
    set_dummy_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("GREENOPS_AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("GREENOPS_AWS_MAX_ATTEMPTS", "3")
    return moto_endpoint


def queue_cost_and_usage(endpoint: str, *responses: dict) -> None:
    """Queue full GetCostAndUsage responses in moto: each distinct request body takes the next one."""
    _post(f"{endpoint}/moto-api/static/ce/cost-and-usage-results", {"results": list(responses)})


class ScriptedServer(LocalHttpServer):
    """Answers POSTs with ``(status, json_body)`` from a script, in order; the last one repeats.

    ``requests`` counts what arrived and ``bodies`` keeps their JSON, so a test can assert retries.
    """

    def __init__(self, script: list[tuple[int, dict]]):
        self.script = list(script)
        self.requests = 0
        self.bodies: list[dict] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    outer.bodies.append(json.loads(body or b"{}"))
                    status, payload = outer.script[min(outer.requests, len(outer.script) - 1)]
                    outer.requests += 1
                self.send_json(status, payload, "application/x-amz-json-1.1", {"x-amzn-RequestId": f"req-{outer.requests}"})

        super().__init__(Handler)


THROTTLED = (400, {"__type": "LimitExceededException", "message": "Rate exceeded"})
SERVER_ERROR = (500, {"__type": "InternalServerError", "message": "try again"})
