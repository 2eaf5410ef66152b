"""Azure GPU VM sizes (NC, ND, NV series): the GPU each size carries and how many.

``azure_gpu_vm_sizes.csv`` (beside this module) has one row per size: ``vm_size`` (as Azure bills it
in ``additionalInfo.ServiceType`` and ``raw.azure_*.vm_size``), ``series``, ``gpu_name`` (as
``nvidia-smi`` / NVML report it, the key the project's GPU power figures match on), ``gpu_count``
per VM (a fraction for NVadsA10_v5's partial GPUs: 1/6, 1/3, 1/2 of an A10), ``gpu_memory_gb`` per
whole GPU, and ``source_url``: Microsoft's size-series page the row comes from. Meant to become a dbt
seed. Left out: retired series (NC, NCv2, ND, NV), AMD GPUs (NVv4, NGads V620, ND MI300X),
confidential NCCads_H100_v5 and NCads_A10_v4.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

CSV_PATH = Path(__file__).with_name("azure_gpu_vm_sizes.csv")


@lru_cache(maxsize=1)
def gpu_vm_sizes() -> dict[str, dict]:
    """vm_size (lower case) -> its row, ``gpu_count`` and ``gpu_memory_gb`` as floats."""
    with CSV_PATH.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {r["vm_size"].lower(): {**r, "gpu_count": float(r["gpu_count"]), "gpu_memory_gb": float(r["gpu_memory_gb"])}
            for r in rows}


def gpu_of_vm_size(vm_size: str | None) -> tuple[str, float] | None:
    """``(gpu_name, gpu_count)`` of a size (``Standard_NC40ads_H100_v5``, any case), None if not a known GPU size."""
    row = gpu_vm_sizes().get((vm_size or "").strip().lower())
    return (row["gpu_name"], row["gpu_count"]) if row else None
