"""The one local HTTP endpoint every fake service of the tests is built on: an ``http.server`` on
127.0.0.1 (a free port) in a daemon thread, for the real SDKs (boto3, azure-mgmt-consumption,
google-cloud-bigquery) to talk to over HTTP. A fake gives its handler class and keeps its own state."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps pytest's output clean and answers JSON in one call."""

    def log_message(self, *args):
        pass

    def send_json(self, status: int, payload, content_type: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class LocalHttpServer:
    """Serves ``handler`` while used as a context manager; ``url`` is where."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
