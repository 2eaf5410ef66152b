"""Security: no credential in the repository; none in the Airflow output, logs, XCom or task parameters
of a real DAG run that has credentials in its environment; analysts read a snapshot that cannot be
written and holds no raw input; names that end up in SQL identifiers are validated; the installed
packages are consistent (`pip check`).
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from greenops import publish, raw_tables as rt
from greenops.settings import PROJECT_ROOT
from greenops.warehouse import PartitionWrite
from greenops.warehouse.duckdb_warehouse import DuckDBWarehouse, _quote

# Built from parts so that this file does not match its own patterns.
_BEGIN = "-----" + "BEGIN"
SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"(?i)aws_?secret_?access_?key\W{0,5}[\"'=:\s]{1,5}[A-Za-z0-9/+]{40}\b"),
    "private key": re.compile(_BEGIN + r" ?(RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY"),
    "GCP service-account key": re.compile(r"\"private_key_id\"\s*:\s*\"[0-9a-f]{40}\""),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "GitHub token": re.compile(r"\b(ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[0-9A-Za-z-]{10,}"),
}
#: AWS's documentation examples are not credentials.
ALLOWED = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
MALICIOUS_NAMES = ['x"; DROP TABLE raw.quarantine; --', "raw.quarantine", "a b", "", "1abc", "tab\tle", 'q"q',
                   "x' OR '1'='1", "ünïcode", "semi;colon", "new\nline"]


def _repository_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_ROOT,
                            capture_output=True, check=True).stdout.split(b"\0")
    return [PROJECT_ROOT / name.decode() for name in listed if name]


def _findings(text: str) -> list[str]:
    return [f"{kind}: {m.group(0)[:12]}..." for kind, pattern in SECRET_PATTERNS.items()
            for m in pattern.finditer(text) if m.group(0) not in ALLOWED and not any(a in m.group(0) for a in ALLOWED)]


def test_no_credential_in_the_repository():
    files = _repository_files()
    assert len(files) > 100  # the whole checkout is listed (tracked and new, not ignored)
    found = {}
    for path in files:
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        hits = _findings(path.read_bytes().decode("utf-8", errors="replace"))
        if hits:
            found[str(path.relative_to(PROJECT_ROOT))] = hits
    assert found == {}
    # the patterns do find what they are meant to find
    assert _findings("aws_secret_access_key = " + "A1b2" * 10) and _findings("AKIA" + "Q" * 16)
    assert _findings(_BEGIN + " RSA PRIVATE KEY-----") and not _findings("AKIAIOSFODNN7EXAMPLE")


@pytest.mark.e2e
def test_no_credential_in_airflow_output_logs_xcom_or_task_parameters(end_to_end):
    e = end_to_end
    scanned: list[str] = []
    leaks = []
    for i, out in enumerate(e.outputs):
        scanned.append(f"output of run {i}")
        if e.secret in out or e.access_key in out:
            leaks.append(f"output of run {i}")
    # every file the runs wrote: Airflow's home (logs, the metadata DB with XCom, rendered task
    # fields and run conf), the landing folder, the warehouse and the published snapshot, dbt's logs
    roots = [e.airflow_home, e.pipeline.landing.parent, PROJECT_ROOT / "dbt_project" / "logs"]
    for root in roots:
        for path in root.rglob("*") if root.exists() else []:
            if not path.is_file() or path.stat().st_mtime < e.started_at - 1:
                continue
            scanned.append(str(path))
            data = path.read_bytes()
            if e.secret.encode() in data or e.access_key.encode() in data:
                leaks.append(str(path))
    assert leaks == []
    assert any(p.endswith("airflow.db") for p in scanned) and any("wh.duckdb" in p for p in scanned)
    # the scan covered what it claims: the metadata DB holds the runs' XCom and rendered task fields
    with sqlite3.connect(e.airflow_home / "airflow.db") as db:
        assert db.execute("select count(*) from xcom").fetchone()[0] > 0
        assert db.execute("select count(*) from rendered_task_instance_fields").fetchone()[0] > 0


@pytest.mark.e2e
def test_the_analysts_snapshot_is_read_only_and_holds_no_raw_input(end_to_end):
    published = end_to_end.pipeline.published
    with duckdb.connect(str(published), read_only=True) as con:
        schemas = {r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
        assert "marts" in schemas and schemas <= set(publish.PUBLISHED_SCHEMAS)  # no raw rows, no quarantined text
        assert con.execute("select count(*) from marts.inference_energy_fact").fetchone()[0] > 0
        for statement in ("create table marts.x (a int)", "insert into marts.dim_site select * from marts.dim_site",
                          "delete from marts.inference_energy_fact", "drop table marts.inference_energy_fact",
                          "update marts.inference_energy_fact set gpu_energy_kwh = 0"):
            with pytest.raises(duckdb.Error, match="read-only"):
                con.execute(statement)
    assert not published.stat().st_mode & 0o002  # not world-writable


@pytest.mark.parametrize("name", MALICIOUS_NAMES)
def test_names_used_as_sql_identifiers_are_validated(name):
    with pytest.raises(ValueError):
        _quote(name)
    with pytest.raises(ValueError):
        publish._ident(name)


def test_valid_identifiers_pass():
    assert _quote("gpu_telemetry_samples") == '"gpu_telemetry_samples"'
    assert publish._ident("inference_energy_fact") == '"inference_energy_fact"'


def test_a_write_with_a_malicious_table_or_column_name_is_refused_before_anything_changes(tmp_path):
    wh = DuckDBWarehouse(tmp_path / "wh.duckdb")
    evil_table = rt.RawTable('quarantine"; DROP TABLE raw.quarantine; --', rt.QUARANTINE.schema, "partition_date", "evil")
    with pytest.raises(ValueError, match="not a valid identifier"):
        wh.replace_partitions([PartitionWrite(evil_table, rt.empty(rt.QUARANTINE), ("2026-11-10",))])
    evil_scope = PartitionWrite(rt.QUARANTINE, rt.empty(rt.QUARANTINE), ("2026-11-10",), {"source = source OR 1=1 --": "x"})
    with pytest.raises(ValueError, match="not a valid identifier"):
        wh.replace_partitions([evil_scope])
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.quarantine").fetchone() == (0,)


def test_publishing_refuses_a_malicious_table_name_and_keeps_the_old_snapshot(tmp_path, monkeypatch):
    warehouse, published = tmp_path / "wh.duckdb", tmp_path / "published" / "greenops.duckdb"
    monkeypatch.setenv("GREENOPS_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("GREENOPS_PUBLISHED_WAREHOUSE", str(published))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts; create table marts.kpi as select 1 as a")
    publish.publish_snapshot()
    before = published.read_bytes()
    with duckdb.connect(str(warehouse)) as con:
        con.execute('create table marts."kpi""; drop table marts.kpi; --" as select 2 as a')
    with pytest.raises(ValueError, match="unexpected object name"):
        publish.publish_snapshot()
    assert published.read_bytes() == before
    assert not list(published.parent.glob(".*.tmp"))  # no half-written copy left behind


def test_dbt_interval_vars_from_asset_events_must_be_dates():
    from types import SimpleNamespace

    from greenops.airflow_support import dbt_vars_from_events

    good = {"a": [SimpleNamespace(extra={"start_date": "2026-11-10", "end_date": "2026-11-11"})]}
    assert dbt_vars_from_events(good) == {"start_date": "2026-10-01", "end_date": "2026-11-11",
                                          "billing_start_date": "2026-11-10", "billing_end_date": "2026-11-11"}
    injected = "2026-11-10' as date) or true or cast('2026-11-10"
    with pytest.raises(ValueError):
        dbt_vars_from_events({"a": [SimpleNamespace(extra={"start_date": injected, "end_date": "2026-11-11"})]})


def test_pip_check_is_clean():
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
