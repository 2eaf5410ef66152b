"""dcgm-exporter scrapes: the real scrape parses, energy comes from the counter, untimed files fail."""

from __future__ import annotations

import shutil
from datetime import datetime

import pytest

from greenops.sources import dcgm
from greenops.sources.common import UnreadableFileError, describe, new_connection

SCRAPE = "dcgm_exporter_scrape/datadog_dcgm_metrics.txt"


def _place(external, landing, name):
    target = landing / "gpu_telemetry" / "host=t4-node" / name
    target.parent.mkdir(parents=True)
    shutil.copy(external / SCRAPE, target)
    return target


def test_real_scrape_with_scrape_time_in_the_name(external, landing):
    path = _place(external, landing, "dcgm_20240301T120000Z.prom")
    samples, rejects = dcgm.parse(new_connection(), describe(landing, path))
    assert rejects.num_rows == 0
    rows = samples.to_pylist()
    # the T4 with power and energy readings; the second sandbox's T4 and the A10G line report
    # neither power nor energy, so they give no sample
    assert len(rows) == 1
    row = rows[0]
    assert row["gpu_uuid"] == "GPU-20c56d28-0da5-6d26-a36a-e7af1ce2586e"
    assert row["gpu_name"] == "Tesla T4"
    assert row["host"] == "t4-node"
    assert row["sample_ts_utc"] == datetime(2024, 3, 1, 12, 0, 0)
    assert row["power_w"] == pytest.approx(8.969)
    assert row["energy_counter_mj"] == 128996013
    assert row["temperature_c"] == 25
    assert row["sm_clock_mhz"] == 300
    assert row["memory_used_mib"] == 0
    assert row["memory_total_mib"] == 15109  # used + free


def test_untimed_scrape_without_time_in_name_fails(external, landing):
    path = _place(external, landing, "metrics.prom")
    with pytest.raises(UnreadableFileError, match=r"gpu_telemetry/host=t4-node/metrics.prom.*no timestamp"):
        dcgm.parse(new_connection(), describe(landing, path))


def test_sample_timestamps_and_bad_values(landing):
    path = landing / "gpu_telemetry" / "host=n1" / "dump.prom"
    path.parent.mkdir(parents=True)
    path.write_text(
        "# HELP DCGM_FI_DEV_POWER_USAGE Power draw (in W).\n"
        'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-a",modelName="NVIDIA H100 80GB HBM3"} 250.5 1763640000000\n'
        'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{gpu="0",UUID="GPU-a"} 1000 1763640000000\n'
        'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-a"} 251.5 1763640060000\n'
        'DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-a"} NaNish 1763640120000\n'
        "DCGM_FI_DEV_POWER_USAGE 10 1763640120000\n"
    )
    samples, rejects = dcgm.parse(new_connection(), describe(landing, path))
    rows = samples.to_pylist()
    assert [(r["sample_ts_utc"], r["power_w"], r["energy_counter_mj"]) for r in rows] == [
        (datetime(2025, 11, 20, 12, 0), 250.5, 1000),
        (datetime(2025, 11, 20, 12, 1), 251.5, None),
    ]
    assert {r["_source_line"]: r["reason"] for r in rejects.to_pylist()} == {
        5: "value is not a number: NaNish",
        6: "metric DCGM_FI_DEV_POWER_USAGE has no gpu label",
    }
