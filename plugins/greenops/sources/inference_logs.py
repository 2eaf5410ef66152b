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

from greenops.sources.common import NOT_BLANK, LandingFile, fetch_arrow, read_lines

REQUIRED = ["request_id", "timestamp", "deployment", "model", "project", "prompt_tokens", "completion_tokens", "status"]
#: The fields read from each line, in the order of the one list extraction (``f[1]`` is ``request_id``).
FIELDS = REQUIRED + ["latency_ms", "cached_prompt_tokens", "task_id", "task_completed"]
_OFFSET = "'(Z|[+-]\\d\\d:?\\d\\d)$'"


def parse(con: duckdb.DuckDBPyConnection, lf: LandingFile, known_deployments: list[str]) -> tuple[pa.Table, pa.Table]:
    """One file's requests and rejects as Arrow tables (see ``stage``), both in line order."""
    rows_sql, rejects_sql = stage(con, lf, known_deployments)
    return (fetch_arrow(con, f"SELECT * FROM ({rows_sql}) ORDER BY _source_line"),
            fetch_arrow(con, f"SELECT * FROM ({rejects_sql}) ORDER BY _source_line"))


def stage(con: duckdb.DuckDBPyConnection, lf: LandingFile, known_deployments: list[str]) -> tuple[str, str]:
    """Check one file into a temp table of ``con``; returns the SELECTs of its requests and its rejects
    (valid until the next file is staged). Raises UnreadableFileError for a file that is not UTF-8 text."""
    read_lines(con, lf)
    con.execute("CREATE OR REPLACE TEMP TABLE known_deployments AS SELECT unnest(?::VARCHAR[]) AS deployment", [known_deployments])
    # Each line's JSON is parsed once: one extraction of all the fields (a list of paths). try() turns
    # text that is not JSON into NULL; valid JSON that is not an object (an array, a number) yields a
    # list of NULLs, so an object is told by its first character.
    paths = ", ".join(f"'$.{f}'" for f in FIELDS)
    field = {f: f"f[{i}]" for i, f in enumerate(FIELDS, start=1)}
    missing_checks = "\n".join(f"WHEN {field[f]} IS NULL THEN 'missing required field {f}'" for f in REQUIRED)

    def token(f: str) -> str:
        return f"try_cast({field[f]} AS BIGINT)"

    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE req_checked AS
        WITH parsed AS (
            SELECT ln, CASE WHEN starts_with(line, '{{') OR starts_with(ltrim(line, e' \\t\\r\\n'), '{{') THEN try(json_extract_string(line, [{paths}])) END AS f
            FROM lines WHERE {NOT_BLANK}
        ),
        r AS (
            SELECT ln AS _source_line,
                   {field['request_id']} AS request_id,
                   {field['timestamp']} AS ts_text,
                   CASE WHEN regexp_matches(coalesce({field['timestamp']}, ''), {_OFFSET})
                        THEN try_cast({field['timestamp']} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END AS request_ts_utc,
                   try_cast({field['latency_ms']} AS DOUBLE) AS latency_ms,
                   {field['deployment']} AS deployment, {field['model']} AS model, {field['project']} AS project,
                   {token('prompt_tokens')} AS prompt_tokens,
                   {token('completion_tokens')} AS completion_tokens,
                   coalesce({token('cached_prompt_tokens')}, 0) AS cached_prompt_tokens,
                   {field['status']} AS status, {field['task_id']} AS task_id,
                   try_cast({field['task_completed']} AS BOOLEAN) AS task_completed,
                   f
            FROM parsed
        )
        SELECT r.* EXCLUDE (f), CASE
            WHEN f IS NULL THEN 'not a JSON object'
            {missing_checks}
            WHEN request_ts_utc IS NULL AND NOT regexp_matches(ts_text, {_OFFSET})
                THEN 'timestamp has no UTC offset: ' || ts_text
            WHEN request_ts_utc IS NULL THEN 'unparseable timestamp: ' || ts_text
            WHEN prompt_tokens IS NULL OR completion_tokens IS NULL THEN 'token counts are not integers'
            WHEN prompt_tokens < 0 OR completion_tokens < 0 OR cached_prompt_tokens < 0 THEN 'negative token count'
            WHEN cached_prompt_tokens > prompt_tokens THEN 'cached_prompt_tokens above prompt_tokens'
            WHEN latency_ms < 0 THEN 'negative latency'
            WHEN r.deployment NOT IN (SELECT deployment FROM known_deployments)
                THEN 'unknown deployment ' || r.deployment || ' (not in the fleet inventory)'
        END AS reason
        FROM r
        """
    )
    rows = "SELECT * EXCLUDE (reason, ts_text) FROM req_checked WHERE reason IS NULL"
    # the line's text is read back for the rejects only: good rows never copy it (time and memory)
    rejects = """SELECT _source_line, reason, l.line AS raw_record, request_ts_utc AS record_ts_utc
                 FROM req_checked JOIN lines l ON l.ln = _source_line WHERE reason IS NOT NULL"""
    return rows, rejects
