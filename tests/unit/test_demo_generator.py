"""The demo fleet is deterministic for a seed, and has what the foundation promises to show."""

from __future__ import annotations

import hashlib
from datetime import date

from greenops.demo.generate import generate
from greenops.settings import PROJECT_ROOT

FLEET = PROJECT_ROOT / "include" / "demo_fleet.yaml"


def _digest(root):
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    counts = generate(a, FLEET, date(2026, 11, 16), 1, seed=7)
    generate(b, FLEET, date(2026, 11, 16), 1, seed=7)
    generate(c, FLEET, date(2026, 11, 16), 1, seed=8)
    assert _digest(a) == _digest(b) != _digest(c)
    assert counts["requests"] > 10_000 and counts["bad_lines"] > 0
    hosts = sorted(p.name for p in (a / "gpu_telemetry").iterdir())
    assert hosts == ["host=fra1-gpu01", "host=fra1-gpu02", "host=sea1-gpu01", "host=sea1-gpu02"]
    # nvidia-smi on the Berlin hosts (local time, two local dates for one UTC day), dcgm in Seattle
    assert sorted(p.name for p in (a / "gpu_telemetry" / "host=fra1-gpu01").iterdir()) == ["date=2026-11-16", "date=2026-11-17"]
    assert any((a / "gpu_telemetry" / "host=sea1-gpu01" / "date=2026-11-16").glob("dcgm-*.prom"))
    assert sorted(p.name for p in (a / "inference_logs" / "date=2026-11-16").iterdir()) == [
        "assist-24b-azure.jsonl", "assist-8b-fra.jsonl", "chat-70b-fra.jsonl", "chat-8b-gcp.jsonl", "code-14b-sea.jsonl",
        "rag-8b-aws.jsonl", "summarize-24b-sea.jsonl"]
    # the cloud deployments' exports, in the layouts their providers deliver
    assert any((a / "aws_cur").rglob("*-Manifest.json")) and any((a / "aws_carbon").rglob("*.csv"))
    assert any((a / "gcp_billing").rglob("*.parquet"))
    azure = sorted(p.relative_to(a / "azure_exports").as_posix() for p in (a / "azure_exports").rglob("*") if p.is_file())
    assert azure == ["greenops/demo-actual/20261101-20261130/demo-20261116/manifest.json",
                     "greenops/demo-actual/20261101-20261130/demo-20261116/part_0_0001.csv"]
