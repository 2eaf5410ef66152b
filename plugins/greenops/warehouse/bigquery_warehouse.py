"""The production warehouse: BigQuery, through the google-cloud-bigquery client (REST).

The same interface as ``DuckDBWarehouse`` (``ensure_raw_tables``, ``replace_partitions``, ``query``);
the raw tables live in the dataset ``raw`` of ``GREENOPS_BQ_PROJECT``, dbt's models in ``staging``,
``intermediate``, ``marts`` and ``reference`` beside it.

How a partition is replaced, atomically:

- **One day of one day-partitioned table** (a call with a single write of a single day, no scope, at
  least one row): one load job from Parquet with ``WRITE_TRUNCATE`` on the partition decorator
  ``raw.<table>$YYYYMMDD``. A load job commits all or nothing, costs no DML and no query bytes.
- **Everything else** (several writes that must commit together, month partitions such as
  ``billing_period``, scoped writes such as the quarantine's, snapshot tables, copies of an export
  table already in BigQuery): each Arrow write is loaded into its own table in the dataset
  ``raw_staging`` (tables there expire after a day; ours are dropped right after), then one
  multi-statement transaction deletes the partitions and inserts the new rows of every write,
  ``INSERT ... SELECT`` from the staging tables or from the export query. A failure rolls the whole
  transaction back, so a retry finds the previous data.

Credentials: ``GREENOPS_BQ_METHOD=service-account`` with ``GREENOPS_BQ_KEYFILE`` (a key file kept
outside the repository), otherwise Google's application default credentials (workload identity, the
metadata server, ``GOOGLE_APPLICATION_CREDENTIALS``, ``gcloud auth application-default login``).
``GREENOPS_BQ_API_ENDPOINT`` points the client at another endpoint (the tests' local server).
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from datetime import date, datetime

import pyarrow as pa
import pyarrow.parquet as pq

from greenops.raw_tables import ALL_TABLES, FILE_TABLES, LOADED_FILES, RawTable
from greenops.warehouse import PartitionWrite, QueryPartitionWrite

log = logging.getLogger(__name__)

RAW_DATASET = "raw"
STAGING_DATASET = "raw_staging"
STAGING_EXPIRATION_DAYS = 1

#: Tables partitioned by a 'YYYY-MM' text column are partitioned in BigQuery by a date column that
#: holds the same month, and clustered by the text column (the DELETE's filter).
_LAYOUT = {
    "gcp_carbon_footprint": ("DATE_TRUNC(usage_month_start, MONTH)", ["usage_month", "project_id"]),
    "gcp_billing_export": ("usage_date", ["invoice_month", "project_id"]),
    "aws_cur_line_items": ("TIMESTAMP_TRUNC(line_item_usage_start_date, DAY)", ["billing_period"]),
}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARAM = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


def _ident(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a valid identifier: {name!r}")
    return f"`{name}`"


def bq_type(arrow_type: pa.DataType) -> str:
    """The BigQuery type of an Arrow type used by the raw tables."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "STRING"
    if pa.types.is_integer(arrow_type):
        return "INT64"
    if pa.types.is_floating(arrow_type):
        return "FLOAT64"
    if pa.types.is_boolean(arrow_type):
        return "BOOL"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    raise TypeError(f"no BigQuery type for {arrow_type}")


def layout(table: RawTable) -> tuple[str | None, list[str]]:
    """(PARTITION BY expression, CLUSTER BY columns) of a raw table in BigQuery."""
    if table.name in _LAYOUT:
        return _LAYOUT[table.name]
    column = table.partition_column
    if column is None:
        return None, []
    if pa.types.is_date(table.schema.field(column).type):
        return column, []
    return None, [column]  # a text period ('YYYY-MM'): clustered, so the DELETE reads little


def _day_partitioned(table: RawTable) -> bool:
    column = table.partition_column
    return (column is not None and table.name not in _LAYOUT
            and pa.types.is_date(table.schema.field(column).type))


def _for_parquet(table: pa.Table) -> pa.Table:
    """Naive timestamps are UTC: mark them so, so that BigQuery loads them as TIMESTAMP."""
    fields = [pa.field(f.name, pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) and f.type.tz is None else f
              for f in table.schema]
    return table.cast(pa.schema(fields))


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(_for_parquet(table), buf)
    return buf.getvalue()


def _scalar_parameter(name, value):
    from google.cloud import bigquery

    if isinstance(value, bool):
        return bigquery.ScalarQueryParameter(name, "BOOL", value)
    if isinstance(value, int):
        return bigquery.ScalarQueryParameter(name, "INT64", value)
    if isinstance(value, float):
        return bigquery.ScalarQueryParameter(name, "FLOAT64", value)
    if isinstance(value, datetime):
        return bigquery.ScalarQueryParameter(name, "TIMESTAMP", value)
    if isinstance(value, date):
        return bigquery.ScalarQueryParameter(name, "DATE", value)
    return bigquery.ScalarQueryParameter(name, "STRING", None if value is None else str(value))


def query_parameter(name: str | None, value):
    """A query parameter for a Python value (lists become ARRAY parameters of their first item's type)."""
    from google.cloud import bigquery

    if isinstance(value, (list, tuple)):
        sample = _scalar_parameter(None, value[0] if value else "")
        return bigquery.ArrayQueryParameter(name, sample.type_, list(value))
    return _scalar_parameter(name, value)


def bigquery_client(settings):
    """A BigQuery client for the settings' project and location (credentials: see the module doc)."""
    from google.cloud import bigquery

    credentials = None
    if settings.bq_api_endpoint and settings.bq_api_endpoint.startswith("http://"):
        # a plain-HTTP endpoint is a local emulator or test server: never send real credentials there
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    elif settings.bq_method == "service-account" and settings.bq_keyfile:
        from google.oauth2 import service_account

        credentials = service_account.Credentials.from_service_account_file(
            settings.bq_keyfile, scopes=["https://www.googleapis.com/auth/cloud-platform"])
    options = {"api_endpoint": settings.bq_api_endpoint} if settings.bq_api_endpoint else None
    return bigquery.Client(project=settings.bq_project, location=settings.bq_location,
                           credentials=credentials, client_options=options)


class BigQueryWarehouse:
    def __init__(self, client, project: str | None = None, location: str | None = None):
        self.client = client
        self.project = project or client.project
        self.location = location or client.location or "US"
        self._ensured = False

    @classmethod
    def from_settings(cls, settings) -> "BigQueryWarehouse":
        if not settings.bq_project:
            raise ValueError("GREENOPS_WAREHOUSE_KIND=bigquery needs GREENOPS_BQ_PROJECT (the project of the warehouse's datasets)")
        return cls(bigquery_client(settings), settings.bq_project, settings.bq_location)

    # --- names -----------------------------------------------------------------------------------

    def table_id(self, table: str, dataset: str = RAW_DATASET) -> str:
        return f"`{self.project}.{dataset}.{table}`"

    # --- queries ---------------------------------------------------------------------------------

    def _run(self, sql: str, parameters: list | None = None):
        from google.cloud import bigquery

        config = bigquery.QueryJobConfig(query_parameters=parameters or [])
        return self.client.query_and_wait(sql, job_config=config, location=self.location, project=self.project)

    def query(self, sql: str, params: list | dict | None = None) -> pa.Table:
        """Run GoogleSQL and return the rows as Arrow. ``params``: a list for positional ``?``
        parameters (as with DuckDB), or a dict for named ``@name`` ones."""
        if isinstance(params, dict):
            parameters = [query_parameter(k, v) for k, v in params.items()]
        else:
            parameters = [query_parameter(None, v) for v in (params or [])]
        return self._run(sql, parameters).to_arrow(create_bqstorage_client=False)

    # --- raw tables ------------------------------------------------------------------------------

    def ensure_raw_tables(self) -> None:
        """Create the datasets and raw tables that are missing, and add columns a newer release
        brought (BigQuery adds NULLABLE columns in place). Once per warehouse object. Columns a newer
        release no longer writes stay, NULL in new rows: the per-row file lineage of the file-loaded
        tables before ``loaded_files`` keeps the lineage of the rows loaded before the upgrade."""
        if self._ensured:
            return
        statements = [
            f"CREATE SCHEMA IF NOT EXISTS `{self.project}.{RAW_DATASET}` OPTIONS(location = '{self.location}')",
            f"CREATE SCHEMA IF NOT EXISTS `{self.project}.{STAGING_DATASET}` OPTIONS(location = '{self.location}', "
            f"default_table_expiration_days = {STAGING_EXPIRATION_DAYS})",
        ]
        for table in ALL_TABLES:
            columns = ", ".join(f"{_ident(f.name)} {bq_type(f.type)}" for f in table.schema)
            partition, cluster = layout(table)
            ddl = f"CREATE TABLE IF NOT EXISTS {self.table_id(table.name)} ({columns})"
            if partition:
                ddl += f" PARTITION BY {partition}"
            if cluster:
                ddl += " CLUSTER BY " + ", ".join(_ident(c) for c in cluster)
            description = table.description.replace("\\", "\\\\").replace('"', '\\"')
            statements.append(ddl + f' OPTIONS(description = "{description}")')
        self._run(";\n".join(statements) + ";")
        have: dict[str, set[str]] = {}
        existing = self.query(f"SELECT table_name, column_name FROM `{self.project}.{RAW_DATASET}.INFORMATION_SCHEMA.COLUMNS`")
        for row in existing.to_pylist():
            have.setdefault(row["table_name"], set()).add(row["column_name"])
        alters = []
        for table in ALL_TABLES:
            missing = [f for f in table.schema if f.name not in have.get(table.name, {f.name for f in table.schema})]
            if missing:
                alters.append(f"ALTER TABLE {self.table_id(table.name)} "
                              + ", ".join(f"ADD COLUMN IF NOT EXISTS {_ident(f.name)} {bq_type(f.type)}" for f in missing))
        if alters:
            self._run(";\n".join(alters) + ";")
        self._ensured = True

    def _load(self, data: pa.Table, destination: str):
        """One load job from Parquet, replacing ``destination`` (a table or a partition decorator)."""
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET,
                                        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE)
        body = _parquet_bytes(data)
        job = self.client.load_table_from_file(io.BytesIO(body), destination, job_config=config, size=len(body),
                                               location=self.location, project=self.project)
        job.result()
        return job

    def replace_partitions(self, writes: list[PartitionWrite | QueryPartitionWrite]) -> None:
        """Replace every write's partitions; all writes of one call commit together or not at all
        (see the module doc for the two ways)."""
        for w in writes:
            if w.table.partition_column is not None and not w.partitions:
                raise ValueError(f"write to raw.{w.table.name} names no partition")
        self.ensure_raw_tables()
        if len(writes) == 1 and self._decorator_write(writes[0]):
            return
        staged: list[str] = []
        try:
            self._transaction(writes, staged)
        finally:
            if staged:
                try:
                    self._run(";\n".join(f"DROP TABLE IF EXISTS {t}" for t in staged) + ";")
                except Exception as exc:  # noqa: BLE001 - they expire anyway
                    log.warning("could not drop staging tables (they expire in %d day): %s", STAGING_EXPIRATION_DAYS, exc)

    def delete_partitions_before(self, table: RawTable, cutoff) -> None:
        """Retention: delete a day-partitioned raw table's partitions before ``cutoff`` (a date), and
        their files' rows in ``loaded_files``."""
        statements = [f"DELETE FROM {self.table_id(table.name)} WHERE {_ident(table.partition_column)} < @cutoff"]
        if table in FILE_TABLES:
            statements.append(f"DELETE FROM {self.table_id(LOADED_FILES.name)} WHERE raw_table = @raw_table "
                              "AND partition_date < @cutoff")
        self._run(";\n".join(statements) + ";",
                  [query_parameter("cutoff", cutoff), query_parameter("raw_table", table.name)])

    def _decorator_write(self, w) -> bool:
        if not (isinstance(w, PartitionWrite) and _day_partitioned(w.table) and not w.scope
                and len(w.partitions) == 1 and w.data.num_rows > 0):
            return False
        day = w.partitions[0]
        values = set(w.data.column(w.table.partition_column).to_pylist())
        if values != {day}:
            raise ValueError(f"rows for raw.{w.table.name} outside partition {day}: {sorted(map(str, values - {day}))}")
        destination = f"{self.project}.{RAW_DATASET}.{w.table.name}${day:%Y%m%d}"
        self._load(w.data.select(w.table.columns), destination)
        log.info("raw.%s: replaced partition %s (%d rows) with a load job", w.table.name, day, w.data.num_rows)
        return True

    def _transaction(self, writes, staged: list[str]) -> None:
        statements, parameters = [], []
        for i, w in enumerate(writes):
            target = self.table_id(w.table.name)
            where = []
            if w.table.partition_column is not None:
                where.append(f"{_ident(w.table.partition_column)} IN UNNEST(@w{i}_partitions)")
                parameters.append(query_parameter(f"w{i}_partitions", list(w.partitions)))
            for j, (column, value) in enumerate(w.scope.items()):
                where.append(f"{_ident(column)} = @w{i}_scope{j}")
                parameters.append(query_parameter(f"w{i}_scope{j}", value))
            statements.append(f"DELETE FROM {target} WHERE {' AND '.join(where) or 'TRUE'}")
            columns = ", ".join(_ident(c) for c in w.table.columns)
            if isinstance(w, QueryPartitionWrite):
                select = _PARAM.sub(lambda m: f"@q{i}_{m.group(1)}", w.select_sql)
                parameters += [query_parameter(f"q{i}_{k}", v) for k, v in w.params.items()]
                statements.append(f"INSERT INTO {target} ({columns})\nSELECT {columns} FROM (\n{select}\n)")
            elif w.data.num_rows:
                stage_name = f"{w.table.name}_{uuid.uuid4().hex[:12]}"
                stage = self.table_id(stage_name, STAGING_DATASET)
                self._load(w.data.select(w.table.columns), f"{self.project}.{STAGING_DATASET}.{stage_name}")
                staged.append(stage)
                statements.append(f"INSERT INTO {target} ({columns})\nSELECT {columns} FROM {stage}")
        body = ";\n  ".join(statements)
        script = (f"BEGIN\n  BEGIN TRANSACTION;\n  {body};\n  COMMIT TRANSACTION;\n"
                  "EXCEPTION WHEN ERROR THEN\n  ROLLBACK TRANSACTION;\n  RAISE USING MESSAGE = @@error.message;\nEND;")
        self._run(script, parameters)
        log.info("replaced %s in one transaction", ", ".join(f"raw.{w.table.name}{list(map(str, w.partitions))}" for w in writes))
