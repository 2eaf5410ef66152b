"""The bad-input catalogue: every kind of broken input we know of, what happens to it, proven.

Row-level problems go to `raw.quarantine` (file, line, reason) and the run goes on; whole-file problems
fail the task with `cannot read <file>: <problem>` and leave the day as it was. Each case below is one
row of the table in docs/reliability.md ("Bad input"), by its id.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from greenops import ingest
from greenops.sources import aws_cur
from greenops.sources.common import LandingFile, UnreadableFileError, new_connection
from reliability.rel_support import query, settings_for

DAY = date(2026, 11, 10)
FLEET = """
sites:
  - {site: lab, pue: 1.5, grid_zone: DE, timezone: UTC}
  - {site: ber, pue: 1.4, grid_zone: DE, timezone: Europe/Berlin}
hosts:
  - {host: lab-gpu01, site: lab, gpu_model: NVIDIA H100 80GB HBM3, gpu_count: 2}
  - {host: lab-gpu02, site: lab, gpu_model: NVIDIA L40S, gpu_count: 1}
  - {host: ber-gpu01, site: ber, gpu_model: NVIDIA H100 80GB HBM3, gpu_count: 1}
models:
  - {model: m-a, family: test, parameters_billion: 8, tier: small}
projects:
  - {project: p1, team: t1, weekly_carbon_budget_kgco2e: 1.0}
deployments:
  - {deployment: dep-a, model: m-a, project: p1, host: lab-gpu01, gpus: [0], valid_from: 2026-01-01}
"""

SMI = "gpu_telemetry/host=lab-gpu01/date=2026-11-10/"
DCGM = "gpu_telemetry/host=lab-gpu02/date=2026-11-10/"
LOGS = "inference_logs/date=2026-11-10/"
GRID = "grid_intensity/date=2026-11-10/"
H = "timestamp, index, uuid, name, power.draw [W], enforced.power.limit [W]"


def smi(sec: int, power: str = "300.00 W", idx: int = 0, day: str = "2026/11/10", limit: str = "700.00 W") -> str:
    return f"{day} 10:00:{sec:02d}.000, {idx}, GPU-a{idx}, NVIDIA H100 80GB HBM3, {power}, {limit}"


def smi_file(*rows: str, header: str = H) -> str:
    return "\n".join([header, *rows]) + "\n"


def req(rid: str = "r1", **over) -> str:
    row = {"request_id": rid, "timestamp": "2026-11-10T10:00:00Z", "deployment": "dep-a", "model": "m-a", "project": "p1",
           "prompt_tokens": 100, "completion_tokens": 20, "status": "success"}
    row.update(over)
    return json.dumps({k: v for k, v in row.items() if v is not None})


def prom(metric: str, value: str, minute: int = 0, gpu: str = 'gpu="0",') -> str:
    ms = int(datetime(2026, 11, 10, 10, minute, tzinfo=timezone.utc).timestamp() * 1000)
    return f'{metric}{{{gpu}UUID="GPU-b0",modelName="NVIDIA L40S"}} {value} {ms}'


GRID_H = "zone,hour_utc,gco2e_per_kwh_location,gco2e_per_kwh_market"


def parquet(power, sample_ts=None, power_type=pa.float64()) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        n = len(power)
        ts = sample_ts or [datetime(2026, 11, 10, 10, 0, i) for i in range(n)]
        pq.write_table(pa.table({"sample_ts_utc": pa.array(ts, pa.timestamp("us")), "gpu_index": pa.array([0] * n, pa.int32()),
                                 "power_w": pa.array(power, power_type)}), path)
    return write


@dataclass
class Case:
    id: str
    source: str  # telemetry | requests | grid
    files: dict[str, str | bytes | Callable[[Path], None]]
    loaded: int | None = None  # rows in the day's partition after the run
    quarantined: dict[str, int] = field(default_factory=dict)  # reason prefix -> rows
    unreadable: str | None = None  # the run fails: UnreadableFileError naming the file, with this text


CASES = [
    Case("empty-file", "telemetry", {SMI + "smi.csv": ""}, loaded=0),
    Case("header-only", "telemetry", {SMI + "smi.csv": smi_file()}, loaded=0),
    Case("blank-lines-only", "grid", {GRID + "DE.csv": "\n\n  \n"}, loaded=0),
    Case("wrong-delimiter", "telemetry", {SMI + "smi.csv": smi_file(smi(0).replace(",", ";"), header=H.replace(",", ";"))},
         unreadable="separated by semicolons"),
    Case("wrong-delimiter-grid", "grid", {GRID + "DE.csv": f"{GRID_H}\nDE,2026-11-10T10:00:00Z,300,150\n".replace(",", ";")},
         unreadable="separated by semicolons"),
    Case("byte-order-mark", "telemetry", {SMI + "smi.csv": "\ufeff" + smi_file(smi(0), smi(1))}, loaded=2),
    Case("byte-order-mark-jsonl", "requests", {LOGS + "r.jsonl": "\ufeff" + req() + "\n"}, loaded=1),
    Case("crlf-line-endings", "telemetry", {SMI + "smi.csv": smi_file(smi(0), smi(1)).replace("\n", "\r\n")}, loaded=2),
    Case("not-utf8", "telemetry", {SMI + "smi.csv": smi_file(smi(0)).replace("NVIDIA", "NVÏDIA").encode("latin-1")},
         unreadable="not UTF-8 text"),
    Case("utf16", "telemetry", {SMI + "smi.csv": smi_file(smi(0)).encode("utf-16")}, unreadable="UTF-16 text"),
    Case("truncated-gzip", "telemetry", {SMI + "smi.csv.gz": gzip.compress(smi_file(*[smi(i % 60) for i in range(3000)]).encode())[:400]},
         unreadable="GZIP"),
    Case("truncated-gzip-jsonl", "requests", {LOGS + "r.jsonl.gz": gzip.compress(("\n".join(req(f"r{i}") for i in range(3000))).encode())[:400]},
         unreadable="GZIP"),
    Case("not-parquet", "telemetry", {SMI + "nvml.parquet": b"PAR1 this is not parquet"}, unreadable="nvml.parquet"),
    Case("unknown-columns", "telemetry", {SMI + "smi.csv": smi_file(smi(0) + ", 41, P0", header=H + ", temperature.gpu, pstate")}, loaded=1),
    Case("unknown-fields-jsonl", "requests", {LOGS + "r.jsonl": req(region="eu", extra={"a": 1}) + "\n"}, loaded=1),
    Case("unknown-columns-grid", "grid", {GRID + "DE.csv": f"{GRID_H},source\nDE,2026-11-10T10:00:00Z,300,150,em\n"}, loaded=1),
    Case("missing-power-column", "telemetry", {SMI + "smi.csv": "timestamp, index, temperature.gpu\n2026/11/10 10:00:00.000, 0, 40\n"},
         unreadable="header lacks power.draw"),
    Case("missing-zone-column", "grid", {GRID + "DE.csv": "hour_utc,gco2e_per_kwh_location\n2026-11-10T10:00:00Z,300\n"},
         unreadable="header lacks zone"),
    # a value that fails only while the rows are written (the parser reads Parquet in place): still names the file
    Case("parquet-gpu-index-out-of-range", "telemetry",
         {SMI + "nvml.parquet": lambda p: pq.write_table(pa.table({"sample_ts_utc": pa.array([datetime(2026, 11, 10, 10)], pa.timestamp("us")),
                                                                   "gpu_index": pa.array([2**40], pa.int64()), "power_w": [250.0]}), p)},
         unreadable="out of range"),
    # a collector file outside any host=<name>/ folder, without a host column: its rows cannot be placed
    Case("parquet-without-host", "telemetry", {"gpu_telemetry/date=2026-11-10/nvml.parquet": parquet([250.0, 260.0])},
         loaded=0, quarantined={"no host": 2}),
    Case("missing-parquet-column", "telemetry", {SMI + "nvml.parquet": lambda p: pq.write_table(pa.table({"sample_ts_utc": [datetime(2026, 11, 10)]}), p)},
         unreadable="lacks column(s) gpu_index, power_w"),
    Case("missing-field-jsonl", "requests", {LOGS + "r.jsonl": req(deployment=None) + "\n" + req("r2") + "\n"},
         loaded=1, quarantined={"missing required field deployment": 1}),
    Case("wrong-field-count", "telemetry", {SMI + "smi.csv": smi_file(smi(0), "2026/11/10 10:00:01.000, 0, GPU-a0")},
         loaded=1, quarantined={"expected 6 fields, found 3": 1}),
    Case("non-numeric-power", "telemetry", {SMI + "smi.csv": smi_file(smi(0), smi(1, "lots W"))}, loaded=1,
         quarantined={"power.draw is not a number": 1}),
    Case("na-power", "telemetry", {SMI + "smi.csv": smi_file(smi(0), smi(1, "[N/A]"), smi(2, "[Not Supported]"))}, loaded=1,
         quarantined={"power.draw not available": 2}),
    Case("na-other-field", "telemetry", {SMI + "smi.csv": smi_file(smi(0, limit="[N/A]"))}, loaded=1),
    Case("negative-power", "telemetry", {SMI + "smi.csv": smi_file(smi(0), smi(1, "-5.00 W"))}, loaded=1,
         quarantined={"negative power": 1}),
    Case("negative-power-dcgm", "telemetry", {DCGM + "dcgm.prom": prom("DCGM_FI_DEV_POWER_USAGE", "-3") + "\n"}, loaded=0,
         quarantined={"negative power": 1}),
    Case("negative-power-parquet", "telemetry", {SMI + "nvml.parquet": parquet([250.0, -1.0])}, loaded=1,
         quarantined={"negative power": 1}),
    Case("power-above-gpu-limit", "telemetry", {SMI + "smi.csv": smi_file(smi(0), smi(1, "1200.00 W"))}, loaded=1,
         quarantined={"power 1200.0 W above the GPU's limit of 700.0 W": 1}),
    Case("power-above-any-gpu", "telemetry", {SMI + "smi.csv": smi_file(smi(0, limit="[N/A]"), smi(1, "2500.00 W", limit="[N/A]"))},
         loaded=1, quarantined={"power above any GPU's limit": 1}),
    Case("power-above-gpu-limit-dcgm", "telemetry", {DCGM + "dcgm.prom": "\n".join([
        prom("DCGM_FI_DEV_POWER_USAGE", "300"), prom("DCGM_FI_DEV_POWER_MGMT_LIMIT", "350"),
        prom("DCGM_FI_DEV_POWER_USAGE", "900", 1), prom("DCGM_FI_DEV_POWER_MGMT_LIMIT", "350", 1)]) + "\n"},
         loaded=1, quarantined={"power 900.0 W above the GPU's limit of 350.0 W": 1}),
    Case("power-above-any-gpu-parquet", "telemetry", {SMI + "nvml.parquet": parquet([250.0, 2500.0])}, loaded=1,
         quarantined={"power above any GPU's limit": 1}),
    Case("energy-counter-reset", "telemetry", {DCGM + "dcgm.prom": "\n".join(
        prom("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", str(v), m) for m, v in enumerate([5_000_000, 5_012_000, 777, 12_777])) + "\n"},
         loaded=4),
    Case("energy-counter-glitch", "telemetry", {DCGM + "dcgm.prom": "\n".join(
        prom("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", str(v), m) for m, v in enumerate([5_000_000, 10**16, 10**16 + 12_000])) + "\n"},
         loaded=3),
    Case("negative-energy-counter", "telemetry", {DCGM + "dcgm.prom": prom("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "-1") + "\n"},
         loaded=0, quarantined={"negative energy counter": 1}),
    Case("not-a-number-dcgm", "telemetry", {DCGM + "dcgm.prom": prom("DCGM_FI_DEV_POWER_USAGE", "NaN") + "\n"
                                            + prom("DCGM_FI_DEV_POWER_USAGE", "+Inf", 1) + "\n"},
         loaded=0, quarantined={"value is not a number": 2}),
    Case("metric-without-gpu-label", "telemetry", {DCGM + "dcgm.prom": prom("DCGM_FI_DEV_POWER_USAGE", "200", gpu="") + "\n"},
         loaded=0, quarantined={"metric DCGM_FI_DEV_POWER_USAGE has no gpu label": 1}),
    Case("dcgm-without-time", "telemetry", {DCGM + "metrics.prom": 'DCGM_FI_DEV_POWER_USAGE{gpu="0"} 200\n'},
         unreadable="no timestamp"),
    Case("parquet-wrong-type", "telemetry", {SMI + "nvml.parquet": parquet(["250", "x"], power_type=pa.string())},
         unreadable="column power_w is VARCHAR, not a number"),
    Case("duplicate-samples", "telemetry", {SMI + "a.csv": smi_file(smi(0), smi(1)), SMI + "b.csv": smi_file(smi(1), smi(2))},
         loaded=3, quarantined={"duplicate sample (same GPU and timestamp)": 1}),
    Case("samples-out-of-order", "telemetry", {SMI + "smi.csv": smi_file(smi(5), smi(1), smi(3), smi(0))}, loaded=4),
    Case("repeated-header", "telemetry", {SMI + "smi.csv": smi_file(smi(0), H, smi(1))}, loaded=2),
    Case("repeated-header-grid", "grid", {GRID + "DE.csv": f"{GRID_H}\nDE,2026-11-10T10:00:00Z,300,150\n{GRID_H}\nDE,2026-11-10T11:00:00Z,280,\n"},
         loaded=2),
    Case("changed-header-mid-file", "telemetry", {SMI + "smi.csv": smi_file(smi(0), "timestamp, index, power.draw [W]", "2026/11/10 10:00:01.000, 0, 300 W")},
         unreadable="another header on line 3"),
    Case("future-timestamp", "telemetry", {SMI + "smi.csv": smi_file(smi(0), smi(1, day="2026/11/12"), smi(2, day="2027/11/10"),
                                                                     smi(3, "-5.00 W", day="2027/11/10"))},
         loaded=1, quarantined={"timestamp in the future": 2, "negative power": 1}),
    Case("past-timestamp", "requests", {LOGS + "r.jsonl": req() + "\n" + req("old", timestamp="2026-11-01T10:00:00Z") + "\n"},
         loaded=1, quarantined={"timestamp in the past": 1}),
    Case("no-zone-jsonl", "requests", {LOGS + "r.jsonl": req(timestamp="2026-11-10T10:00:00") + "\n"}, loaded=0,
         quarantined={"timestamp has no UTC offset": 1}),
    Case("unparseable-timestamp", "telemetry", {SMI + "smi.csv": smi_file(smi(0), smi(1).replace("2026/11/10 10:00:01.000", "yesterday"))},
         loaded=1, quarantined={"unparseable timestamp": 1}),
    Case("negative-tokens", "requests", {LOGS + "r.jsonl": req(completion_tokens=-5) + "\n"}, loaded=0,
         quarantined={"negative token count": 1}),
    Case("non-integer-tokens", "requests", {LOGS + "r.jsonl": req(prompt_tokens="many") + "\n"}, loaded=0,
         quarantined={"token counts are not integers": 1}),
    Case("cached-above-prompt", "requests", {LOGS + "r.jsonl": req(cached_prompt_tokens=500) + "\n"}, loaded=0,
         quarantined={"cached_prompt_tokens above prompt_tokens": 1}),
    Case("unknown-deployment", "requests", {LOGS + "r.jsonl": req(deployment="shadow-ai") + "\n"}, loaded=0,
         quarantined={"unknown deployment shadow-ai": 1}),
    Case("duplicate-request-ids", "requests", {LOGS + "a.jsonl": req("r1") + "\n" + req("r1") + "\n", LOGS + "b.jsonl": req("r1") + "\n"},
         loaded=1, quarantined={"duplicate request_id": 2}),
    Case("not-json", "requests", {LOGS + "r.jsonl": req() + '\n{"request_id": "r2", "timestamp": \n[1, 2]\n'}, loaded=1,
         quarantined={"not a JSON object": 2}),
    Case("negative-intensity", "grid", {GRID + "DE.csv": f"{GRID_H}\nDE,2026-11-10T10:00:00Z,-3,\nDE,2026-11-10T11:00:00Z,300,x\n"},
         loaded=0, quarantined={"negative intensity": 1, "gco2e_per_kwh_market is not a number": 1}),
]

#: A good file per source, loaded before a file that cannot be read is dropped beside it.
GOOD = {"telemetry": {SMI + "0-good.csv": smi_file(smi(30), smi(31))},
        "requests": {LOGS + "0-good.jsonl": req("g1") + "\n" + req("g2") + "\n"},
        "grid": {GRID + "0-good.csv": f"{GRID_H}\nDE,2026-11-10T20:00:00Z,300,\nDE,2026-11-10T21:00:00Z,300,\n"}}

INGEST = {"telemetry": ingest.ingest_gpu_telemetry, "requests": ingest.ingest_inference_logs, "grid": ingest.ingest_grid_intensity}
TABLE = {"telemetry": ("gpu_telemetry_samples", "sample_date"), "requests": ("inference_requests", "request_date"),
         "grid": ("grid_intensity_hourly", "hour_date")}


def _place(landing: Path, files: dict) -> None:
    for rel, content in files.items():
        path = landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


@pytest.fixture()
def env(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(FLEET)
    return settings_for(tmp_path / "landing", tmp_path / "wh.duckdb", fleet)


def _day_rows(s, source: str) -> tuple[int, dict[str, int]]:
    table, column = TABLE[source]
    loaded = query(s.warehouse_path, f"select count(*) from raw.{table} where {column} = ?", [DAY])[0][0]
    reasons = dict(query(s.warehouse_path, "select reason, count(*) from raw.quarantine where partition_date = ? and source = ? "
                                           "group by 1", [DAY, table]))
    return loaded, reasons


def test_the_catalogue_has_every_kind_once():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, env):
    s = env
    run = INGEST[case.source]
    if case.unreadable:
        # first a good load of the day, which the failed run must leave alone
        _place(s.landing_dir, GOOD[case.source])
        run(DAY, settings=s)
        before = _day_rows(s, case.source)
        assert before[0] == 2
        _place(s.landing_dir, case.files)
        with pytest.raises(UnreadableFileError) as failure:
            run(DAY, settings=s)
        message = str(failure.value)
        named = [rel for rel in case.files if f"cannot read {rel}" in message]
        assert named and case.unreadable in message, message
        assert _day_rows(s, case.source) == before
        return
    _place(s.landing_dir, case.files)
    run(DAY, settings=s)
    loaded, reasons = _day_rows(s, case.source)
    assert loaded == case.loaded
    got = {prefix: sum(n for reason, n in reasons.items() if reason.startswith(prefix)) for prefix in case.quarantined}
    assert got == case.quarantined and sum(reasons.values()) == sum(case.quarantined.values()), reasons
    # every quarantined row names its file and line
    assert query(s.warehouse_path, "select count(*) from raw.quarantine where _source_file is null or _source_line is null") == [(0,)]


# --- cases whose outcome is a value, not a count -----------------------------------------------------


def test_unordered_samples_load_as_the_ordered_ones(env):
    _place(env.landing_dir, {SMI + "smi.csv": smi_file(smi(5), smi(1), smi(3), smi(0))})
    ingest.ingest_gpu_telemetry(DAY, settings=env)
    rows = query(env.warehouse_path, "select sample_ts_utc, power_w from raw.gpu_telemetry_samples order by _source_line")
    assert [r[0].second for r in rows] == [5, 1, 3, 0]  # as written; dbt orders by time (int_gpu_energy_intervals)


def test_timestamps_without_zone(env):
    # nvidia-smi: the host's site zone (Berlin is UTC+1 in November); grid: UTC; JSON Lines: refused (above)
    _place(env.landing_dir, {
        "gpu_telemetry/host=ber-gpu01/date=2026-11-10/smi.csv": smi_file(smi(0)).replace("10:00:00", "11:00:00"),
        "gpu_telemetry/host=lab-gpu01/date=2026-11-10/smi.csv": smi_file(smi(0)),
        GRID + "DE.csv": f"{GRID_H}\nDE,2026-11-10T10:00:00,300,\n"})
    ingest.ingest_gpu_telemetry(DAY, settings=env)
    ingest.ingest_grid_intensity(DAY, settings=env)
    assert query(env.warehouse_path, "select host, sample_ts_utc from raw.gpu_telemetry_samples order by 1") == [
        ("ber-gpu01", datetime(2026, 11, 10, 10, 0)), ("lab-gpu01", datetime(2026, 11, 10, 10, 0))]
    assert query(env.warehouse_path, "select hour_utc from raw.grid_intensity_hourly") == [(datetime(2026, 11, 10, 10, 0),)]


def test_the_hour_that_repeats_when_daylight_saving_time_ends(env):
    # Berlin, 2026-10-25: local 02:00-02:59 happens twice (CEST, then CET). Every sample keeps its own
    # UTC time: none is taken for a duplicate and no hour is left without samples.
    first = datetime(2026, 10, 24, 23, 30, tzinfo=timezone.utc)
    instants = [first + timedelta(minutes=5 * i) for i in range(48)]  # 23:30 to 03:25 UTC
    lines = [f"{t.astimezone(ZoneInfo('Europe/Berlin')):%Y/%m/%d %H:%M:%S}.000, 0, GPU-c0, NVIDIA H100 80GB HBM3, 300.00 W, 700.00 W"
             for t in instants]
    _place(env.landing_dir, {"gpu_telemetry/host=ber-gpu01/date=2026-10-25/smi.csv": smi_file(*lines)})
    ingest.ingest_gpu_telemetry(date(2026, 10, 24), settings=env)
    ingest.ingest_gpu_telemetry(date(2026, 10, 25), settings=env)
    got = [r[0] for r in query(env.warehouse_path, "select sample_ts_utc from raw.gpu_telemetry_samples order by 1")]
    assert got == [t.replace(tzinfo=None) for t in instants]
    assert query(env.warehouse_path, "select count(*) from raw.quarantine") == [(0,)]


def test_future_rows_are_in_no_day_but_the_quarantine_of_the_files_date(env):
    # a row a day after the file's date belongs to that next day (the run for D+1 reads the file too);
    # a row further ahead would be read by no run: it is quarantined in the file's date partition.
    _place(env.landing_dir, {SMI + "smi.csv": smi_file(smi(0), smi(1, day="2026/11/11"), smi(2, day="2026/11/13"))})
    for day in (DAY - timedelta(days=1), DAY, DAY + timedelta(days=1), DAY + timedelta(days=3)):
        ingest.ingest_gpu_telemetry(day, settings=env)
    assert query(env.warehouse_path, "select sample_date, count(*) from raw.gpu_telemetry_samples group by 1 order by 1") == [
        (DAY, 1), (DAY + timedelta(days=1), 1)]
    rows = query(env.warehouse_path, "select partition_date, reason, raw_record, _source_line from raw.quarantine")
    assert len(rows) == 1 and rows[0][0] == DAY and rows[0][3] == 4
    assert rows[0][1] == "timestamp in the future: 2026-11-13 10:00:02 UTC is more than a day after the file's date 2026-11-10"
    assert json.loads(rows[0][2])["power_w"] == 300.0


def test_clock_skew_across_hosts_is_loaded_as_stamped(env):
    # lab-gpu02's clock runs 90 s ahead: nothing can tell from the data alone; each GPU's energy is
    # integrated on its own clock (so totals are right) and only its hour boundaries shift by the skew.
    _place(env.landing_dir, {SMI + "smi.csv": smi_file(smi(0), smi(10)),
                             DCGM + "dcgm.prom": prom("DCGM_FI_DEV_POWER_USAGE", "200", 1) + "\n"
                             + prom("DCGM_FI_DEV_POWER_USAGE", "200", 2) + "\n"})
    ingest.ingest_gpu_telemetry(DAY, settings=env)
    assert query(env.warehouse_path, "select host, count(*) from raw.gpu_telemetry_samples group by 1 order by 1") == [
        ("lab-gpu01", 2), ("lab-gpu02", 2)]
    assert query(env.warehouse_path, "select count(*) from raw.quarantine") == [(0,)]


# --- billing files (AWS CUR) --------------------------------------------------------------------------


def _cur(tmp_path: Path, rows: list[dict]):
    path = tmp_path / "cur.csv"
    cols = ["line_item_usage_start_date", "line_item_usage_end_date", "line_item_unblended_cost", "line_item_currency_code"]
    path.write_text(",".join(cols) + "\n" + "".join(",".join(r[c] for c in cols) + "\n" for r in rows))
    return aws_cur.parse_file(new_connection(), LandingFile(path, "aws_cur/cur.csv", None, None))


def test_cur_period_that_ends_before_it_starts_is_quarantined(tmp_path):
    rows, rejects = _cur(tmp_path, [
        {"line_item_usage_start_date": "2026-11-01T05:00:00Z", "line_item_usage_end_date": "2026-11-01T04:00:00Z",
         "line_item_unblended_cost": "1", "line_item_currency_code": "USD"}])
    assert rows.num_rows == 0 and rejects.column("reason").to_pylist() == ["usage period ends before it starts"]


def test_cur_rows_in_another_currency_are_kept_with_their_currency(tmp_path):
    # kept as delivered (never converted, never summed with USD): the cost model keeps only USD charges
    # (int_deployment_costs_hourly: BillingCurrency = 'USD'), and they stay visible in int_charges
    rows, rejects = _cur(tmp_path, [
        {"line_item_usage_start_date": "2026-11-01T00:00:00Z", "line_item_usage_end_date": "2026-11-01T01:00:00Z",
         "line_item_unblended_cost": "1.5", "line_item_currency_code": "EUR"},
        {"line_item_usage_start_date": "2026-11-01T00:00:00Z", "line_item_usage_end_date": "2026-11-01T01:00:00Z",
         "line_item_unblended_cost": "2.5", "line_item_currency_code": "USD"}])
    assert rejects.num_rows == 0
    assert sorted(zip(rows.column("line_item_currency_code").to_pylist(), rows.column("line_item_unblended_cost").to_pylist())) == [
        ("EUR", 1.5), ("USD", 2.5)]
