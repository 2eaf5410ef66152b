"""Inference request logs: JSON Lines, one request a line (plain or gzip).

Fields: ``request_id``, ``timestamp`` (ISO 8601 with an offset), ``latency_ms``, ``deployment``,
``model``, ``project``, ``prompt_tokens``, ``completion_tokens``, ``cached_prompt_tokens`` (optional),
``status`` (``success`` or an error kind), ``task_id`` and ``task_completed`` (optional).

Row outcomes (quarantined with the line and reason): not valid JSON, a missing required field, a
timestamp without offset or unparseable, negative or non-integer tokens, cached tokens above prompt
tokens, negative latency, a deployment the inventory does not know. Duplicate ``request_id``s are
resolved later, across all files of the day (the first occurrence wins).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from greenops.sources.common import fetch_arrow, LandingFile, read_lines

REQUIRED = ["request_id", "timestamp", "deployment", "model", "project", "prompt_tokens", "completion_tokens", "status"]


def parse(con: duckdb.DuckDBPyConnection, lf: LandingFile, known_deployments: list[str]) -> tuple[pa.Table, pa.Table]:
    read_lines(con, lf)
    con.execute("CREATE OR REPLACE TEMP TABLE known_deployments AS SELECT unnest(?::VARCHAR[]) AS deployment", [known_deployments])
    missing_checks = "\n".join(
        f"WHEN j->>'$.{f}' IS NULL THEN 'missing required field {f}'" for f in REQUIRED
    )

    def token(f: str) -> str:
        return f"try_cast(j->>'$.{f}' AS BIGINT)"

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE req AS
        WITH j AS (
            SELECT ln, line, CASE WHEN json_valid(line) AND json_type(line::JSON) = 'OBJECT' THEN line::JSON END AS j
            FROM lines WHERE trim(coalesce(line, '')) <> ''
        )
        SELECT ln AS _source_line, line AS raw_record,
               j->>'$.request_id' AS request_id,
               j->>'$.timestamp' AS ts_text,
               CASE WHEN regexp_matches(coalesce(j->>'$.timestamp', ''), '(Z|[+-]\\d\\d:?\\d\\d)$')
                    THEN try_cast(j->>'$.timestamp' AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END AS request_ts_utc,
               try_cast(j->>'$.latency_ms' AS DOUBLE) AS latency_ms,
               j->>'$.deployment' AS deployment, j->>'$.model' AS model, j->>'$.project' AS project,
               {token('prompt_tokens')} AS prompt_tokens,
               {token('completion_tokens')} AS completion_tokens,
               coalesce({token('cached_prompt_tokens')}, 0) AS cached_prompt_tokens,
               j->>'$.status' AS status, j->>'$.task_id' AS task_id,
               try_cast(j->>'$.task_completed' AS BOOLEAN) AS task_completed,
               j
        FROM j
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE req_checked AS
        SELECT r.* EXCLUDE (j), CASE
            WHEN j IS NULL THEN 'not a JSON object'
            {missing_checks}
            WHEN request_ts_utc IS NULL AND NOT regexp_matches(ts_text, '(Z|[+-]\\d\\d:?\\d\\d)$')
                THEN 'timestamp has no UTC offset: ' || ts_text
            WHEN request_ts_utc IS NULL THEN 'unparseable timestamp: ' || ts_text
            WHEN prompt_tokens IS NULL OR completion_tokens IS NULL THEN 'token counts are not integers'
            WHEN prompt_tokens < 0 OR completion_tokens < 0 OR cached_prompt_tokens < 0 THEN 'negative token count'
            WHEN cached_prompt_tokens > prompt_tokens THEN 'cached_prompt_tokens above prompt_tokens'
            WHEN latency_ms < 0 THEN 'negative latency'
            WHEN r.deployment NOT IN (SELECT deployment FROM known_deployments)
                THEN 'unknown deployment ' || r.deployment || ' (not in the fleet inventory)'
        END AS reason
        FROM req r
        """
    )
    rows = fetch_arrow(con, "SELECT * EXCLUDE (reason, raw_record, ts_text) FROM req_checked WHERE reason IS NULL ORDER BY _source_line")
    rejects = fetch_arrow(con, "SELECT _source_line, reason, raw_record, request_ts_utc AS record_ts_utc FROM req_checked WHERE reason IS NOT NULL ORDER BY _source_line")
    return rows, rejects
