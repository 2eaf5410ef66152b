"""What the two GCP exports (Carbon Footprint, Cloud Billing) share: reading a file written by
``bq extract`` (or a query export), naming columns one way, and the one column mapping that both the
file path and the in-BigQuery copy use.

Both exports are BigQuery tables with nested RECORD columns (``project.id``,
``carbon_footprint_kgCO2e.scope2.location_based``) and, for billing, REPEATED key/value records
(``labels``). Outside BigQuery they arrive as:

- Parquet (``bq extract --destination_format PARQUET``): nested structs and lists, typed;
- newline-delimited JSON (``NEWLINE_DELIMITED_JSON``): nested objects; INT64 values written as
  JSON strings (BigQuery does so to keep 64-bit precision);
- CSV: ``bq extract`` refuses nested tables, so a CSV is a query export or a hand-made sample with
  flattened names, ``carbon_footprint_kgCO2e.scope1`` or ``carbon_footprint_kgco2e_scope1``; repeated
  records then sit in one cell as JSON or as a Python literal (``[{'key': 'k', 'value': 'v'}]``).

``read_export_file`` turns any of them into one flat Arrow table: nested names joined with dots and
then normalised by ``column_key`` (lower case, every run of other characters one ``_``), scalar values
as delivered (text for CSV and JSON), repeated records as JSON text, plus ``_source_line``.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from greenops.sources.aws_cur import read_data_file
from greenops.sources.common import LandingFile, UnreadableFileError, fetch_arrow

#: File names read from the landing folders (anything else is ignored).
SUFFIXES = (".parquet", ".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz", ".csv", ".csv.gz")

_NON_WORD = re.compile(r"[^a-z0-9]+")


def column_key(name: str) -> str:
    """``carbon_footprint_kgCO2e.scope2.location_based`` -> ``carbon_footprint_kgco2e_scope2_location_based``."""
    return _NON_WORD.sub("_", name.strip().lower()).strip("_")


@dataclass(frozen=True)
class Column:
    """One raw-table column and where the export keeps it.

    ``path`` is the field path in the export table (``("project", "id")``); ``kind`` one of text,
    float, int, date, timestamp, labels (a REPEATED key/value record kept as a JSON object),
    records (a REPEATED record kept as a JSON array). ``aliases`` are other flattened names accepted
    in files.
    """

    name: str
    path: tuple[str, ...]
    kind: str = "text"
    aliases: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return (column_key(".".join(self.path)), *(column_key(a) for a in self.aliases))

    def bigquery_sql(self, alias: str = "t", available: set[str] | None = None) -> str:
        """The expression reading this column from the export table inside BigQuery; NULL (labels
        '{}', records '[]') when ``available`` (the table's field paths as ``column_key``s) lacks it,
        e.g. ``resource.name`` in a standard (not detailed) billing export."""
        ref = alias + "." + ".".join(f"`{p}`" for p in self.path)
        if available is not None and self.keys[0] not in available:
            return {"labels": "'{}'", "records": "'[]'"}.get(self.kind, f"cast(null as {self._bq_type})")
        if self.kind == "labels":
            # REPEATED STRUCT<key, value> -> '{"k":"v",...}': keys sorted, the first of equal keys kept,
            # empty values dropped, '{}' when none (the file path's labels_json does the same)
            return (f"coalesce((select concat('{{', string_agg(concat(to_json_string(key), ':', to_json_string(value)), ',' "
                    f"order by key), '}}') from (select l.key, array_agg(l.value order by o limit 1)[offset(0)] as value "
                    f"from unnest({ref}) l with offset o where l.value is not null and l.value != '' group by l.key)), '{{}}')")
        if self.kind == "records":
            return f"to_json_string(coalesce({ref}, []))"
        return f"cast({ref} as {self._bq_type})"

    @property
    def _bq_type(self) -> str:
        return {"text": "STRING", "float": "FLOAT64", "int": "INT64", "date": "DATE", "timestamp": "TIMESTAMP",
                "labels": "STRING", "records": "STRING"}[self.kind]


# ------------------------------------------------------------------------------------------------
# Reading files


def _flatten(table: pa.Table) -> pa.Table:
    """Struct columns become one column per leaf (``a.b.c``); list columns become JSON text."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    columns, names = [], []
    for field, column in zip(table.schema, table.columns):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type) or pa.types.is_map(field.type):
            column = pa.array([None if v is None else json.dumps(v, default=str) for v in column.to_pylist()], pa.string())
        columns.append(column)
        names.append(field.name)
    return pa.Table.from_arrays(columns, names=names)


def _flatten_object(obj: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten_object(value, name + "."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value)
        elif isinstance(value, bool):
            flat[name] = "true" if value else "false"
        else:
            flat[name] = None if value is None else str(value)
    return flat


def _read_ndjson(lf: LandingFile) -> tuple[pa.Table, list[dict]]:
    opener = gzip.open if lf.path.name.endswith(".gz") else open
    records, lines, bad = [], [], []
    try:
        with opener(lf.path, "rt", encoding="utf-8-sig") as fh:
            for number, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except ValueError as exc:
                    bad.append({"_source_line": number, "reason": f"malformed JSON line: {exc}", "raw_record": text.rstrip("\n")[:2000]})
                    continue
                if not isinstance(value, dict):
                    bad.append({"_source_line": number, "reason": "JSON line is not an object", "raw_record": text.rstrip("\n")[:2000]})
                    continue
                records.append(_flatten_object(value))
                lines.append(number)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise UnreadableFileError(lf.rel, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
    names: list[str] = []
    for record in records:
        names += [n for n in record if n not in names]
    table = pa.table({n: pa.array([r.get(n) for r in records], pa.string()) for n in names})
    return table.append_column("_source_line", pa.array(lines, pa.int64())), bad


def read_export_file(con: duckdb.DuckDBPyConnection, lf: LandingFile) -> tuple[pa.Table, pa.Table]:
    """Read one export file into (rows, bad): ``rows`` flat with ``column_key`` names and
    ``_source_line`` (CSV: the line, header = 1; JSON: the line; Parquet: the row number); ``bad`` the
    lines that are not rows at all (malformed CSV or JSON) with ``_source_line``, ``reason``,
    ``raw_record``. A file that cannot be read raises ``UnreadableFileError`` naming it."""
    name = lf.path.name.lower()
    bad: list[dict] = []
    if name.endswith(".parquet"):
        try:
            table = pq.read_table(lf.path)
        except (OSError, pa.ArrowException) as exc:
            raise UnreadableFileError(lf.rel, str(exc).splitlines()[0]) from exc
        table = _flatten(table).append_column("_source_line", pa.array(range(1, table.num_rows + 1), pa.int64()))
    elif name.endswith((".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")):
        table, bad = _read_ndjson(lf)
    elif name.endswith((".csv", ".csv.gz")):
        read_data_file(con, lf)  # CSV as text, exact line numbers, malformed rows kept aside
        table = fetch_arrow(con, "SELECT * FROM cur_src")
        bad = fetch_arrow(con, "SELECT * FROM cur_bad").to_pylist()
    else:
        raise UnreadableFileError(lf.rel, "not an export file (expected .parquet, .json / .jsonl, .csv or .csv.gz)")
    keys: dict[str, str] = {}
    names = []
    for column in table.column_names:
        key = "_source_line" if column == "_source_line" else column_key(column)
        if key in keys:  # two spellings of one column: the first wins
            key = f"{key}__{len(keys)}"
        keys[key] = column
        names.append(key)
    table = table.rename_columns(names)
    bad_table = pa.Table.from_pylist(bad, pa.schema([("_source_line", pa.int64()), ("reason", pa.string()), ("raw_record", pa.string())]))
    return table, bad_table


def bigquery_field_paths_sql(export_table: str) -> str:
    """The export table's field paths (``project.id``...), from INFORMATION_SCHEMA, as ``field_path``."""
    project, dataset, table = export_table.split(".")
    return (f"select field_path from `{project}.{dataset}`.INFORMATION_SCHEMA.COLUMN_FIELD_PATHS "
            f"where table_name = '{table}'")


def find_files(root: Path) -> list[Path]:
    """The export files under ``root`` (recursively), in name order; hidden files are ignored."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.name.lower().endswith(SUFFIXES))


def pick_columns(table: pa.Table, columns: list[Column]) -> dict[str, str | None]:
    """Our column name -> the file's column that holds it (None when absent)."""
    have = set(table.column_names)
    return {c.name: next((k for k in c.keys if k in have), None) for c in columns}


# ------------------------------------------------------------------------------------------------
# Repeated key/value records (labels) and credits


def _literal(text: str):
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:  # CSV exports written by Python tools carry the repr of a list of dicts
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"neither JSON nor a literal: {text[:80]}") from None


def labels_json(text: str | None) -> str:
    """``[{"key": "k", "value": "v"}, ...]`` (JSON or a Python literal), a ``{"k": "v"}`` object, or
    empty -> a JSON object with sorted keys, empty values dropped, the first of equal keys kept.
    Raises ValueError for anything else."""
    if text is None or not str(text).strip():
        return "{}"
    value = _literal(str(text))
    pairs: list[tuple[str, object]] = []
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or "key" not in item:
                raise ValueError("labels: an item is not a {key, value} record")
            pairs.append((item["key"], item.get("value")))
    else:
        raise ValueError("labels: not a list of {key, value} records")
    out: dict[str, str] = {}
    for key, val in pairs:
        if val is None or str(val) == "" or str(key) in out:
            continue
        out[str(key)] = str(val)
    return json.dumps(dict(sorted(out.items())), separators=(",", ":"))


def credits_json(text: str | None) -> tuple[str, float]:
    """The credits array (JSON or a Python literal) as JSON text, and the sum of its amounts."""
    if text is None or not str(text).strip():
        return "[]", 0.0
    value = _literal(str(text))
    if not isinstance(value, list) or not all(isinstance(c, dict) for c in value):
        raise ValueError("credits: not a list of records")
    total = 0.0
    for credit in value:
        amount = credit.get("amount")
        total += float(amount) if amount not in (None, "") else 0.0
    return json.dumps(value, separators=(",", ":"), default=str), total


def map_distinct(column: pa.ChunkedArray | pa.Array, fn) -> tuple[list, list[str | None]]:
    """Apply ``fn`` to each distinct text value once (label columns repeat a lot); returns the
    per-row results and per-row error messages (None where ``fn`` succeeded)."""
    values = column.to_pylist()
    cache: dict = {}
    results, errors = [], []
    for v in values:
        if v not in cache:
            try:
                cache[v] = (fn(v), None)
            except ValueError as exc:
                cache[v] = (None, str(exc))
        result, error = cache[v]
        results.append(result)
        errors.append(error)
    return results, errors


# ------------------------------------------------------------------------------------------------
# Content fingerprints


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def content_fingerprint(rows: pa.Table, rejects: pa.Table, ignore: tuple[str, ...] = ()) -> str:
    """sha256 over a period's rows and rejected rows, independent of row order, file names and
    lineage: the same content delivered again (renamed, split differently) is not reloaded."""
    digests = []
    for table, tag in ((rows, "row"), (rejects, "reject")):
        keep = [c for c in table.column_names if not c.startswith("_") and c not in ignore]
        for record in table.select(keep).to_pylist():
            text = json.dumps({k: _plain(v) for k, v in record.items()}, sort_keys=True, default=str)
            digests.append(hashlib.sha256(f"{tag}\t{text}".encode()).hexdigest())
    h = hashlib.sha256()
    for d in sorted(digests):
        h.update(d.encode())
    return "files:" + h.hexdigest()


def describe_file(landing_dir: Path, path: Path) -> LandingFile:
    try:
        rel = path.relative_to(landing_dir).as_posix()
    except ValueError:
        rel = path.as_posix()
    return LandingFile(path, rel, None, None)
