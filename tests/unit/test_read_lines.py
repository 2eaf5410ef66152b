"""read_lines numbers a file's lines by their order in a temp table, the file read in parallel: the
numbers must be the ones an editor shows, also for a file large enough to be split between threads."""

import gzip

import pytest

from greenops.sources.common import NOT_BLANK, describe, new_connection, read_lines


def _numbered(con):
    return con.execute("SELECT ln, line FROM lines ORDER BY ln").fetchall()


@pytest.mark.parametrize("in_transaction", [False, True])  # the ingestion stages files inside its write transaction
def test_large_file_read_in_parallel_keeps_editor_line_numbers(tmp_path, in_transaction):
    # about 30 MB: DuckDB's CSV reader hands such a file to several threads in pieces
    lines = [("" if i % 997 == 0 else f'{{"request_id": "r{i}", "pad": "{"x" * (i % 120)}"}}') for i in range(400_000)]
    path = tmp_path / "inference_logs" / "big.jsonl"
    path.parent.mkdir()
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    con = new_connection()
    con.execute("SET threads = 4")
    if in_transaction:
        con.execute("BEGIN")
    assert read_lines(con, describe(tmp_path, path)) == 400_000
    got = _numbered(con)
    assert got[0] == (1, None)  # the byte-order mark is dropped; a blank line is NULL and keeps its number
    assert got[1] == (2, '{"request_id": "r1", "pad": "x"}')
    expected = [(i + 1, line or None) for i, line in enumerate(lines)]
    assert got == expected


def test_gzip_file_and_its_blank_lines(tmp_path):
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(gzip.compress(b"a\n\nb\n"))
    con = new_connection()
    assert read_lines(con, describe(tmp_path, path)) == 3
    assert _numbered(con) == [(1, "a"), (2, None), (3, "b")]


def test_not_blank_is_trim_without_the_copy():
    con = new_connection()
    lines = [None, "", " ", "   ", "\t", " \t", "x", " x", "{}", "\u00a0", "\r"]
    got = con.execute(f"SELECT line, {NOT_BLANK} FROM unnest(?::VARCHAR[]) t(line)", [lines]).fetchall()
    expected = con.execute("SELECT line, trim(coalesce(line, '')) <> '' FROM unnest(?::VARCHAR[]) t(line)", [lines]).fetchall()
    assert [(line, bool(v)) for line, v in got] == [(line, v) for line, v in expected]
    assert [line for line, v in got if v] == ["\t", " \t", "x", " x", "{}", "\r"]  # a no-break space is blank
