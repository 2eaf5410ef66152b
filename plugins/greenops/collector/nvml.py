"""The on-prem NVML collector: samples every GPU of a host and writes hourly Parquet parts.

``python -m greenops.collector --dir DIR`` (``plugins/`` on PYTHONPATH) samples each GPU once per
``--interval`` seconds through NVML, buffers the rows in memory and writes them every
``--flush-interval`` seconds (and at each UTC hour change) as a new Parquet part under
``DIR/host=<host>/date=<YYYY-MM-DD>/``; at each UTC hour change the finished hour's parts are
compacted into one file (see ``storage``). Operator guide: docs/collector.md.

NVML is reached only through the module-level name ``pynvml``, so tests and the overhead benchmark can
replace it with a fake (``greenops.collector.fake_nvml``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pynvml

from greenops.collector.storage import SAMPLE_SCHEMA, PartWriter, check_host

log = logging.getLogger("greenops.collector")

MIB = 1024 * 1024
#: ``--mig-rows``: one row per physical GPU (default), or one per MIG GPU instance (see _read_gpu).
MIG_ROW_MODES = ("gpu", "instances")


class _Gpu:
    """A GPU's NVML handle and what does not change while the handle is valid."""

    def __init__(self, index: int):
        self.index = index
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.uuid = _text(pynvml.nvmlDeviceGetUUID(self.handle))
        self.name = _text(pynvml.nvmlDeviceGetName(self.handle))
        mode = _optional(pynvml.nvmlDeviceGetMigMode, self.handle)
        # MIG mode changes only with a GPU reset, which invalidates the handle: reading it once is enough.
        self.mig_enabled = mode is not None and mode[0] == pynvml.NVML_DEVICE_MIG_ENABLE


class Collector:
    """Samples every GPU through NVML and writes the samples as Parquet parts.

    ``out_dir``: the output root (``host=<host>/date=...`` folders go below it). ``host``: the host
    name written in rows and folder names (ValueError if it cannot name a folder).
    ``flush_interval_s`` > 0: seconds between writes; ``retention_days`` >= 1: UTC days kept.
    ``mig_rows``: "gpu" or "instances" (see ``_read_gpu``). ``give_up_after_s``: when no GPU at all
    could be read for this long, ``run`` returns 3 so the service manager restarts the process with a
    fresh NVML session (a driver reload needs one). ``utc_clock``: the naive UTC time retention counts
    back from (the wall clock; tests pin it). Bad values raise ValueError.
    """

    def __init__(self, out_dir: Path, host: str, *, flush_interval_s: float = 60.0, retention_days: int = 14,
                 mig_rows: str = "gpu", give_up_after_s: float = 300.0, utc_clock: Callable[[], datetime] | None = None):
        if flush_interval_s <= 0:
            raise ValueError(f"flush_interval_s must be positive, not {flush_interval_s}")
        if mig_rows not in MIG_ROW_MODES:
            raise ValueError(f"mig_rows must be one of {MIG_ROW_MODES}, not {mig_rows!r}")
        self.host = check_host(host)
        self.writer = PartWriter(Path(out_dir), host, retention_days)
        self.flush_interval_s = flush_interval_s
        self.mig_rows = mig_rows
        self.give_up_after_s = give_up_after_s
        self._utc_clock = utc_clock or _utcnow
        self._gpus: list[_Gpu | None] = []
        self._failing_since: dict[int, float] = {}  # GPU index -> monotonic time of its first failed tick
        self._buffer = {name: [] for name in SAMPLE_SCHEMA.names}  # column -> values, one per row
        self._buffer_hour: datetime | None = None  # the UTC hour every buffered row belongs to
        self._hour: datetime | None = None  # the UTC hour of the last rows recorded
        self._compaction_due = False  # hours before self._hour may have parts to compact
        self._stopping = False
        self._started = False

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Initialise NVML and clean up the output folder. NVMLError propagates (no driver, no GPU)."""
        pynvml.nvmlInit()
        self._started = True
        count = pynvml.nvmlDeviceGetCount()
        self._gpus = [None] * count
        driver = _text(_optional(pynvml.nvmlSystemGetDriverVersion))
        log.info("NVML driver %s: %d GPU(s) on host %s, writing to %s", driver, count, self.host, self.writer.host_dir)
        self.writer.remove_stale_tmp()
        self.writer.sweep(self._utc_clock().date())

    def stop(self) -> None:
        """Ask ``run`` to flush and return at its next check (at most ~0.25 s). Safe in a signal handler."""
        self._stopping = True  # a plain flag: taking a lock inside a signal handler can deadlock

    def close(self) -> None:
        """Flush what is buffered and shut NVML down. A failed write is logged, not raised."""
        try:
            self.flush()
        except OSError as exc:
            log.error("final write failed, %d buffered row(s) lost: %s", self.buffered_rows, exc)
        if self._started:
            self._started = False
            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError as exc:
                log.warning("nvmlShutdown failed: %s", exc)

    # --- sampling --------------------------------------------------------------------------------

    def sample_once(self, now: datetime) -> list[dict]:
        """Read every GPU once; returns the rows (SAMPLE_SCHEMA columns), all stamped ``now``.

        ``now`` must be timezone-aware (ValueError otherwise); it is stored as naive UTC. A GPU whose
        NVML call fails (NVMLError other than NotSupported, e.g. GpuIsLost) gives no row this tick and
        is re-acquired on the next one; the other GPUs are unaffected.
        """
        if now.tzinfo is None:
            raise ValueError("sample_once needs a timezone-aware time, got a naive datetime")
        ts_utc = now.astimezone(timezone.utc).replace(tzinfo=None)
        rows = []
        for index in range(len(self._gpus)):
            try:
                rows.extend(self._read_gpu(index, ts_utc))
            except pynvml.NVMLError as exc:
                self._gpus[index] = None  # re-acquire the handle next tick
                self._note_failure(index, exc)
                continue
            if index in self._failing_since:
                down_s = time.monotonic() - self._failing_since.pop(index)
                log.info("GPU %d readable again after %.0f s", index, down_s)
        return rows

    def _read_gpu(self, index: int, ts_utc: datetime) -> list[dict]:
        """One GPU's rows for this tick. Fields NVML does not support on this GPU are None.

        With MIG enabled and ``mig_rows == "instances"``, one row per MIG GPU instance: its own UUID,
        name and memory, the parent's power, energy counter, power limit, temperature and SM clock
        (NVML measures those per board only), and NULL utilization (not reported per instance). The
        warehouse keys a GPU by host/index/mig_instance, so those rows repeat the board's energy once
        per instance; the default "gpu" writes one row per board (mig_instance NULL) instead.
        """
        gpu = self._gpus[index]
        if gpu is None:
            gpu = self._gpus[index] = _Gpu(index)
        h = gpu.handle
        power_mw = _optional(pynvml.nvmlDeviceGetPowerUsage, h)
        energy_mj = _optional(pynvml.nvmlDeviceGetTotalEnergyConsumption, h)  # NotSupported before Volta
        if power_mw is None and energy_mj is None:
            raise pynvml.NVMLError_NotSupported()  # nothing to measure energy with: treat as a failure
        util = _optional(pynvml.nvmlDeviceGetUtilizationRates, h)  # NotSupported on a MIG-enabled board
        mem = _optional(pynvml.nvmlDeviceGetMemoryInfo, h)
        limit_mw = _optional(pynvml.nvmlDeviceGetEnforcedPowerLimit, h)
        board = {
            "sample_ts_utc": ts_utc,
            "host": self.host,
            "gpu_index": index,
            "gpu_uuid": gpu.uuid,
            "gpu_name": gpu.name,
            "power_w": None if power_mw is None else power_mw / 1000.0,
            "energy_counter_mj": None if energy_mj is None else float(energy_mj),  # resets kept as read
            "utilization_gpu_pct": None if util is None else float(util.gpu),
            "utilization_memory_pct": None if util is None else float(util.memory),
            "memory_used_mib": None if mem is None else mem.used / MIB,
            "memory_total_mib": None if mem is None else mem.total / MIB,
            "power_limit_w": None if limit_mw is None else limit_mw / 1000.0,
            "temperature_c": _float(_optional(pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU)),
            "sm_clock_mhz": _float(_optional(pynvml.nvmlDeviceGetClockInfo, h, pynvml.NVML_CLOCK_SM)),
            "mig_instance": None,
        }
        if not (gpu.mig_enabled and self.mig_rows == "instances"):
            return [board]
        return self._mig_rows(gpu, board) or [board]  # no instance created yet: the board row

    @staticmethod
    def _mig_rows(gpu: _Gpu, board: dict) -> list[dict]:
        rows, seen_instances = [], set()
        for slot in range(pynvml.nvmlDeviceGetMaxMigDeviceCount(gpu.handle)):
            try:
                mig = pynvml.nvmlDeviceGetMigDeviceHandleByIndex(gpu.handle, slot)
            except pynvml.NVMLError_NotFound:
                continue  # an empty slot
            instance = pynvml.nvmlDeviceGetGpuInstanceId(mig)
            if instance in seen_instances:
                continue  # compute instances of one GPU instance share its memory: one row per GPU instance
            seen_instances.add(instance)
            mem = _optional(pynvml.nvmlDeviceGetMemoryInfo, mig)
            rows.append({**board,
                         "gpu_uuid": _text(pynvml.nvmlDeviceGetUUID(mig)),
                         "gpu_name": _text(pynvml.nvmlDeviceGetName(mig)),
                         "utilization_gpu_pct": None,
                         "utilization_memory_pct": None,
                         "memory_used_mib": None if mem is None else mem.used / MIB,
                         "memory_total_mib": None if mem is None else mem.total / MIB,
                         "mig_instance": str(instance)})  # the GPU instance id, as dcgm-exporter's GPU_I_ID
        return rows

    def _note_failure(self, index: int, exc: Exception) -> None:
        # Warn once per outage; at 1 Hz a lost GPU would otherwise flood the journal.
        if index not in self._failing_since:
            self._failing_since[index] = time.monotonic()
            log.warning("GPU %d: %s (%s); no sample, retrying every tick", index, exc, type(exc).__name__)
        else:
            log.debug("GPU %d still failing: %s", index, exc)

    # --- buffering and writing -------------------------------------------------------------------

    @property
    def buffered_rows(self) -> int:
        return len(self._buffer["sample_ts_utc"])

    def record(self, rows: list[dict]) -> None:
        """Buffer one tick's rows (all with the same ``sample_ts_utc``), flushing first at an hour change.

        A flush error (OSError) propagates and the rows are not buffered.
        """
        if not rows:
            return
        hour = rows[0]["sample_ts_utc"].replace(minute=0, second=0, microsecond=0)
        if self._buffer_hour is not None and hour != self._buffer_hour:
            self.flush()  # one file never spans two hours (or two date folders)
        if hour != self._hour:
            self._hour = hour
            self._compaction_due = True  # the hours before this one are finished
        self._buffer_hour = hour
        for row in rows:
            for name, column in self._buffer.items():
                column.append(row[name])

    def flush(self) -> Path | None:
        """Write the buffered rows as one new Parquet part and apply retention. After the first part of
        an hour (and the first since the start), the finished hours are compacted
        (``PartWriter.compact``: a few at a time, so a backlog takes several flushes) and the parts
        compacted long enough ago deleted.

        Returns the part's path, or None when nothing was buffered. On OSError (disk full, permissions)
        the buffer is kept for the next attempt and the error propagates.
        """
        if not self.buffered_rows:
            return None
        table = pa.Table.from_pydict(self._buffer, schema=SAMPLE_SCHEMA)  # one conversion per flush
        path = self.writer.write(table, self._buffer_hour)
        log.debug("wrote %d rows to %s", table.num_rows, path)
        self._buffer = {name: [] for name in SAMPLE_SCHEMA.names}
        self._buffer_hour = None
        self.writer.sweep(self._utc_clock().date())
        if self._compaction_due:
            _, self._compaction_due = self.writer.compact(self._hour)
            self.writer.sweep_parts(self._utc_clock())
        return path

    # --- the loop --------------------------------------------------------------------------------

    def run(self, interval_s: float = 1.0, duration_s: float | None = None) -> int:
        """Sample every ``interval_s`` seconds until ``stop()`` (or ``duration_s`` elapsed); returns
        the exit status.

        0: stopped (signal, ``stop()`` or duration), after a final flush. 1: a write failed (the
        buffer, at most ``flush_interval_s`` of samples, is lost). 3: no GPU readable for
        ``give_up_after_s``. NVMLError from ``start`` propagates. A tick that overruns its slot
        skips the missed slots rather than bunching samples.
        """
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        status = 0
        try:
            self.start()
            t0 = next_tick = last_flush = last_good = time.monotonic()
            while not self._stopping:
                rows = self.sample_once(datetime.now(timezone.utc))
                self.record(rows)
                t = time.monotonic()
                if rows:
                    last_good = t
                elif t - last_good >= self.give_up_after_s:
                    log.error("no GPU readable for %.0f s: exiting so the service restarts NVML", t - last_good)
                    status = 3
                    break
                if t - last_flush >= self.flush_interval_s:
                    self.flush()
                    last_flush = t
                next_tick += interval_s * (1 + int(max(0.0, t - next_tick) // interval_s))
                if duration_s is not None and next_tick - t0 >= duration_s:
                    break
                self._sleep_until(next_tick)
        except OSError as exc:
            log.error("cannot write samples: %s", exc)
            status = 1
        finally:
            self.close()
        return status

    def _sleep_until(self, deadline: float) -> None:
        # Short naps so a stop request is seen quickly without an Event (see stop()).
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.25))


def _optional(fn, *args):
    """``fn(*args)``, or None where NVML reports the query as not supported on this device."""
    try:
        return fn(*args)
    except pynvml.NVMLError_NotSupported:
        return None


def _text(value) -> str | None:
    # nvidia-ml-py returns str; older pynvml releases returned bytes.
    return value.decode() if isinstance(value, bytes) else value


def _float(value) -> float | None:
    return None if value is None else float(value)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m greenops.collector", description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path,
                   default=Path(os.environ.get("GREENOPS_COLLECTOR_DIR") or "data/landing/gpu_telemetry"),
                   help="output root (default: $GREENOPS_COLLECTOR_DIR, else ./data/landing/gpu_telemetry)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    p.add_argument("--flush-interval", type=float, default=60.0, help="seconds between file writes (default 60)")
    p.add_argument("--retention-days", type=int, default=14, help="UTC days of files kept (default 14, at least 1)")
    p.add_argument("--host", default=socket.gethostname(), help="host name in rows and folders (default: hostname)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (checks, tests)")
    p.add_argument("--mig-rows", choices=MIG_ROW_MODES, default="gpu",
                   help="MIG-enabled GPUs: one row per board (default) or one per MIG GPU instance")
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR (default INFO)")
    args = p.parse_args(argv)
    for name in ("interval", "flush_interval", "duration"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.retention_days < 1:
        p.error("--retention-days must be at least 1")
    try:
        check_host(args.host)
    except ValueError as exc:
        p.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the collector until SIGTERM/SIGINT (exit 0 after a final flush); see ``Collector.run``."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    collector = Collector(args.dir, args.host, flush_interval_s=args.flush_interval,
                          retention_days=args.retention_days, mig_rows=args.mig_rows)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: collector.stop())
    try:
        return collector.run(args.interval, args.duration)
    except pynvml.NVMLError as exc:
        log.error("NVML unavailable: %s (%s)", exc, type(exc).__name__)
        return 2
