"""Request logs: good lines load, each kind of bad line is quarantined with its line and reason."""

from __future__ import annotations

import gzip
import json
from datetime import datetime

from greenops.sources import inference_logs
from greenops.sources.common import describe, new_connection

GOOD = {
    "request_id": "r1", "timestamp": "2026-11-20T11:30:00.250+01:00", "latency_ms": 812.5,
    "deployment": "chat", "model": "llama-3.1-8b", "project": "search", "prompt_tokens": 1200,
    "completion_tokens": 300, "cached_prompt_tokens": 1000, "status": "success", "task_id": "t1",
    "task_completed": True,
}


def _line(**changes):
    row = {**GOOD, **changes}
    return json.dumps({k: v for k, v in row.items() if v is not ...})


def test_lines_and_reasons(landing):
    path = landing / "inference_logs" / "date=2026-11-20" / "chat.jsonl"
    path.parent.mkdir(parents=True)
    lines = [
        _line(),  # 1
        _line(request_id="r2", cached_prompt_tokens=..., task_id=..., task_completed=..., status="timeout"),  # 2
        '{"request_id": "r3", "timestamp": "2026-11-',  # 3 truncated
        _line(request_id="r4", completion_tokens=-5),  # 4
        _line(request_id="r5", timestamp="2026-11-20T11:30:00"),  # 5 no offset
        _line(request_id="r6", deployment="ghost"),  # 6
        _line(request_id="r7", project=...),  # 7
        "",  # 8
        _line(request_id="r9", prompt_tokens="many"),  # 9
        _line(request_id="r10", cached_prompt_tokens=5000),  # 10
        "[1, 2]",  # 11
    ]
    path.write_text("\n".join(lines) + "\n")
    rows, rejects = inference_logs.parse(new_connection(), describe(landing, path), ["chat"])
    got = rows.to_pylist()
    assert [r["request_id"] for r in got] == ["r1", "r2"]
    assert got[0]["request_ts_utc"] == datetime(2026, 11, 20, 10, 30, 0, 250000)
    assert got[0]["cached_prompt_tokens"] == 1000
    assert got[0]["task_completed"] is True
    assert got[1]["cached_prompt_tokens"] == 0  # optional, defaults to 0
    assert got[1]["task_id"] is None and got[1]["status"] == "timeout"
    assert {r["_source_line"]: r["reason"] for r in rejects.to_pylist()} == {
        3: "not a JSON object",
        4: "negative token count",
        5: "timestamp has no UTC offset: 2026-11-20T11:30:00",
        6: "unknown deployment ghost (not in the fleet inventory)",
        7: "missing required field project",
        9: "token counts are not integers",
        10: "cached_prompt_tokens above prompt_tokens",
        11: "not a JSON object",
    }


def test_stage_keeps_rows_in_duckdb(landing):
    """stage() returns SQL over temp tables (no Arrow); JSON that is not an object, or not JSON, is told
    apart from an object missing fields, whitespace around an object included."""
    path = landing / "inference_logs" / "date=2026-11-20" / "edge.jsonl.gz"
    path.parent.mkdir(parents=True)
    lines = [
        "  \t" + _line(request_id="a"),  # 1 leading whitespace: still an object
        "null",  # 2
        "3",  # 3
        '"text"',  # 4
        "{}",  # 5
        _line(request_id="b") + "}",  # 6 trailing garbage
        _line(request_id=None),  # 7 JSON null counts as missing
        _line(request_id="c", timestamp="soon+01:00"),  # 8
        _line(request_id="d", latency_ms=-1.0),  # 9
        _line(request_id="e", prompt_tokens="7", cached_prompt_tokens=..., task_completed="false"),  # 10 numbers as text are accepted
    ]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    con = new_connection()
    rows_sql, rejects_sql = inference_logs.stage(con, describe(landing, path), ["chat"])
    got = con.execute(f"SELECT _source_line, request_id, prompt_tokens, task_completed FROM ({rows_sql}) ORDER BY 1").fetchall()
    assert got == [(1, "a", 1200, True), (10, "e", 7, False)]
    assert dict(con.execute(f"SELECT _source_line, reason FROM ({rejects_sql})").fetchall()) == {
        2: "not a JSON object",
        3: "not a JSON object",
        4: "not a JSON object",
        5: "missing required field request_id",
        6: "not a JSON object",
        7: "missing required field request_id",
        8: "unparseable timestamp: soon+01:00",
        9: "negative latency",
    }
    record_ts = dict(con.execute(f"SELECT _source_line, record_ts_utc FROM ({rejects_sql})").fetchall())
    assert record_ts[9] == datetime(2026, 11, 20, 10, 30, 0, 250000) and record_ts[2] is None
