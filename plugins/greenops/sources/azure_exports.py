"""Azure Cost Management exports (ActualCost, AmortizedCost, Usage and the FOCUS ``FocusCost``
dataset) read from the landing folder ``<landing>/azure_exports/``, laid out like the storage
container the exports write:

    <dir>/<export>/<YYYYMMDD-YYYYMMDD>/<runId>/manifest.json
    <dir>/<export>/<YYYYMMDD-YYYYMMDD>/<runId>/part_0_0001.csv.gz | .csv | .parquet ...

``<dir>`` (the export's root folder path) may be any depth, or empty. Copy the container there
(``azcopy sync``, ``az storage blob download-batch``); reading the container directly needs
azure-storage-blob, which the project does not install (see docs/azure.md).

The steps, sharing the object-store pieces of ``aws_cur`` (``LocalStore``, ``fingerprint``):

- ``find_runs``: from one listing, every run folder that has a ``manifest.json`` (Azure writes the
  manifest last: a run folder without one is still being written and is ignored).
- ``read_manifest``: the dataset (``exportConfig.type``), when the run was submitted
  (``runInfo.submittedTime``) and the data files (``blobs[].blobName`` with ``dataRowCount``; without
  a ``blobs`` list, the run folder's ``part*`` files).
- ``latest_runs``: per export and period folder, the run submitted last. Exports that keep every run
  (``CreateNewReport``) and the second run Azure makes for the previous month early in a month both
  leave several; the latest one is the truth.
- ``data_objects``: the files a manifest lists, as found in the store; a listed file that is missing
  fails naming the manifest.
- ``target_of``: which raw table a run feeds: ``FocusCost`` -> ``azure_focus_charges``; ActualCost,
  AmortizedCost and Usage -> ``azure_cost_details``; other datasets (price sheets, reservation
  details...) are not loaded. A manifest without ``exportConfig.type`` is classified by its first
  file's header (FOCUS columns or not).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date

import duckdb

from greenops.sources.aws_cur import LocalStore, ObjectStore, StoredObject
from greenops.sources.common import UnreadableFileError

log = logging.getLogger(__name__)

LANDING_SUBDIR = "azure_exports"
COST_DATASETS = {"actualcost": "ActualCost", "amortizedcost": "AmortizedCost", "usage": "Usage"}
FOCUS_DATASETS = {"focuscost": "FocusCost"}
TARGET_COST = "azure_cost_details"
TARGET_FOCUS = "azure_focus_charges"
DATA_SUFFIXES = (".csv", ".csv.gz", ".gz", ".parquet")

_MANIFEST = re.compile(r"(?:^|/)(?P<export>[^/]+)/(?P<start>\d{8})-(?P<end>\d{8})/(?P<run>[^/]+)/manifest\.json$", re.IGNORECASE)


def exports_store(settings) -> ObjectStore:
    """``<landing>/azure_exports/`` as an object store (lineage names files relative to the landing folder)."""
    return LocalStore(settings.landing_dir / LANDING_SUBDIR, settings.landing_dir)


@dataclass(frozen=True)
class ExportRun:
    manifest_key: str
    manifest_etag: str
    export_path: str  # <dir>/<export>
    export_name: str
    export_period: str  # the period folder, YYYYMMDD-YYYYMMDD
    run_id: str  # the run folder's name

    @property
    def billing_period(self) -> str:
        """'YYYY-MM' of the period folder's first day: the month the run is loaded as."""
        return f"{self.export_period[:4]}-{self.export_period[4:6]}"

    @property
    def folder(self) -> str:
        return self.manifest_key.rsplit("/", 1)[0]


@dataclass(frozen=True)
class Manifest:
    run: ExportRun
    body: bytes = field(repr=False)
    dataset: str | None  # as Azure spells it (ActualCost, FocusCost...); None when the manifest has none
    submitted: str  # runInfo.submittedTime (ISO text) or '' when absent
    blobs: tuple[tuple[str, int | None], ...] | None  # (file name, dataRowCount); None: no blobs list

    def describe(self) -> dict:
        return {"export_path": self.run.export_path, "export_period": self.run.export_period,
                "run_id": self.run.run_id, "manifest": self.run.manifest_key, "dataset": self.dataset}


def _valid_period(start: str, end: str) -> bool:
    try:
        first = date(int(start[:4]), int(start[4:6]), int(start[6:]))
        last = date(int(end[:4]), int(end[4:6]), int(end[6:]))
    except ValueError:
        return False
    return first <= last


def find_runs(objects: list[StoredObject], export_names: tuple[str, ...] = ()) -> list[ExportRun]:
    """Every run folder with a manifest, optionally only of the exports named (GREENOPS_AZURE_EXPORTS)."""
    wanted = {n.lower() for n in export_names}
    runs = []
    for obj in objects:
        m = _MANIFEST.search(obj.key)
        if not m:
            continue
        if not _valid_period(m.group("start"), m.group("end")):
            log.warning("ignoring %s: %s-%s is not a period folder", obj.key, m.group("start"), m.group("end"))
            continue
        export = m.group("export")
        if wanted and export.lower() not in wanted:
            continue
        export_path = obj.key[: m.start("export")] + export
        runs.append(ExportRun(obj.key, obj.etag, export_path, export, f"{m.group('start')}-{m.group('end')}", m.group("run")))
    return runs


def read_manifest(store: ObjectStore, run: ExportRun) -> Manifest:
    body = store.read_bytes(run.manifest_key)
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableFileError(store.display(run.manifest_key), f"manifest is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise UnreadableFileError(store.display(run.manifest_key), "manifest is not a JSON object")
    config = doc.get("exportConfig") or {}
    run_info = doc.get("runInfo") or {}
    dataset = config.get("type") or config.get("dataSet") or None
    blobs = None
    if isinstance(doc.get("blobs"), list):
        entries = []
        for blob in doc["blobs"]:
            name = (blob.get("blobName") or blob.get("name") or "") if isinstance(blob, dict) else str(blob)
            if name:
                count = blob.get("dataRowCount") if isinstance(blob, dict) else None
                entries.append((name.rsplit("/", 1)[-1], count if isinstance(count, int) else None))
        blobs = tuple(entries)
    return Manifest(run, body, str(dataset) if dataset else None, str(run_info.get("submittedTime") or ""), blobs)


def latest_runs(manifests: list[Manifest]) -> list[Manifest]:
    """Per export and period folder, the run submitted last (``runInfo.submittedTime``; the run
    folder's name breaks ties and orders runs without a submission time, with a warning)."""
    groups: dict[tuple[str, str], list[Manifest]] = {}
    for m in manifests:
        groups.setdefault((m.run.export_path, m.run.export_period), []).append(m)
    chosen = []
    for (export_path, period), group in sorted(groups.items()):
        group.sort(key=lambda m: (m.submitted, m.run.run_id))
        if len(group) > 1:
            if not any(m.submitted for m in group):
                log.warning("%s %s: %d runs and no runInfo.submittedTime: taking run %s (last by name)",
                            export_path, period, len(group), group[-1].run.run_id)
            log.info("%s %s: loading run %s, the latest of %d", export_path, period, group[-1].run.run_id, len(group))
        chosen.append(group[-1])
    return chosen


def data_objects(store: ObjectStore, manifest: Manifest, listing: list[StoredObject]) -> list[tuple[StoredObject, int | None]]:
    """The manifest's data files as found in the store, each with the row count the manifest states."""
    prefix = manifest.run.folder + "/"
    in_folder = {o.key[len(prefix):]: o for o in listing if o.key.startswith(prefix) and "/" not in o.key[len(prefix):]}
    if manifest.blobs is None:  # no blobs list: every part file of the run folder
        names = sorted(n for n in in_folder if n.lower().startswith("part") and n.lower().endswith(DATA_SUFFIXES))
        return [(in_folder[n], None) for n in names]
    found = []
    for name, rows in manifest.blobs:
        obj = in_folder.get(name)
        if obj is None:
            raise UnreadableFileError(store.display(manifest.run.manifest_key), f"lists {name}, which is not in {store.display(manifest.run.folder)}")
        found.append((obj, rows))
    return found


def _header(store: ObjectStore, obj: StoredObject, tmp) -> set[str]:
    path = store.fetch(obj.key, tmp)
    con = duckdb.connect()
    try:
        if obj.key.lower().endswith(".parquet"):
            cols = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        else:
            cols = con.execute("DESCRIBE SELECT * FROM read_csv(?, header = true, all_varchar = true, sample_size = 1, "
                               "compression = 'auto')", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise UnreadableFileError(store.display(obj.key), str(exc).strip().splitlines()[0]) from exc
    finally:
        con.close()
    return {c[0].strip().lower() for c in cols}


def target_of(store: ObjectStore, manifest: Manifest, objects: list[tuple[StoredObject, int | None]], tmp) -> tuple[str | None, str | None]:
    """``(raw table, dataset)`` a run feeds, or ``(None, dataset)`` for a dataset we do not load."""
    if manifest.dataset:
        key = manifest.dataset.strip().lower()
        if key in FOCUS_DATASETS:
            return TARGET_FOCUS, FOCUS_DATASETS[key]
        if key in COST_DATASETS:
            return TARGET_COST, COST_DATASETS[key]
        return None, manifest.dataset
    non_empty = [o for o, _ in objects if o.size > 0]
    if not non_empty:
        return TARGET_COST, None
    header = _header(store, non_empty[0], tmp)
    return (TARGET_FOCUS, "FocusCost") if {"billedcost", "chargeperiodstart"} <= header else (TARGET_COST, None)
