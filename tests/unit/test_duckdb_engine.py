"""What the ingestion relies on from the pinned DuckDB: a transaction sees its own inserts.

The load of a day writes each file's rows of that day straight into the attached warehouse, in one
transaction, then searches those rows for duplicates (greenops.ingest._ingest). A file read for its
neighbour day often holds none of the day's rows: its INSERT adds nothing. duckdb 2.0.0 then lost
sight of the transaction's later large inserts (scans skipped them until the file was opened again),
so the duplicate search read nothing and duplicates were loaded, not quarantined; 2.0.1 is pinned.
"""

from __future__ import annotations

import duckdb


def test_a_transaction_scans_its_large_insert_after_an_insert_of_no_rows(tmp_path):
    path, part = tmp_path / "w.duckdb", tmp_path / "day.parquet"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT DATE '2026-11-20' AS d, range AS x FROM range(300000)")
        con.execute(f"COPY (SELECT DATE '2026-11-21' AS d, range AS x FROM range(200000)) TO '{part}'")
    con = duckdb.connect()
    con.execute(f"ATTACH '{path}' AS w")
    con.execute("BEGIN TRANSACTION")
    con.execute(f"INSERT INTO w.t SELECT * FROM read_parquet('{part}') WHERE d = DATE '2026-11-20'")  # no row
    con.execute(f"INSERT INTO w.t SELECT * FROM read_parquet('{part}')")  # more than a row group: written ahead
    assert con.execute("SELECT d::VARCHAR, count(*) FROM w.t GROUP BY d ORDER BY d").fetchall() == [
        ("2026-11-20", 300000), ("2026-11-21", 200000)]
    con.execute("COMMIT")
    con.close()
