"""nvidia-smi CSV: the real captures parse with their values; bad rows are quarantined with reasons."""

from __future__ import annotations

import gzip
import shutil
from datetime import datetime

import pytest

from greenops.sources import nvidia_smi
from greenops.sources.common import UnreadableFileError, describe, new_connection

CAPTURES = "nvidia_smi_captures/extracted"


def _parse(landing, path, tz="UTC"):
    return nvidia_smi.parse(new_connection(), describe(landing, path), tz)


def _copy(external, landing, rel, host="gpu-node"):
    target = landing / "gpu_telemetry" / f"host={host}" / rel.split("/")[-1]
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(external / rel, target)
    return target


@pytest.mark.parametrize(
    "capture, name, power_w, util_gpu, util_mem, mem_used, mem_total, limit_w",
    [
        ("linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load__query-gpu.csv", "NVIDIA H100 80GB HBM3", 631.95, 100, 11, 19818, 81559, 700),
        ("linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle__query-gpu.csv", "NVIDIA H100 80GB HBM3", 69.85, 0, 0, 0, 81559, 700),
        ("linux-x86_64__nvidia-h100-mig__590.48.01__load__query-gpu.csv", "NVIDIA H100 80GB HBM3", 433.78, None, None, 11125, 81559, 700),
        ("linux-x86_64__nvidia-h200__590.48.01__load__query-gpu.csv", "NVIDIA H200", 627.40, 100, 7, 32362, 143771, 700),
        ("linux-x86_64__nvidia-l40s__595.80__idle__query-gpu.csv", "NVIDIA L40S", 144.97, 100, 9, 0, 46068, 350),
    ],
)
def test_real_full_query_gpu_captures(external, landing, capture, name, power_w, util_gpu, util_mem, mem_used, mem_total, limit_w):
    # ~200-column `--query-gpu` captures from real machines: we pick our fields by name, units stripped
    path = _copy(external, landing, f"{CAPTURES}/{capture}")
    samples, rejects = _parse(landing, path)
    assert rejects.num_rows == 0
    assert samples.num_rows == 1
    row = samples.to_pylist()[0]
    assert row["gpu_name"] == name
    assert row["gpu_index"] == 0
    assert row["gpu_uuid"] == "GPU-00000000-0000-0000-0000-000000000000"
    assert row["power_w"] == pytest.approx(power_w)
    assert row["utilization_gpu_pct"] == util_gpu  # [N/A] on MIG becomes NULL
    assert row["utilization_memory_pct"] == util_mem
    assert row["memory_used_mib"] == mem_used
    assert row["memory_total_mib"] == mem_total
    assert row["power_limit_w"] == limit_w
    assert row["host"] == "gpu-node"


def test_local_timestamps_use_the_inventory_zone(external, landing):
    path = _copy(external, landing, f"{CAPTURES}/linux-x86_64__nvidia-h200__590.48.01__load__query-gpu.csv")
    utc = _parse(landing, path, "UTC")[0].to_pylist()[0]["sample_ts_utc"]
    berlin = _parse(landing, path, "Europe/Berlin")[0].to_pylist()[0]["sample_ts_utc"]
    assert utc == datetime(2026, 7, 3, 22, 11, 9, 763000)
    assert berlin == datetime(2026, 7, 3, 20, 11, 9, 763000)  # CEST is UTC+2 in July


@pytest.mark.parametrize("tz, offset_h", [("UTC", 0), ("Europe/Berlin", 1)])
def test_timestamp_forms_native_and_others(landing, tz, offset_h):
    # nvidia-smi's own format is read by strptime, every other form by the general parser: same instants
    path = landing / "gpu_telemetry" / "host=a" / "smi.csv"
    path.parent.mkdir(parents=True)
    stamps = ["2026/11/20 10:00:00.5", "2026/11/20 10:00:01.050", "2026/11/20 10:00:02", "2026/11/20 10:00:03.1234",
              "2026-11-20T10:00:04.000", "2026/11/20 10:00:05.000+03:00", "2026-11-20 10:00:06Z", " 2026/11/20 10:00:07.007 "]
    path.write_text("timestamp, index, power.draw [W]\n" + "".join(f"{t}, 0, 50.0 W\n" for t in stamps))
    samples, rejects = _parse(landing, path, tz)
    assert rejects.num_rows == 0
    got = [r["sample_ts_utc"] for r in samples.to_pylist()]
    local = [datetime(2026, 11, 20, 10 - offset_h, 0, s, us) for s, us in [(0, 500000), (1, 50000), (2, 0), (3, 123400), (4, 0)]]
    assert got == local + [datetime(2026, 11, 20, 7, 0, 5), datetime(2026, 11, 20, 10, 0, 6), datetime(2026, 11, 20, 10 - offset_h, 0, 7, 7000)]


def test_custom_header_with_offsets(external, landing):
    # 8x H100 node logged by a custom script: `gpu` holds the index, timestamps carry +08:00
    path = _copy(external, landing, "nvidia_smi_timeseries/h100x8_node_gpu_glasses_nvidia_smi.csv")
    samples, rejects = _parse(landing, path, "America/New_York")  # the offset wins over the zone
    assert rejects.num_rows == 0
    assert samples.num_rows == 43
    rows = samples.to_pylist()
    assert sorted({r["gpu_index"] for r in rows}) == list(range(8))
    assert rows[0]["sample_ts_utc"] == datetime(2025, 9, 8, 9, 26, 50)
    assert rows[0]["power_w"] == pytest.approx(74.01)
    assert rows[0]["memory_total_mib"] == 81559
    assert rows[0]["temperature_c"] == 33


def test_nounits_noheader_uses_the_documented_field_order(landing):
    path = landing / "gpu_telemetry" / "host=a" / "smi.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "2026/11/20 10:00:00.000, 0, GPU-1, NVIDIA L4, 55.5, 30, 5, 100, 23034\n"
        "2026/11/20 10:00:01.000, 0, GPU-1, NVIDIA L4, 56.5, 31, 5, 100, 23034\n"
    )
    samples, rejects = _parse(landing, path)
    assert rejects.num_rows == 0
    assert [r["power_w"] for r in samples.to_pylist()] == [55.5, 56.5]
    assert samples.to_pylist()[0]["gpu_name"] == "NVIDIA L4"


def test_bad_rows_are_rejected_with_line_and_reason(landing):
    path = landing / "gpu_telemetry" / "host=a" / "smi.csv"
    path.parent.mkdir(parents=True)
    header = "timestamp, index, uuid, name, power.draw [W], enforced.power.limit [W]"
    lines = [
        header,
        "2026/11/20 10:00:00.000, 0, GPU-1, NVIDIA H100, 300.00 W, 700.00 W",  # 2: fine
        "2026/11/20 10:00:01.000, 0, GPU-1, NVIDIA H100, [N/A], 700.00 W",  # 3
        "2026/11/20 10:00:02.000, 0, GPU-1, NVIDIA H100, lots W, 700.00 W",  # 4
        "",  # 5: blank lines are skipped but keep numbering
        "2026/11/20 10:00:03.000, 0, GPU-1, NVIDIA H100, -5.00 W, 700.00 W",  # 6
        "2026/11/20 10:00:04.000, 0, GPU-1, NVIDIA H100, 1200.00 W, 700.00 W",  # 7
        "2026/11/20 10:00:05.000, 0, GPU-1, NVI",  # 8: truncated
        "yesterday, 0, GPU-1, NVIDIA H100, 300.00 W, 700.00 W",  # 9
    ]
    path.write_text("\n".join(lines) + "\n")
    samples, rejects = _parse(landing, path)
    assert samples.num_rows == 1
    got = {r["_source_line"]: r["reason"] for r in rejects.to_pylist()}
    assert got == {
        3: "power.draw not available: [N/A]",
        4: "power.draw is not a number: lots W",
        6: "negative power: -5.0 W",
        7: "power 1200.0 W above the GPU's limit of 700.0 W",
        8: "expected 6 fields, found 4",
        9: "unparseable timestamp: yesterday",
    }


def test_a_file_without_power_fails_naming_the_file(landing):
    path = landing / "gpu_telemetry" / "host=a" / "temps.csv"
    path.parent.mkdir(parents=True)
    path.write_text("timestamp, index, temperature.gpu\n2026/11/20 10:00:00.000, 0, 40\n")
    with pytest.raises(UnreadableFileError, match=r"gpu_telemetry/host=a/temps.csv.*power.draw"):
        _parse(landing, path)


def test_truncated_gzip_fails_naming_the_file(landing):
    path = landing / "gpu_telemetry" / "host=a" / "smi.csv.gz"
    path.parent.mkdir(parents=True)
    data = gzip.compress(("timestamp, index, power.draw [W]\n" + "2026/11/20 10:00:00.000, 0, 300 W\n" * 5000).encode())
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFileError, match=r"cannot read gpu_telemetry/host=a/smi.csv.gz"):
        _parse(landing, path)


def test_a_headerless_file_takes_no_units_from_its_first_row(landing):
    # without a header the first line is a row: its "[N/A]" is a value, not a unit for the column
    path = landing / "gpu_telemetry" / "host=a" / "smi.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "2026/11/20 10:00:00.000, 0, GPU-1, NVIDIA L4, 55.5 W, [N/A], 5 %, 100 MiB, 23034 MiB\n"
        "2026/11/20 10:00:01.000, 0, GPU-1, NVIDIA L4, 56.5 W, 31 %, 5 %, 100 MiB, 23034 MiB\n"
    )
    samples, rejects = _parse(landing, path)
    assert rejects.num_rows == 0
    assert [(r["power_w"], r["utilization_gpu_pct"]) for r in samples.to_pylist()] == [(55.5, None), (56.5, 31)]
