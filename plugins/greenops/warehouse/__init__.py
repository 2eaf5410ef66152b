"""The warehouse interface the ingestion code writes through; the DAGs never know which one is configured.

``replace_partitions`` is the load: each ``PartitionWrite`` deletes one partition (or the whole
snapshot table) and inserts its new rows, and all writes of one call commit together or not at all.
``replace_partitions_from`` does the same with rows that are still in a DuckDB connection (the parsed
day of telemetry), and ``delete_partitions_before`` applies a retention setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import pyarrow as pa

from greenops.raw_tables import RawTable, conform


@dataclass(frozen=True)
class PartitionWrite:
    table: RawTable
    data: pa.Table
    #: Partition values to replace; ignored for snapshot tables (partition_column None).
    partitions: tuple[date, ...] = ()
    #: Extra equality filters on the delete (e.g. the quarantine's ``source``).
    scope: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class QueryPartitionWrite:
    """A partition write whose rows come from a SELECT run inside the warehouse itself (BigQuery: an
    export table already in BigQuery is copied by a query job, never downloaded). ``select_sql``
    returns the table's columns; its named parameters (``@name``) come from ``params``."""

    table: RawTable
    select_sql: str
    partitions: tuple = ()
    scope: dict[str, str] = field(default_factory=dict)
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SelectPartitionWrite:
    """A partition write whose rows are a SELECT (without parameters) on a DuckDB connection of the
    caller's: the ingestion parses into that connection's temp tables. The DuckDB warehouse attaches
    its file to the connection and inserts from the SELECT, so a day of telemetry never passes through
    Python; other warehouses receive the rows as Arrow (``replace_partitions_from``)."""

    table: RawTable
    select_sql: str
    partitions: tuple = ()
    scope: dict[str, str] = field(default_factory=dict)


class Warehouse(Protocol):
    def ensure_raw_tables(self) -> None: ...

    def replace_partitions(self, writes: list[PartitionWrite]) -> None: ...

    def delete_partitions_before(self, table: RawTable, cutoff: date) -> None: ...

    def query(self, sql: str, params: list | None = None) -> pa.Table: ...


def replace_partitions_from(warehouse: Warehouse, con, writes: list[SelectPartitionWrite]) -> None:
    """``replace_partitions`` for writes whose rows are SELECTs on the DuckDB connection ``con``."""
    direct = getattr(warehouse, "replace_partitions_from", None)
    if direct is not None:
        direct(con, writes)
        return
    warehouse.replace_partitions([PartitionWrite(w.table, conform(w.table, con.sql(w.select_sql).to_arrow_table()),
                                                 w.partitions, w.scope) for w in writes])


def get_warehouse(settings=None) -> Warehouse:
    from greenops.settings import get_settings

    s = settings or get_settings()
    if s.warehouse_kind == "duckdb":
        from greenops.warehouse.duckdb_warehouse import DuckDBWarehouse

        return DuckDBWarehouse(s.warehouse_path)
    from greenops.warehouse.bigquery_warehouse import BigQueryWarehouse

    return BigQueryWarehouse.from_settings(s)
