"""Where the collector's samples go on disk: Parquet parts, written atomically, an hour's parts then
compacted into one file, kept for N days.

Layout (one folder per host and UTC date, the layout ``greenops.sources.nvml_parquet`` ingests)::

    <root>/host=<host>/date=<YYYY-MM-DD>/nvml-<HH>-<part>.parquet           a flush (a minute by default)
    <root>/host=<host>/date=<YYYY-MM-DD>/nvml-<HH>-<first>-<last>.parquet   parts first..last of hour HH

Every flush writes a new part (never appends), first as ``.nvml-<HH>-<part>.parquet.tmp`` (the leading
dot makes the ingestion skip it), then renames it into place, so a reader never sees half a file.

When a UTC hour has ended, its parts are written again as one file that names their range (the same
rows in the same order): the ingestion reads that file instead of the parts it covers
(``superseded``), 24 files a host and day instead of 1,440. The covered parts stay until
``PART_GRACE`` after their hour and after the compacted file was written, so a load that listed them
before the compacted file appeared still finds them, and are deleted then. A part written after its
hour was compacted (a clock set back) is not covered and is read as it is.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger("greenops.collector")

#: The file contract: exactly the raw table ``gpu_telemetry_samples``'s sample columns (no partition or
#: lineage column; the ingestion adds those). Timestamps are naive UTC.
SAMPLE_SCHEMA = pa.schema(
    [
        pa.field("sample_ts_utc", pa.timestamp("us")),
        pa.field("host", pa.string()),
        pa.field("gpu_index", pa.int32()),
        pa.field("gpu_uuid", pa.string()),
        pa.field("gpu_name", pa.string()),
        pa.field("power_w", pa.float64()),
        pa.field("energy_counter_mj", pa.float64()),  # NVML total energy since driver load; NULL pre-Volta
        pa.field("utilization_gpu_pct", pa.float64()),
        pa.field("utilization_memory_pct", pa.float64()),
        pa.field("memory_used_mib", pa.float64()),
        pa.field("memory_total_mib", pa.float64()),
        pa.field("power_limit_w", pa.float64()),
        pa.field("temperature_c", pa.float64()),
        pa.field("sm_clock_mhz", pa.float64()),
        pa.field("mig_instance", pa.string()),
    ]
)

_PART = re.compile(r"^nvml-(\d{2})-(\d+)\.parquet$")
_COMPACTED = re.compile(r"^nvml-(\d{2})-(\d+)-(\d+)\.parquet$")
#: How long a part covered by a compacted file is kept after the compacted file was written and after
#: the part's hour (a load that listed the part before the compacted file appeared still reads it).
PART_GRACE = timedelta(hours=6)
#: Hours compacted by one call (about 0.1 s each at 8 GPUs); a backlog is worked off over several.
COMPACTED_HOURS_PER_CALL = 4
#: Free disk left after a compaction (beyond the size of the parts): the next part must still fit.
COMPACTION_FREE_BYTES = 64 * 1024**2
_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_TMP = re.compile(r"^\.nvml-.*\.tmp$")


def check_host(host: str) -> str:
    """Return ``host`` if it can name a ``host=<host>`` folder; ValueError if empty, hidden or a path."""
    if not host or host.startswith(".") or any(c in host for c in "/\\\0") or host != host.strip():
        raise ValueError(f"host name {host!r} cannot name a folder (empty, leading dot, slash or spaces)")
    return host


class PartWriter:
    """Writes one host's Parquet parts under ``root`` and enforces retention.

    ``root`` is the collector's output folder (created when missing); ``retention_days`` >= 1 is how
    many UTC days before today are kept (ValueError otherwise).
    """

    def __init__(self, root: Path, host: str, retention_days: int):
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1, not {retention_days}")
        self.host_dir = Path(root) / f"host={check_host(host)}"
        self.retention_days = retention_days
        self._failed: set[tuple[Path, tuple]] = set()  # (folder, its parts) whose compaction failed

    def write(self, table: pa.Table, hour_utc: datetime) -> Path:
        """Write ``table`` (SAMPLE_SCHEMA, all rows in the UTC hour ``hour_utc``) as a new part.

        Returns the final path. An OSError (disk full, permissions) propagates and leaves at most a
        dot-prefixed ``.tmp`` file behind, which the ingestion ignores and the next start removes.
        """
        folder = self.host_dir / f"date={hour_utc.date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        return _write_atomically(table, folder, part_name(hour_utc.hour, self._next_part(folder, hour_utc.hour)))

    def compact(self, before_utc: datetime, max_hours: int = COMPACTED_HOURS_PER_CALL) -> tuple[list[Path], bool]:
        """Write the parts of UTC hours that ended by ``before_utc`` and are not compacted yet, each as
        one file ``nvml-<HH>-<first>-<last>.parquet`` (an hour of one part is left as it is), the
        newest hours first and at most ``max_hours`` of them (a backlog, after an upgrade or a long
        stop, is worked off over several calls instead of stopping the sampling); returns the files
        written and whether hours are left.

        Never raises: a part that cannot be read, too little free disk, or a write that fails leaves
        the hour as parts (the ingestion reads them), logged once for those parts."""
        pending = []
        for folder, day in self._dated_folders("compaction"):
            try:
                names = [p.name for p in folder.iterdir()]
            except OSError as exc:
                log.warning("compaction: cannot list %s: %s", folder, exc)
                continue
            covered = superseded(names)
            hours: dict[int, list[tuple[int, str]]] = {}
            for name in names:
                if (m := _PART.match(name)) and name not in covered:
                    hours.setdefault(int(m.group(1)), []).append((int(m.group(2)), name))
            for hour, parts in hours.items():
                parts.sort()
                if len(parts) >= 2 and _hour_end(day, hour) <= before_utc and (folder, tuple(parts)) not in self._failed:
                    pending.append((_hour_end(day, hour), folder, parts))
        pending.sort(key=lambda p: p[0], reverse=True)
        written = [path for end, folder, parts in pending[:max_hours] if (path := self._compact_hour(folder, end, parts))]
        if written:
            log.info("compacted %d hour(s) of parts", len(written))
        return written, len(pending) > max_hours

    def _compact_hour(self, folder: Path, hour_end: datetime, parts: list[tuple[int, str]]) -> Path | None:
        hour = (hour_end - timedelta(hours=1)).hour
        try:
            size = sum((folder / name).stat().st_size for _, name in parts)
            if shutil.disk_usage(folder).free < size + COMPACTION_FREE_BYTES:
                raise OSError(f"less than {size + COMPACTION_FREE_BYTES:,} bytes free")
            # the parts of one collector have one schema; an older one's missing columns become NULL
            table = pa.concat_tables([pq.read_table(folder / name, use_threads=False) for _, name in parts],
                                     promote_options="permissive")
            return _write_atomically(table, folder, compacted_name(hour, parts[0][0], parts[-1][0]))
        except (OSError, pa.ArrowException) as exc:
            self._failed.add((folder, tuple(parts)))  # not tried again until its parts change
            log.warning("compaction: hour %02d of %s left as %d parts: %s", hour, folder, len(parts),
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return None

    def sweep(self, today_utc: date) -> list[Path]:
        """Delete this host's ``date=`` folders older than ``today_utc - retention_days``; returns them.

        Folders whose name is not a valid ``date=YYYY-MM-DD`` are left alone. Never raises: a folder
        that cannot be listed or deleted is logged and retried at the next sweep.
        """
        oldest_kept = today_utc - timedelta(days=self.retention_days)
        removed = []
        for folder, day in self._dated_folders("retention"):
            if day < oldest_kept:
                try:
                    shutil.rmtree(folder)
                    removed.append(folder)
                except OSError as exc:
                    log.warning("retention: cannot delete %s: %s", folder, exc)
        if removed:
            log.info("retention: deleted %d folder(s) older than %s", len(removed), oldest_kept)
        return removed

    def sweep_parts(self, now_utc: datetime) -> list[Path]:
        """Delete the parts a compacted file covers once both their hour and the compacted file's writing
        (its modification time) are ``PART_GRACE`` before ``now_utc``; returns them. Never raises (as
        ``sweep``)."""
        removed = []
        for folder, day in self._dated_folders("retention"):
            try:
                written: dict[str, datetime] = {}  # compacted file -> when it was written
                for name, compacted in superseded(p.name for p in folder.iterdir()).items():
                    if compacted not in written:
                        written[compacted] = datetime.fromtimestamp((folder / compacted).stat().st_mtime, timezone.utc).replace(tzinfo=None)
                    if max(_hour_end(day, int(_PART.match(name).group(1))), written[compacted]) + PART_GRACE <= now_utc:
                        (folder / name).unlink(missing_ok=True)
                        removed.append(folder / name)
            except OSError as exc:
                log.warning("retention: cannot delete compacted parts in %s: %s", folder, exc)
        return removed

    def remove_stale_tmp(self) -> list[Path]:
        """Delete ``.nvml-*.tmp`` files a crashed run left (called at start, when no write is running)."""
        stale = [p for folder in self._date_dirs() for p in folder.iterdir() if _TMP.match(p.name)]
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            log.info("removed %d unfinished temporary file(s) from an earlier run", len(stale))
        return stale

    def _dated_folders(self, task: str) -> list[tuple[Path, date]]:
        """This host's ``date=`` folders of a valid date, with it; none (logged) when the host folder
        cannot be listed."""
        try:
            return [(folder, day) for folder in self._date_dirs() if (day := _folder_date(folder)) is not None]
        except OSError as exc:
            log.warning("%s: cannot list %s: %s", task, self.host_dir, exc)
            return []

    def _date_dirs(self) -> list[Path]:
        if not self.host_dir.is_dir():
            return []
        return [p for p in self.host_dir.iterdir() if p.is_dir() and _DATE_DIR.match(p.name)]

    @staticmethod
    def _next_part(folder: Path, hour: int) -> int:
        # Scan rather than count in memory, so a restart within the hour never overwrites a part; a
        # compacted file's last part counts, so a late part is never numbered into its range.
        parts = [int(m.groups()[-1]) for p in folder.iterdir()
                 if (m := _PART.match(p.name) or _COMPACTED.match(p.name)) and int(m.group(1)) == hour]
        return max(parts, default=-1) + 1


def part_name(hour: int, part: int) -> str:
    """The name of part ``part`` of UTC hour ``hour``."""
    return f"nvml-{hour:02d}-{part:04d}.parquet"


def compacted_name(hour: int, first: int, last: int) -> str:
    """The name of the file that holds parts ``first`` to ``last`` of UTC hour ``hour``."""
    return f"nvml-{hour:02d}-{first:04d}-{last:04d}.parquet"


def superseded(names: Iterable[str]) -> dict[str, str]:
    """The part names among ``names`` (one folder's files) that a compacted file among them covers (the
    same hour, the part's number within the compacted file's range), each with that file. The
    ingestion does not read them."""
    names = list(names)
    ranges: dict[str, list[tuple[int, int, str]]] = {}
    for name in names:
        if m := _COMPACTED.match(name):
            ranges.setdefault(m.group(1), []).append((int(m.group(2)), int(m.group(3)), name))
    covered = {}
    for name in names:
        if m := _PART.match(name):
            number = int(m.group(2))
            covering = [c for first, last, c in ranges.get(m.group(1), ()) if first <= number <= last]
            if covering:
                covered[name] = min(covering)
    return covered


def _hour_end(day: date, hour: int) -> datetime:
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour + 1)


def _write_atomically(table: pa.Table, folder: Path, name: str) -> Path:
    """Write ``table`` as ``folder/name``: first as ``.name.tmp``, fsynced, then renamed into place."""
    tmp, final = folder / f".{name}.tmp", folder / name
    try:
        with open(tmp, "wb") as f:
            pq.write_table(table, f, compression="zstd")
            f.flush()
            # On disk before the rename: after a power cut the name never points at an empty file.
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk stays full for the next write otherwise
        raise
    _fsync_dir(folder)
    return final


def _folder_date(folder: Path) -> date | None:
    try:
        return date.fromisoformat(_DATE_DIR.match(folder.name).group(1))
    except ValueError:
        return None


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory, which is harmless.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
