"""What every file-based source shares: finding a day's files in the landing folder, reading a file's
lines with their numbers, and the shape of rejected rows.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

_DATE_DIR = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")
_HOST_DIR = re.compile(r"^host=(.+)$")
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")

#: No GPU draws more than this; readings above it are sensor or parsing errors (W).
MAX_PLAUSIBLE_POWER_W = 2000.0
#: Readings above the GPU's enforced power limit by more than this factor are rejected.
POWER_LIMIT_TOLERANCE = 1.5

#: Rows a parser could not accept: the line they came from, why, and the text itself.
REJECT_SCHEMA = pa.schema(
    [
        pa.field("_source_line", pa.int64()),
        pa.field("reason", pa.string()),
        pa.field("raw_record", pa.string()),
        pa.field("record_ts_utc", pa.timestamp("us")),  # when the row has a usable timestamp
    ]
)


def sql_text(value: str) -> str:
    """A SQL string literal (for DuckDB statements that take no parameters: views, ATTACH)."""
    return "'" + value.replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    """A quoted SQL identifier (a source's column name as delivered)."""
    return '"' + name.replace('"', '""') + '"'


def files_name(files: list[LandingFile]) -> str:
    """Files read together, as an error names them: the file, or the first of several."""
    return files[0].rel if len(files) == 1 else f"{files[0].rel} (or another of the {len(files)} files read with it)"


class UnreadableFileError(RuntimeError):
    """A file that cannot be read at all. The message always names the file."""

    def __init__(self, rel_path: str, problem: str):
        super().__init__(f"cannot read {rel_path}: {problem}")
        self.rel_path = rel_path
        self.problem = problem


@dataclass(frozen=True)
class LandingFile:
    path: Path  # absolute
    rel: str  # relative to the landing folder, '/'-separated: what lineage records
    host: str | None  # from a host=<name> folder
    file_date: date | None  # from a date=YYYY-MM-DD folder or a date in the file name


def _file_date(parts: tuple[str, ...]) -> date | None:
    """The date of the outermost ``date=`` folder, else a date in the file's name; None for neither
    (an undated file: every run reads it). A folder of an impossible date leaves the file undated."""
    for part in parts[:-1]:
        if _DATE_DIR.match(part):
            return _folder_date(part)
    m = _DATE_IN_NAME.search(parts[-1])
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    return None


def describe(landing_dir: Path, path: Path) -> LandingFile:
    rel_parts = path.relative_to(landing_dir).parts
    host = next((m.group(1) for p in rel_parts[:-1] if (m := _HOST_DIR.match(p))), None)
    return LandingFile(path, "/".join(rel_parts), host, _file_date(rel_parts))


def _folder_date(name: str) -> date | None:
    """The date of a ``date=YYYY-MM-DD`` folder; None for another folder or an impossible date (the
    walk enters it, and its files are undated)."""
    m = _DATE_DIR.match(name)
    try:
        return date.fromisoformat(m.group(1)) if m else None
    except ValueError:
        return None


def files_for_day(landing_dir: Path, subdir: str, day: date, suffixes: tuple[str, ...]) -> list[LandingFile]:
    """The files that may hold rows of UTC day ``day``, in path order.

    A file dated by its folder (``date=YYYY-MM-DD``) or name is read by the runs of the day before,
    the day itself and the day after (local dates differ from UTC dates by up to a day); an undated
    file is read by every run. Each run keeps only the rows of its own UTC day. The walk does not
    enter the date folders of other days: the landing folder keeps every day it was given (a year of
    the collector's parts at 1,000 GPUs is 66 million files).
    """
    root = landing_dir / subdir
    if not root.exists():
        return []
    window = {day - timedelta(days=1), day, day + timedelta(days=1)}
    found = []
    for folder, subfolders, names in os.walk(root):
        if not any(_DATE_DIR.match(p) for p in Path(folder).relative_to(root).parts):  # not inside a date folder yet
            subfolders[:] = [d for d in subfolders if _folder_date(d) in window | {None}]
        for name in names:
            path = Path(folder, name)
            if name.startswith(".") or not name.endswith(suffixes) or not path.is_file():
                continue
            lf = describe(landing_dir, path)
            if lf.file_date is None or lf.file_date in window:
                found.append(lf)
    return sorted(found, key=lambda lf: lf.path)


#: SQL: ``line`` is not blank, as ``trim(line) <> ''`` says (trim removes spaces, also Unicode ones, not
#: tabs). A first character that is printable ASCII other than a space decides nearly every line
#: without copying it; trim(), which copies the line, runs only for the others. A third faster than
#: trim() alone on 340-character lines.
NOT_BLANK = "(ascii(line) BETWEEN 33 AND 126 OR trim(line) <> '')"


def read_lines(con: duckdb.DuckDBPyConnection, lf: LandingFile, view: str = "lines") -> int:
    """Load a text file (plain or gzip) as a temp view ``view(ln, line)``; returns the line count.

    Blank lines keep their numbers (as NULL lines), so ``ln`` is the line number a person sees in an
    editor. A UTF-8 byte-order mark at the start is dropped. The file is read in parallel into a temp
    table in file order (the connection preserves insertion order), so a line's number is its position
    there (row id - first row id + 1): no window over the lines, which would read the file on one
    thread (0.56-0.94 s instead of 0.37-0.44 s for a 375 MB file, docs/benchmarks.md).
    """
    text = f"{view}_text"
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {text} AS
            SELECT line
            FROM read_csv(?, columns = {{'line': 'VARCHAR'}}, header = false, delim = chr(1), quote = '',
                          escape = '', auto_detect = false, strict_mode = false, compression = 'auto')
            """,
            [str(lf.path)],
        )
    except duckdb.Error as exc:
        raise UnreadableFileError(lf.rel, _encoding_problem(lf, exc) or short_error(exc)) from exc
    # row ids count from the table's first row (a table created inside an open transaction starts at 2^55)
    n, first = con.execute(f"SELECT count(*), min(rowid) FROM {text}").fetchone()
    if not n:
        first = 0
    con.execute(f"UPDATE {text} SET line = ltrim(line, chr(65279)) WHERE rowid = {first} AND starts_with(line, chr(65279))")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT rowid - {first} + 1 AS ln, line FROM {text}")
    return n


def short_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _encoding_problem(lf: LandingFile, exc: Exception) -> str | None:
    """A plain-language reason for a file that is not UTF-8 text (DuckDB's own message is long)."""
    text = str(exc)
    if "not utf-8 encoded" not in text.lower():
        return None
    line = re.search(r"CSV Error on Line: (\d+)", text)
    where = f" (first invalid bytes on line {line.group(1)})" if line else ""
    with open(lf.path, "rb") as f:
        start = f.read(2)
    if start in (b"\xff\xfe", b"\xfe\xff"):
        return "UTF-16 text (Windows PowerShell writes `>` redirects so); save it as UTF-8"
    return f"not UTF-8 text{where}; save it as UTF-8"


def delimiter_hint(first_line: str) -> str:
    """Words for a header that lacks our columns because its fields are not separated by commas."""
    for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
        if sep in first_line and "," not in first_line:
            return f"; its fields are separated by {name}, not commas"
    return ""


def new_connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB used as the parsing engine (never the warehouse file)."""
    from greenops.warehouse.duckdb_warehouse import SAFE_SETTINGS

    con = duckdb.connect()
    # read_lines numbers a file's lines by their order in a temp table: keep insertion order (the default)
    con.execute("SET preserve_insertion_order = true")
    con.execute(SAFE_SETTINGS)
    return _session(con)


def side_connection(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Another connection to ``con``'s in-memory database (its settings and attached files), with its
    own transactions and temp tables."""
    return _session(con.cursor())


def _session(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """The settings each connection has to be given (the others are the database's)."""
    con.execute("SET TimeZone = 'UTC'")
    return con


def to_utc_sql(value_sql: str, tz_sql: str, utc: bool = False) -> str:
    """SQL turning a timestamp text into a naive UTC timestamp.

    Text with an offset (``+08:00``, ``Z``) is exact; text without one is local time in ``tz_sql``
    (``utc``: the zone is known to be UTC, so no conversion is needed). Slashes in the date
    (nvidia-smi prints ``2024/03/01``) are accepted. NULL when unparseable.
    """
    v = f"replace(trim({value_sql}), '/', '-')"
    local = f"try_cast({v} AS TIMESTAMP)" if utc else f"timezone({tz_sql}, try_cast({v} AS TIMESTAMP)) AT TIME ZONE 'UTC'"
    return f"""CASE
        WHEN regexp_matches({v}, '(Z|[+-]\\d\\d:?\\d\\d)$')
            THEN try_cast({v} AS TIMESTAMPTZ) AT TIME ZONE 'UTC'
        ELSE {local}
    END"""


def fetch_arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pa.Table:
    """Run a query and return its result as an Arrow table (no extra copy)."""
    return con.sql(sql, params=params).to_arrow_table()
