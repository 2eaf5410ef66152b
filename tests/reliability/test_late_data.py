"""Late data and restatements: a telemetry file that arrives after its day was loaded, and a request log
sent again (the same request_ids in a new file, plus one new request), end in the right totals with no
duplicates once the day is run again; the repeated rows are quarantined as duplicates and counted.

Over the hand-computed fleet of tests/support/known_fleet.py. Cloud restatements (a CUR billing
period or a Cost Explorer day restated) are proven in tests/unit/test_aws_cur.py and
tests/unit/test_aws_cost_explorer.py (see docs/reliability.md).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from greenops import ingest
from reliability.rel_support import dbt, query, settings_for
from support.known_fleet import DAY, FLEET, KWH, TOTAL, write_landing

pytestmark = pytest.mark.e2e

LATE_KWH = 6 * 10 * 300 / KWH  # six new 10 s intervals of GPU 0 at 300 W after 11:59:50


def _load(s):
    ingest.load_inventory(settings=s)
    return [ingest.ingest_gpu_telemetry(DAY, settings=s), ingest.ingest_inference_logs(DAY, settings=s),
            ingest.ingest_grid_intensity(DAY, settings=s)]


def test_late_telemetry_and_a_resent_request_log(tmp_path):
    landing = tmp_path / "landing"
    write_landing(landing)
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    s = settings_for(landing, tmp_path / "wh.duckdb", fleet)
    _load(s)
    assert query(s.warehouse_path, "select count(*) from raw.inference_requests") == [(4,)]

    # after the day was loaded: a late telemetry file for it, overlapping the first file by two samples
    # (re-sent, identical) and adding a minute of new samples of GPU 0
    late = landing / "gpu_telemetry" / "host=lab-gpu01" / "date=2026-11-10" / "nvidia-smi-late.csv"
    start = datetime(2026, 11, 10, 11, 59, 40)
    late.write_text("timestamp, index, uuid, name, power.draw [W]\n" + "".join(
        f"{start + timedelta(seconds=10 * i):%Y/%m/%d %H:%M:%S}.000, 0, GPU-a0, NVIDIA H100 80GB HBM3, 300.00 W\n"
        for i in range(8)))
    # and the request log sent again in a new file: r1..r4 once more, plus r6
    original = (landing / "inference_logs" / "date=2026-11-10" / "requests.jsonl").read_text().splitlines()[:4]
    r6 = {"request_id": "r6", "timestamp": "2026-11-10T11:40:00+00:00", "deployment": "dep-b", "model": "m-b",
          "project": "p2", "prompt_tokens": 100, "completion_tokens": 50, "status": "success"}
    (landing / "inference_logs" / "date=2026-11-10" / "requests-resent.jsonl").write_text("\n".join(original + [json.dumps(r6)]) + "\n")

    telemetry, requests, _ = _load(s)  # the day run again (a backfill or a cleared task)
    assert (telemetry["rows"], telemetry["quarantined"]) == (2 * 720 + 120 + 6, 1 + 2)
    assert (requests["rows"], requests["quarantined"]) == (5, 1 + 4)
    assert query(s.warehouse_path, "select count(*), count(distinct request_id) from raw.inference_requests") == [(5, 5)]
    assert query(s.warehouse_path, """select count(*) from (select host, gpu_index, sample_ts_utc from raw.gpu_telemetry_samples
                                      group by all having count(*) > 1)""") == [(0,)]
    assert sorted(query(s.warehouse_path, "select reason, count(*) from raw.quarantine group by 1")) == [
        ("duplicate request_id", 4), ("duplicate sample (same GPU and timestamp)", 2),
        ("not a JSON object", 1), ("power.draw not available: [N/A]", 1)]

    dbt(s.warehouse_path, "build", "--quiet", "--select", "+path:models/marts/core", "+energy_per_million_tokens",
        target_dir=tmp_path / "dbt-target")
    fact = query(s.warehouse_path, """select sum(gpu_energy_kwh), sum(requests), sum(prompt_tokens), sum(completion_tokens)
                                      from marts.inference_energy_fact""")[0]
    assert fact[0] == pytest.approx(TOTAL + LATE_KWH, rel=1e-12)
    assert fact[1:] == (5, 1000 + 500 + 0 + 2000 + 100, 400 + 100 + 0 + 1000 + 50)
    assert query(s.warehouse_path, "select gpu_energy_kwh from marts.inference_energy_fact where hour_utc = '2026-11-10 12:00'") == [
        (pytest.approx(LATE_KWH, rel=1e-12),)]
    dq = dict(query(s.warehouse_path, "select reason_kind, quarantined_rows from marts.data_quality_quarantine"))
    assert dq["duplicate request_id"] == 4 and dq["duplicate sample (same GPU and timestamp)"] == 2
