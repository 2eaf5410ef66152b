"""A small HTTP server on 127.0.0.1 answering the BigQuery REST calls our code makes, so that the
real google-cloud-bigquery client runs against it (``client_options={"api_endpoint": url}``) and a
test can assert what arrived: query text and parameters, load job configurations, uploaded files.

Calls answered: ``POST /bigquery/v2/projects/{p}/queries`` (jobs.query: the client's
``query_and_wait``), ``POST /upload/bigquery/v2/projects/{p}/jobs`` (a multipart or resumable load
upload), ``PUT`` of a resumable session, ``GET /bigquery/v2/projects/{p}/jobs/{id}`` (job status) and
``GET /bigquery/v2/projects/{p}/queries/{id}``. Query results come from ``responders``: callables
``(sql, parameters) -> QueryResult | None``, the first that answers wins; anything else gets an empty
result. ``fail_when`` makes a query fail with HTTP 400, as BigQuery reports an invalid or failed job.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, timezone
from urllib.parse import parse_qs, urlparse

import pyarrow.parquet as pq

from support.local_http import LocalHttpServer, QuietHandler


@dataclass
class QueryResult:
    """Rows as Python values; ``fields`` are (name, BigQuery type) pairs."""

    fields: list[tuple[str, str]]
    rows: list[tuple] = field(default_factory=list)


@dataclass
class Load:
    configuration: dict  # the job's configuration.load
    parquet_rows: list[dict]  # the uploaded file, read back

    @property
    def destination(self) -> str:
        t = self.configuration["destinationTable"]
        return f"{t['projectId']}.{t['datasetId']}.{t['tableId']}"


def _cell(value, bq_type: str, int64_timestamps: bool):
    if value is None:
        return None
    if bq_type == "TIMESTAMP":
        ts = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        micros = int(ts.timestamp() * 1_000_000)
        return str(micros) if int64_timestamps else repr(micros / 1e6)
    if bq_type == "DATE" and isinstance(value, date):
        return value.isoformat()
    if bq_type == "BOOLEAN":
        return "true" if value else "false"
    return str(value)


class FakeBigQuery(LocalHttpServer):
    def __init__(self, project: str = "greenops-test"):
        self.project = project
        self.queries: list[dict] = []  # {"sql": ..., "parameters": {...}, "body": ...}
        self.loads: list[Load] = []
        self.responders: list = []
        self.fail_when: list = []  # callables (sql) -> error message or None
        self._jobs: dict[str, dict] = {}
        self._sessions: dict[str, dict] = {}
        super().__init__(self._handler())

    def client(self):
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(project=self.project, location="US", credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=self.url))

    # --- what arrived, for assertions ------------------------------------------------------------

    def sql(self) -> list[str]:
        return [q["sql"] for q in self.queries]

    # --- the REST handlers -------------------------------------------------------------------------

    @staticmethod
    def _parameters(body: dict) -> dict:
        out = {}
        for i, p in enumerate(body.get("queryParameters", [])):
            value = p.get("parameterValue", {})
            if "arrayValues" in value or p["parameterType"].get("type") == "ARRAY":
                v = [a.get("value") for a in value.get("arrayValues", [])]
            else:
                v = value.get("value")
            out[p.get("name") or f"${i}"] = v
        return out

    def _query(self, body: dict):
        sql = body["query"]
        params = self._parameters(body)
        self.queries.append({"sql": sql, "parameters": params, "body": body})
        for check in self.fail_when:
            message = check(sql)
            if message:
                return 400, {"error": {"code": 400, "message": message, "errors": [{"reason": "invalidQuery", "message": message}]}}
        result = next((r for r in (fn(sql, params) for fn in self.responders) if r is not None), QueryResult([]))
        int64_ts = body.get("formatOptions", {}).get("useInt64Timestamp", False)
        job_id = f"job_{uuid.uuid4().hex[:12]}"
        types = [t for _, t in result.fields]
        return 200, {
            "kind": "bigquery#queryResponse",
            "jobReference": {"projectId": self.project, "jobId": job_id, "location": "US"},
            "jobComplete": True,
            "schema": {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in result.fields]},
            "rows": [{"f": [{"v": _cell(v, t, int64_ts)} for v, t in zip(row, types)]} for row in result.rows],
            "totalRows": str(len(result.rows)),
        }

    def _load(self, metadata: dict, data: bytes) -> dict:
        rows = pq.read_table(io.BytesIO(data)).to_pylist() if data else []
        config = metadata["configuration"]["load"]
        self.loads.append(Load(config, rows))
        job_id = metadata.get("jobReference", {}).get("jobId") or f"load_{uuid.uuid4().hex[:12]}"
        job = {**metadata, "kind": "bigquery#job", "id": f"{self.project}:US.{job_id}",
               "jobReference": {"projectId": self.project, "jobId": job_id, "location": "US"},
               "status": {"state": "DONE"}, "statistics": {"load": {"outputRows": str(len(rows))}}}
        self._jobs[job_id] = job
        return job

    def _handler(self):
        fake = self

        class Handler(QuietHandler):
            def _reply(self, status: int, payload: dict, headers: dict | None = None):
                self.send_json(status, payload, headers=headers)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self):  # noqa: N802
                url = urlparse(self.path)
                query = parse_qs(url.query)
                body = self._body()
                if url.path.endswith("/queries"):
                    return self._reply(*fake._query(json.loads(body)))
                if url.path.startswith("/upload/") and query.get("uploadType") == ["multipart"]:
                    message = email.message_from_bytes(
                        f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body, policy=email.policy.HTTP)
                    parts = list(message.iter_parts())
                    metadata = json.loads(parts[0].get_content())
                    data = parts[1].get_payload(decode=True)
                    return self._reply(200, fake._load(metadata, data))
                if url.path.startswith("/upload/") and query.get("uploadType") == ["resumable"]:
                    session = uuid.uuid4().hex
                    fake._sessions[session] = {"metadata": json.loads(body), "data": b""}
                    return self._reply(200, {}, {"Location": f"{fake.url}/upload/session/{session}"})
                return self._reply(404, {"error": {"code": 404, "message": f"no handler for POST {url.path}"}})

            def do_PUT(self):  # noqa: N802
                url = urlparse(self.path)
                session = fake._sessions.get(url.path.rsplit("/", 1)[-1])
                if session is None:
                    return self._reply(404, {"error": {"code": 404, "message": "no such upload"}})
                session["data"] += self._body()
                return self._reply(200, fake._load(session["metadata"], session["data"]))

            def do_GET(self):  # noqa: N802
                url = urlparse(self.path)
                job_id = url.path.rsplit("/", 1)[-1]
                if "/jobs/" in url.path and job_id in fake._jobs:
                    return self._reply(200, fake._jobs[job_id])
                if "/queries/" in url.path:
                    return self._reply(200, {"kind": "bigquery#getQueryResultsResponse", "jobComplete": True,
                                             "jobReference": {"projectId": fake.project, "jobId": job_id},
                                             "schema": {"fields": []}, "rows": [], "totalRows": "0"})
                return self._reply(404, {"error": {"code": 404, "message": f"no handler for GET {url.path}"}})

        return Handler


def matching(fragment: str, result: QueryResult):
    """A responder answering every query whose text contains ``fragment``."""
    return lambda sql, params: result if fragment in sql else None
