"""AWS Cost and Usage Report (CUR 2.0 Data Exports, and the legacy CUR) read from an object store.

One code path over a small ``ObjectStore`` with two implementations: ``S3Store`` (boto3) and
``LocalStore`` (a folder laid out like the bucket, ``<landing>/aws_cur/`` by default, so the demo works
without a cloud). The steps:

- ``find_manifests``: from one listing, the newest manifest of each billing period. Two layouts:
  CUR 2.0 ``<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/<export>-Manifest.json`` and legacy CUR
  ``<prefix>/<report>/YYYYMMDD-YYYYMMDD/<report>-Manifest.json`` (the copy inside each assembly folder
  is ignored: the top one names the current delivery).
- ``read_manifest``: its data files (``dataFiles`` in CUR 2.0, ``reportKeys`` in legacy manifests; S3
  URIs or keys) and a fingerprint over the manifest's bytes and each data file's key and ETag, so a
  period is reloaded only when its delivery changed.
- ``stage_file``: one data file (Parquet, gzip CSV or CSV) into a DuckDB temp table in
  ``raw.aws_cur_line_items``'s columns (``parse_file``: the same as Arrow). CUR 2.0 snake_case,
  Athena-style legacy snake_case and legacy ``lineItem/UsageStartDate`` headers all map to one schema; tags (a ``resource_tags`` map or JSON text in CUR 2.0, one
  ``resourceTags/user:x`` or ``resource_tags_user_x`` column per tag in legacy CUR) become one JSON
  object with keys like ``user:deployment``. Rows with an unparseable date, a non-numeric number,
  a usage period that ends before it starts, or malformed CSV are returned as rejects (row number and
  reason); a file that cannot be read at all raises ``UnreadableFileError`` naming it.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa

from greenops.sources.common import LandingFile, REJECT_SCHEMA, UnreadableFileError, fetch_arrow, sql_identifier, sql_text, to_utc_sql

log = logging.getLogger(__name__)

LANDING_SUBDIR = "aws_cur"

# ------------------------------------------------------------------------------------------------
# Object stores


@dataclass(frozen=True)
class StoredObject:
    key: str  # '/'-separated, relative to the bucket (S3) or the store's root folder (local)
    etag: str  # S3's ETag; locally size and modification time (cheap, changes with the content)
    size: int


class ObjectStore(Protocol):
    def list(self, prefix: str) -> list[StoredObject]: ...

    def read_bytes(self, key: str) -> bytes: ...

    def fetch(self, key: str, folder: Path) -> Path:
        """A local file with the object's content (the object itself when it already is one)."""
        ...

    def display(self, key: str) -> str:
        """How lineage and errors name the object."""
        ...


class LocalStore:
    """A folder standing in for a bucket; lineage names files relative to the landing folder."""

    def __init__(self, root: Path, landing_dir: Path):
        self.root = Path(root)
        self.landing_dir = Path(landing_dir)

    def list(self, prefix: str) -> list[StoredObject]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return []
        found = []
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                st = path.stat()
                found.append(StoredObject(path.relative_to(self.root).as_posix(), f"{st.st_size}-{st.st_mtime_ns}", st.st_size))
        return found

    def read_bytes(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def fetch(self, key: str, folder: Path) -> Path:
        return self.root / key

    def display(self, key: str) -> str:
        path = self.root / key
        try:
            return path.relative_to(self.landing_dir).as_posix()
        except ValueError:
            return path.as_posix()


class S3Store:
    def __init__(self, client, bucket: str):
        self.client = client
        self.bucket = bucket

    def list(self, prefix: str) -> list[StoredObject]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{prefix.strip('/')}/" if prefix else ""):
            for obj in page.get("Contents", []):
                found.append(StoredObject(obj["Key"], obj.get("ETag", "").strip('"'), obj.get("Size", 0)))
        return found

    def read_bytes(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def fetch(self, key: str, folder: Path) -> Path:
        # Keep the file name: its suffix says the format; a counter keeps equal names apart.
        target = Path(folder) / f"{len(list(Path(folder).iterdir()))}-{key.rsplit('/', 1)[-1]}"
        self.client.download_file(self.bucket, key, str(target))
        return target

    def display(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def make_store(settings, bucket: str | None, subdir: str) -> ObjectStore:
    """S3 when a bucket is configured, else ``<landing>/<subdir>/``."""
    if bucket:
        from greenops.aws_client import aws_client

        return S3Store(aws_client("s3", settings), bucket)
    return LocalStore(settings.landing_dir / subdir, settings.landing_dir)


def cur_store(settings) -> ObjectStore:
    return make_store(settings, settings.aws_cur_bucket, LANDING_SUBDIR)


def fingerprint(parts: list[bytes], objects: list[StoredObject]) -> str:
    """sha256 over some bytes (the manifest) and each object's key and ETag, in key order."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    for obj in sorted(objects, key=lambda o: o.key):
        h.update(f"\n{obj.key}\t{obj.etag}".encode())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------
# Manifests

_CUR2_MANIFEST = re.compile(r"(?:^|/)(?P<export>[^/]+)/metadata/BILLING_PERIOD=(?P<period>\d{4}-\d{2})/(?P=export)-Manifest\.json$")
_LEGACY_MANIFEST = re.compile(r"(?:^|/)(?P<export>[^/]+)/(?P<start>\d{8})-(?P<end>\d{8})/(?P=export)-Manifest\.json$")


@dataclass(frozen=True)
class ManifestRef:
    key: str
    etag: str
    export_name: str
    billing_period: str  # 'YYYY-MM'
    layout: str  # cur2 | legacy


@dataclass(frozen=True)
class Manifest:
    ref: ManifestRef
    data_keys: tuple[str, ...]
    body: bytes = field(repr=False)


def find_manifests(objects: list[StoredObject], export_name: str | None = None) -> dict[str, ManifestRef]:
    """The manifest of each billing period, from a listing. Several exports delivering the same
    period would load it twice: that raises unless ``export_name`` (GREENOPS_AWS_CUR_EXPORT) picks one."""
    by_period: dict[str, list[ManifestRef]] = {}
    for obj in objects:
        if m := _CUR2_MANIFEST.search(obj.key):
            ref = ManifestRef(obj.key, obj.etag, m.group("export"), m.group("period"), "cur2")
        elif m := _LEGACY_MANIFEST.search(obj.key):
            start = m.group("start")
            ref = ManifestRef(obj.key, obj.etag, m.group("export"), f"{start[:4]}-{start[4:6]}", "legacy")
        else:
            continue
        if export_name and ref.export_name != export_name:
            continue
        by_period.setdefault(ref.billing_period, []).append(ref)
    chosen = {}
    for period, refs in sorted(by_period.items()):
        if len(refs) > 1:
            raise ValueError(
                f"billing period {period} has {len(refs)} manifests ({', '.join(r.key for r in refs)}): "
                "set GREENOPS_AWS_CUR_EXPORT to the export to load"
            )
        chosen[period] = refs[0]
    return chosen


def _data_key(entry) -> str:
    if isinstance(entry, dict):  # tolerate {"key": ...} style entries
        entry = entry.get("key") or entry.get("path") or entry.get("uri") or ""
    entry = str(entry)
    if entry.startswith("s3://"):
        # The bucket in the URI is the export's own; we read the configured store (or its local copy).
        return entry[len("s3://"):].split("/", 1)[1] if "/" in entry[len("s3://"):] else ""
    return entry.lstrip("/")


def read_manifest(store: ObjectStore, ref: ManifestRef) -> Manifest:
    """Read a manifest and the data files it lists (``dataFiles`` or legacy ``reportKeys``)."""
    body = store.read_bytes(ref.key)
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise UnreadableFileError(store.display(ref.key), f"manifest is not JSON: {exc}") from exc
    entries = doc.get("dataFiles") if isinstance(doc, dict) else None
    if entries is None and isinstance(doc, dict):
        entries = doc.get("reportKeys")
    if not isinstance(entries, list):
        raise UnreadableFileError(store.display(ref.key), "manifest lists no data files (neither dataFiles nor reportKeys)")
    keys = tuple(k for k in (_data_key(e) for e in entries) if k)
    return Manifest(ref, keys, body)


def data_objects(store: ObjectStore, manifest: Manifest, listing: dict[str, StoredObject]) -> list[StoredObject]:
    """The listed data files, each as found in the store; a missing one fails naming the manifest."""
    found = []
    for key in manifest.data_keys:
        obj = listing.get(key)
        if obj is None:
            raise UnreadableFileError(store.display(manifest.ref.key), f"lists {key}, which is not in the store")
        found.append(obj)
    return found


# ------------------------------------------------------------------------------------------------
# Parsing one data file

TS_COLUMNS = ("line_item_usage_start_date", "line_item_usage_end_date", "bill_billing_period_start_date")
NUM_COLUMNS = ("line_item_usage_amount", "line_item_unblended_cost", "line_item_net_unblended_cost")
TEXT_COLUMNS = (
    "line_item_product_code", "line_item_usage_type", "line_item_operation", "line_item_resource_id",
    "line_item_line_item_type", "line_item_usage_account_id", "line_item_currency_code",
    "line_item_unblended_rate", "product_instance_type", "product_region_code", "pricing_unit",
)
REQUIRED = ("line_item_usage_start_date", "line_item_unblended_cost")
# CUR 2.0 moves most product attributes into a `product` map: where a column is absent, look there.
_PRODUCT_MAP_KEYS = {"product_instance_type": "instance_type", "product_region_code": "region_code"}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TAG_PREFIX = ("resourcetags/", "resource_tags_")


def _snake(name: str) -> str:
    return _CAMEL.sub("_", name.strip()).lower()


def canonical_name(column: str) -> str:
    """``lineItem/UsageStartDate`` -> ``line_item_usage_start_date``; snake_case names stay as they are."""
    if "/" in column:
        category, _, name = column.partition("/")
        return f"{_snake(category)}_{_snake(name)}"
    return column.strip().lower()


def tag_key(column: str) -> str | None:
    """The tag a legacy per-tag column holds, or None: ``resourceTags/user:deployment`` and the
    Athena-style ``resource_tags_user_deployment`` both give ``user:deployment``."""
    low = column.lower()
    if low.startswith("resourcetags/"):
        return column.split("/", 1)[1]
    if low.startswith("resource_tags_"):
        rest = column[len("resource_tags_"):]
        namespace, sep, name = rest.partition("_")
        return f"{namespace}:{name}" if sep and namespace.lower() in ("user", "aws") else rest
    return None


def _csv_header(lf: LandingFile) -> list[str]:
    opener = gzip.open if lf.path.name.endswith(".gz") else open
    try:
        with opener(lf.path, "rt", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, EOFError, csv.Error) as exc:
        raise UnreadableFileError(lf.rel, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
    # duplicate names would collide in read_csv's column list
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}__{seen[name]}")
    return names


def read_data_file(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> None:
    """Load an export data file (Parquet, gzip CSV, CSV) as temp tables ``cur_src`` (the file's own
    columns, CSV as text, plus ``_source_line``) and ``cur_bad`` (malformed CSV rows with line and reason).
    Shared by the CUR and carbon parsers."""
    name = lf.path.name.lower()
    con.execute("CREATE OR REPLACE TEMP TABLE cur_bad (_source_line BIGINT, reason VARCHAR, raw_record VARCHAR)")
    try:
        if name.endswith(".parquet"):
            con.execute("CREATE OR REPLACE TEMP TABLE cur_src AS SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _source_line "
                        "FROM read_parquet(?, file_row_number = true)", [str(lf.path)])
            return
        if name.endswith(".zip"):
            raise UnreadableFileError(lf.rel, "ZIP-compressed reports are not supported: deliver the export as GZIP CSV or Parquet")
        if not name.endswith((".csv", ".csv.gz", ".gz")):
            raise UnreadableFileError(lf.rel, "not a CUR data file (expected .parquet, .csv.gz or .csv)")
        header = _csv_header(lf)
        if not header:
            con.execute("CREATE OR REPLACE TEMP TABLE cur_src AS SELECT NULL::BIGINT AS _source_line WHERE false")
            return
        columns = "{" + ", ".join(f"{sql_text(c)}: 'VARCHAR'" for c in header) + "}"
        for t in ("cur_rejects", "cur_reject_scans"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
        # Short rows are padded with NULLs (legacy CUR drops trailing empty columns); rows that still
        # do not fit are kept aside with their line by DuckDB's rejects table. One thread keeps order.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE cur_csv AS SELECT *, row_number() OVER () AS _k
            FROM read_csv(?, columns = {columns}, header = true, auto_detect = false, delim = ',', quote = '"',
                          escape = '"', null_padding = true, parallel = false, compression = 'auto',
                          ignore_errors = true, store_rejects = true, rejects_table = 'cur_rejects',
                          rejects_scan = 'cur_reject_scans')""",
            [str(lf.path)],
        )
        con.execute("""INSERT INTO cur_bad SELECT line, 'malformed CSV row: ' || first(error_message ORDER BY column_idx),
                       first(csv_line ORDER BY column_idx) FROM cur_rejects GROUP BY line""")
        # A good row's line: the k-th line after the header that is not a rejected one.
        con.execute(
            """CREATE OR REPLACE TEMP TABLE cur_src AS
            WITH lines AS (
                SELECT l AS _source_line, row_number() OVER (ORDER BY l) AS _k
                FROM range(2, (SELECT count(*) FROM cur_csv) + (SELECT count(*) FROM cur_bad) + 2) r(l)
                WHERE l NOT IN (SELECT _source_line FROM cur_bad))
            SELECT c.* EXCLUDE (_k), lines._source_line FROM cur_csv c JOIN lines USING (_k)"""
        )
    except UnreadableFileError:
        raise
    except duckdb.Error as exc:
        raise UnreadableFileError(lf.rel, str(exc).strip().splitlines()[0]) from exc


def _text(value_sql: str) -> str:
    """A value as delivered: text, trimmed, empty as NULL."""
    return f"nullif(trim(CAST({value_sql} AS VARCHAR)), '')"


def _expressions(types: dict[str, str]) -> tuple[list[str], list[str], str]:
    """SELECT items over the file's columns: each date and number target as ``_src_<c>`` (the file's
    value, any type) and each text target as ``<c>``; then the typed ``<c>`` of each ``_src_<c>``;
    and the SQL of the tag entries list."""
    by_name: dict[str, str] = {}
    tag_columns: list[tuple[str, str]] = []
    for col in types:
        if col == "_source_line":
            continue
        key = tag_key(col)
        if key is not None:
            tag_columns.append((key, col))
            continue
        by_name.setdefault(canonical_name(col), col)

    def value(target: str) -> str:
        col = by_name.get(target)
        if col is None:
            if target in _PRODUCT_MAP_KEYS and types.get(by_name.get("product", ""), "").startswith("MAP"):
                return f"{sql_identifier(by_name['product'])}[{sql_text(_PRODUCT_MAP_KEYS[target])}]"
            return "NULL::VARCHAR"
        return sql_identifier(col)

    source_items = [f"{value(t)} AS _src_{t}" for t in (*TS_COLUMNS, *NUM_COLUMNS)]
    source_items += [f"{_text(value(t))} AS {t}" for t in TEXT_COLUMNS]
    typed_items = []
    for target in TS_COLUMNS:
        kind = types.get(by_name.get(target, ""), "")
        # Parquet: a zoned timestamp converts in the session's UTC; naive ones in CUR are UTC
        typed = (f"CAST(_src_{target} AS TIMESTAMP)" if kind.startswith("TIMESTAMP") or kind == "DATE"
                 else to_utc_sql(_text(f"_src_{target}"), "'UTC'"))
        typed_items.append(f"{typed} AS {target}")
    for target in NUM_COLUMNS:
        kind = types.get(by_name.get(target, ""), "VARCHAR")
        typed = f"CAST(_src_{target} AS DOUBLE)" if kind != "VARCHAR" else f"TRY_CAST({_text(f'_src_{target}')} AS DOUBLE)"
        typed_items.append(f"{typed} AS {target}")

    entry_type = "STRUCT(key VARCHAR, value VARCHAR)[]"
    if "resource_tags" in by_name:
        col, kind = sql_identifier(by_name["resource_tags"]), types[by_name["resource_tags"]]
        if kind.startswith("MAP"):
            entries = f"CAST(map_entries({col}) AS {entry_type})"
            source_items.append("NULL::VARCHAR AS resource_tags_text")
        else:  # CUR 2.0 as CSV: the map as JSON text
            entries = f"map_entries(TRY_CAST(TRY_CAST(nullif(trim({col}), '') AS JSON) AS MAP(VARCHAR, VARCHAR)))"
            source_items.append(f"nullif(trim({col}), '') AS resource_tags_text")
    else:
        source_items.append("NULL::VARCHAR AS resource_tags_text")
        entries = "[" + ", ".join(f"{{'key': {sql_text(k)}, 'value': CAST({sql_identifier(c)} AS VARCHAR)}}" for k, c in tag_columns) + f"]::{entry_type}"
    return source_items, typed_items, entries


def _tag_entries_sql(entries: str) -> str:
    # CUR 2.0 map keys may come as "user_deployment": write every key as "user:deployment", drop empty
    # values and sort (so equal keys sit together and the JSON is stable).
    return (f"list_sort(list_filter(list_transform(coalesce({entries}, []::STRUCT(key VARCHAR, value VARCHAR)[]), "
            "lambda e: {'key': regexp_replace(e.key, '^(user|aws)_', '\\1:'), 'value': e.value}), "
            "lambda e: e.value IS NOT NULL AND trim(e.value) <> ''))")


def _t(target: str) -> str:
    return _text(f"_src_{target}")


# The delivered text is only turned into a string for rows that fail (CASE evaluates a branch only for
# the rows that reach it): a good row costs a few NULL tests.
_CHECKS = f"""CASE
    WHEN line_item_usage_start_date IS NULL THEN coalesce('unparseable line_item_usage_start_date: '
        || {_t('line_item_usage_start_date')}, 'line_item_usage_start_date missing')
    WHEN line_item_usage_end_date IS NULL AND {_t('line_item_usage_end_date')} IS NOT NULL
        THEN 'unparseable line_item_usage_end_date: ' || {_t('line_item_usage_end_date')}
    WHEN line_item_usage_end_date < line_item_usage_start_date THEN 'usage period ends before it starts'
    WHEN bill_billing_period_start_date IS NULL AND {_t('bill_billing_period_start_date')} IS NOT NULL
        THEN 'unparseable bill_billing_period_start_date: ' || {_t('bill_billing_period_start_date')}
    WHEN line_item_unblended_cost IS NULL THEN coalesce('line_item_unblended_cost is not a number: '
        || {_t('line_item_unblended_cost')}, 'line_item_unblended_cost missing')
    WHEN line_item_net_unblended_cost IS NULL AND {_t('line_item_net_unblended_cost')} IS NOT NULL
        THEN 'line_item_net_unblended_cost is not a number: ' || {_t('line_item_net_unblended_cost')}
    WHEN line_item_usage_amount IS NULL AND {_t('line_item_usage_amount')} IS NOT NULL
        THEN 'line_item_usage_amount is not a number: ' || {_t('line_item_usage_amount')}
    WHEN resource_tags_text IS NOT NULL AND TRY_CAST(TRY_CAST(resource_tags_text AS JSON) AS MAP(VARCHAR, VARCHAR)) IS NULL
        THEN 'resource_tags is not a JSON object of strings'
END"""

_NO_REJECTS = ("SELECT NULL::BIGINT AS _source_line, NULL::VARCHAR AS reason, NULL::VARCHAR AS raw_record, "
               "NULL::TIMESTAMP AS record_ts_utc WHERE false")

#: The columns of a parsed CUR row (``stage_file``'s rows SELECT).
ROW_COLUMNS = (*TS_COLUMNS, *NUM_COLUMNS, *TEXT_COLUMNS, "resource_tags", "_source_line")


def stage_file(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[str | None, str]:
    """Parse one CUR data file into the temp table ``cur_checked`` of ``con``; returns the SELECTs of
    its rows (``ROW_COLUMNS``; None for an empty file) and of its rejects (``REJECT_SCHEMA``'s columns),
    valid until the next file is staged.

    ``_source_line`` is the row's number (Parquet) or its line, the header being line 1 (CSV). Parquet
    is read in place, only the columns used. Raises ``UnreadableFileError`` (naming ``lf.rel``) for a
    file DuckDB cannot read or one without a usage start date and an unblended cost column.
    """
    if lf.path.name.lower().endswith(".parquet"):
        source = (f"(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _source_line "
                  f"FROM read_parquet({sql_text(str(lf.path))}, file_row_number = true))")
        malformed = ""
    else:
        read_data_file(con, lf)  # CSV: temp tables cur_src (as text, with lines) and cur_bad
        source = "cur_src"
        malformed = "UNION ALL SELECT _source_line, reason, raw_record, NULL::TIMESTAMP FROM cur_bad"
    try:
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        if set(types) == {"_source_line"}:  # an empty file: not even a header
            return None, _NO_REJECTS
        missing = [c for c in REQUIRED if c not in {canonical_name(t) for t in types}]
        if missing:
            raise UnreadableFileError(lf.rel, "no column " + ", ".join(missing) + " (nor its legacy lineItem/... name)")
        source_items, typed_items, entries = _expressions(types)
        # Keep the first of equal tag keys (a map needs unique keys), then one JSON object per row.
        con.execute(f"""CREATE OR REPLACE TEMP TABLE cur_checked AS
            SELECT *, {_CHECKS} AS reason FROM (
                SELECT * EXCLUDE (_tags), {', '.join(typed_items)},
                       CAST(to_json(map_from_entries(list_filter(_tags, lambda e, i: i = 1 OR _tags[i - 1].key <> e.key))) AS VARCHAR) AS resource_tags
                FROM (SELECT _source_line, {', '.join(source_items)}, {_tag_entries_sql(entries)} AS _tags FROM {source}))""")
    except duckdb.Error as exc:
        raise UnreadableFileError(lf.rel, str(exc).strip().splitlines()[0]) from exc
    rows = f"SELECT {', '.join(ROW_COLUMNS)} FROM cur_checked WHERE reason IS NULL"
    shown = ", ".join(f"{sql_text(c)}, {_t(c)}" for c in (*TS_COLUMNS, *NUM_COLUMNS)) + ", " + ", ".join(
        f"{sql_text(c)}, {c}" for c in ("line_item_product_code", "line_item_usage_type", "line_item_resource_id"))
    rejects = f"""
        SELECT _source_line, reason, CAST(json_object({shown}) AS VARCHAR) AS raw_record,
               line_item_usage_start_date AS record_ts_utc
        FROM cur_checked WHERE reason IS NOT NULL
        {malformed}"""
    return rows, rejects


def parse_file(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    """Parse one CUR data file into Arrow (rows, rejects), each in line order: ``stage_file``'s SELECTs.
    An empty file gives no rows (a table without columns)."""
    rows_sql, rejects_sql = stage_file(con, lf)
    rows = fetch_arrow(con, f"{rows_sql} ORDER BY _source_line") if rows_sql else pa.table({})
    rejects = fetch_arrow(con, f"SELECT * FROM ({rejects_sql}) ORDER BY _source_line")
    return rows, rejects.cast(REJECT_SCHEMA)
