"""A scripted stand-in for the ``pynvml`` module, for tests and the overhead benchmark (no GPU needed).

It exposes the NVML functions the collector calls, with NVML's units (mW, mJ, bytes), and the real
``pynvml`` error classes, so ``except pynvml.NVMLError_...`` behaves as with a real driver. Install it
where the collector looks NVML up: ``monkeypatch.setattr(greenops.collector.nvml, "pynvml", fake)``.

Script a GPU by editing its ``FakeGpu`` between ticks: ``energy_mj = None`` (no counter, pre-Volta),
``lost = True`` (every call on it raises GpuIsLost, as a GPU that fell off the bus), ``mig`` (MIG
instances). With ``live=True`` each GPU's energy counter advances with real time at its power draw.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pynvml as _real


@dataclass
class FakeMig:
    gpu_instance_id: int
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3 MIG 3g.40gb"
    memory_used_b: int = 1024 * 1024 * 1024
    memory_total_b: int = 40 * 1024 * 1024 * 1024


@dataclass
class FakeGpu:
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    power_mw: int | None = 250_000  # None: power reading not supported
    energy_mj: int | None = 1_000_000  # None: no energy counter (pre-Volta)
    util_gpu_pct: int = 75
    util_memory_pct: int = 40
    memory_used_b: int = 20 * 1024**3
    memory_total_b: int = 80 * 1024**3
    temperature_c: int = 55
    sm_clock_mhz: int = 1755
    power_limit_mw: int = 700_000
    lost: bool = False
    mig: list[FakeMig] | None = None  # None: MIG disabled; a list (maybe empty): MIG enabled
    _energy_read_at: float | None = field(default=None, repr=False)


class _Handle:
    def __init__(self, gpu: FakeGpu, mig: FakeMig | None = None):
        self.gpu, self.mig = gpu, mig


class FakeNvml:
    """``FakeNvml(8)``: eight identical GPUs; ``FakeNvml(gpus=[FakeGpu(...), ...])``: scripted ones."""

    NVMLError = _real.NVMLError
    NVMLError_NotSupported = _real.NVMLError_NotSupported
    NVMLError_GpuIsLost = _real.NVMLError_GpuIsLost
    NVMLError_NotFound = _real.NVMLError_NotFound
    NVMLError_Uninitialized = _real.NVMLError_Uninitialized
    NVML_TEMPERATURE_GPU = _real.NVML_TEMPERATURE_GPU
    NVML_CLOCK_SM = _real.NVML_CLOCK_SM
    NVML_DEVICE_MIG_ENABLE = _real.NVML_DEVICE_MIG_ENABLE
    NVML_DEVICE_MIG_DISABLE = _real.NVML_DEVICE_MIG_DISABLE

    def __init__(self, count: int = 0, gpus: list[FakeGpu] | None = None, live: bool = False):
        self.gpus = gpus if gpus is not None else [FakeGpu(uuid=f"GPU-fake-{i:04d}") for i in range(count)]
        self.live = live
        self.initialized = False
        self.handle_requests: list[int] = []  # every nvmlDeviceGetHandleByIndex index, in order

    # --- library -------------------------------------------------------------------------------
    def nvmlInit(self):
        self.initialized = True

    def nvmlShutdown(self):
        self._check_init()
        self.initialized = False

    def nvmlSystemGetDriverVersion(self):
        return "fake-550.00"

    def nvmlDeviceGetCount(self):
        self._check_init()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index):
        self._check_init()
        self.handle_requests.append(index)
        return _Handle(self._alive(self.gpus[index]))

    # --- identity ------------------------------------------------------------------------------
    def nvmlDeviceGetUUID(self, h):
        return h.mig.uuid if h.mig else self._alive(h.gpu).uuid

    def nvmlDeviceGetName(self, h):
        return h.mig.name if h.mig else self._alive(h.gpu).name

    # --- readings (NVML units) -----------------------------------------------------------------
    def nvmlDeviceGetPowerUsage(self, h):
        gpu = self._board(h)
        if gpu.power_mw is None:
            raise _real.NVMLError_NotSupported()
        return gpu.power_mw

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        gpu = self._board(h)
        if gpu.energy_mj is None:
            raise _real.NVMLError_NotSupported()
        if self.live:  # mJ = mW x s
            now = time.monotonic()
            if gpu._energy_read_at is not None:
                gpu.energy_mj += int((gpu.power_mw or 0) * (now - gpu._energy_read_at))
            gpu._energy_read_at = now
        return gpu.energy_mj

    def nvmlDeviceGetUtilizationRates(self, h):
        gpu = self._board(h)
        if gpu.mig is not None or h.mig:  # as NVML: no utilization on MIG-enabled boards or instances
            raise _real.NVMLError_NotSupported()
        return SimpleNamespace(gpu=gpu.util_gpu_pct, memory=gpu.util_memory_pct)

    def nvmlDeviceGetMemoryInfo(self, h):
        gpu = self._board(h)
        if h.mig:
            return SimpleNamespace(used=h.mig.memory_used_b, total=h.mig.memory_total_b,
                                   free=h.mig.memory_total_b - h.mig.memory_used_b)
        return SimpleNamespace(used=gpu.memory_used_b, total=gpu.memory_total_b,
                               free=gpu.memory_total_b - gpu.memory_used_b)

    def nvmlDeviceGetTemperature(self, h, sensor):
        assert sensor == _real.NVML_TEMPERATURE_GPU
        return self._board(h).temperature_c

    def nvmlDeviceGetClockInfo(self, h, clock_type):
        assert clock_type == _real.NVML_CLOCK_SM
        return self._board(h).sm_clock_mhz

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return self._board(h).power_limit_mw

    # --- MIG -----------------------------------------------------------------------------------
    def nvmlDeviceGetMigMode(self, h):
        gpu = self._board(h)
        mode = _real.NVML_DEVICE_MIG_DISABLE if gpu.mig is None else _real.NVML_DEVICE_MIG_ENABLE
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, h):
        return 7 if self._board(h).mig is not None else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h, index):
        migs = self._board(h).mig or []
        if index >= len(migs):
            raise _real.NVMLError_NotFound()
        return _Handle(h.gpu, migs[index])

    def nvmlDeviceGetGpuInstanceId(self, h):
        if not h.mig:
            raise _real.NVMLError_NotSupported()
        return h.mig.gpu_instance_id

    # --- helpers -------------------------------------------------------------------------------
    def _check_init(self):
        if not self.initialized:
            raise _real.NVMLError_Uninitialized()

    def _alive(self, gpu: FakeGpu) -> FakeGpu:
        self._check_init()
        if gpu.lost:
            raise _real.NVMLError_GpuIsLost()
        return gpu

    def _board(self, h: _Handle) -> FakeGpu:
        return self._alive(h.gpu)
