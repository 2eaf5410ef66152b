"""The on-prem NVML collector (``python -m greenops.collector``): GPU samples to hourly Parquet parts.

``nvml`` samples the GPUs and runs the loop, ``storage`` writes the files and applies retention,
``fake_nvml`` stands in for NVML in tests and in ``bench`` (the overhead measurement).
Operator guide: docs/collector.md.
"""

from greenops.collector.nvml import Collector, main
from greenops.collector.storage import SAMPLE_SCHEMA

__all__ = ["Collector", "SAMPLE_SCHEMA", "main"]
