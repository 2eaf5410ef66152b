"""Cost Management exports: the parser on the real samples (finops-toolkit EA exports with a UTF-8 BOM
and MM/DD/YYYY dates, the export with no rows, the FOCUS converters' CAD export, koku's EA v2 / MCA
camelCase / legacy cost report files), bad rows quarantined with their line, and loads from a
landing folder laid out like the storage container: manifests, the latest run of a period
replacing older ones, unchanged months skipped, FocusCost into raw.azure_focus_charges, and a
broken delivery changing nothing."""

from __future__ import annotations

import csv
import gzip
import json
import shutil

import duckdb
import pytest

from greenops import ingest_azure
from greenops.sources import azure_usage
from greenops.settings import PROJECT_ROOT
from greenops.sources.common import LandingFile, UnreadableFileError, new_connection


def _parse(path, rel=None):
    return azure_usage.parse_export_file(new_connection(), LandingFile(path, rel or path.name, None, None))


def _rows(settings, sql):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute(sql).fetchall()


# --- the parser on real samples ---------------------------------------------------------------------


def test_finops_toolkit_ea_exports_with_bom_and_us_dates(external):
    folder = external / "azure_finops_toolkit"
    assert (folder / "EA_ActualCost_Small.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    rows, rejects = _parse(folder / "EA_ActualCost_Small.csv")
    assert (rows.num_rows, rejects.num_rows) == (11, 0)
    assert sum(rows.column("cost_billing_currency").to_pylist()) == pytest.approx(sum(rows.column("cost_usd").to_pylist()))
    first = rows.to_pylist()[0]  # the BOM'd header's first column is read as BillingAccountId
    assert (first["billing_account_id"], str(first["usage_date"]), str(first["billing_period_start_date"]),
            str(first["billing_period_end_date"])) == ("8611537", "2023-09-21", "2023-09-01", "2023-09-30")
    assert (first["meter_category"], first["meter_subcategory"], first["meter_name"], first["charge_type"],
            first["pricing_model"]) == ("Virtual Machines", "BS Series", "B1s", "Purchase", "Reservation")
    assert (first["cost_billing_currency"], first["billing_currency"], first["cost_usd"], first["tags"]) == (3.25, "USD", 3.25, "{}")
    storage = rows.to_pylist()[1]
    assert storage["quantity"] == 0.0004 and storage["cost_billing_currency"] == 0.00004
    assert storage["resource_id"].endswith("/storageAccounts/dbstoragewp6hglwvvrad2") and storage["resource_location"] == "EastUS2"
    # EA writes Tags without the braces: read as a JSON object, keys sorted
    assert json.loads(storage["tags"]) == {"CostCenter": "1234", "env": "prod", "org": "trey", "application": "databricks",
                                           "databricks-environment": "true"}

    rows, rejects = _parse(folder / "EA_AmortizedCost_Small.csv")
    assert (rows.num_rows, rejects.num_rows) == (28, 0)
    vm = rows.to_pylist()[0]
    assert (vm["vm_size"], vm["quantity"], vm["effective_price"], vm["cost_billing_currency"]) == ("Standard_DS2_v2", 8.0, 0.061644, 0.493152)
    assert json.loads(vm["tags"])["aks-managed-poolName"] == "agentpool"
    assert "aks-managed-createOperationID" not in json.loads(vm["tags"])  # empty values dropped
    assert json.loads(vm["additional_info"])["VMName"] == "aks-agentpool-42850074-vmss_1"

    rows, rejects = _parse(folder / "EA_NoRows.csv")  # a header and nothing else
    assert (rows.num_rows, rejects.num_rows) == (0, 0)


def test_focus_converters_ea_export_in_cad(external):
    rows, rejects = _parse(external / "azure_ea_focus_converters" / "sample-anonymous-ea-export-dataset.csv")
    assert (rows.num_rows, rejects.num_rows) == (27, 0)
    first = rows.to_pylist()[0]
    assert (str(first["usage_date"]), first["billing_currency"], first["cost_billing_currency"], first["cost_usd"]) == (
        "2023-09-02", "CAD", 0.000305367, None)  # 9/2/2023 (M/D/YYYY); no USD figure for a CAD bill
    assert first["tags"] == '{"tagA":"valueA","tagB":"valueB","tagC":"valueC"}'
    assert set(rows.column("billing_currency").to_pylist()) == {"CAD"}


def test_koku_ea_v2_mca_camel_case_and_legacy_cost_report(external):
    azure = external / "koku_test_data" / "azure"
    rows, _ = _parse(azure / "azure_version_2.csv")
    assert rows.num_rows == 5
    vm = [r for r in rows.to_pylist() if r["meter_category"] == "Virtual Machines"][0]
    assert (vm["meter_subcategory"], vm["quantity"], vm["cost_billing_currency"], vm["vm_size"], str(vm["usage_date"])) == (
        "Dv3/DSv3 Series", 22.0, 3.455664, "Standard_D4s_v3", "2020-09-11")

    # MCA camelCase with costInUsd; this file mixes CRLF and LF line ends
    rows, rejects = _parse(azure / "camel_azure_version_2.csv")
    assert (rows.num_rows, rejects.num_rows) == (4, 0)
    last = rows.to_pylist()[-1]
    assert (str(last["usage_date"]), last["cost_usd"], last["resource_location"], last["tags"], last["_source_line"]) == (
        "2023-08-01", 0.000000144, "eastus2", '{"project":"p1"}', 5)

    rows, _ = _parse(azure / "costreport_a243c6f2-199f-4074-9a2c-40e671cf1584.csv")  # UsageDateTime, PreTaxCost
    assert [(str(r["usage_date"]), r["cost_billing_currency"], r["meter_name"]) for r in rows.to_pylist()] == [
        ("2019-07-29", 0.0, "Data Transfer Out - Free"), ("2019-07-28", 0.00010368, "Disk Read Operations"),
        ("2019-07-28", 0.00000648, "LRS Data Stored")]
    rows, _ = _parse(azure / "azure_camelCased.csv")
    assert rows.column("quantity").to_pylist() == [0.000004, 0.288, 0.000144]


def test_bad_rows_are_quarantined_with_their_line(external, tmp_path):
    with (external / "azure_finops_toolkit" / "EA_ActualCost_Small.csv").open(encoding="utf-8-sig", newline="") as fh:
        header, *lines = list(csv.reader(fh))
    col = {name: i for i, name in enumerate(header)}

    def variant(**changes):
        row = list(lines[0])
        for name, value in changes.items():
            row[col[name]] = value
        return row

    bad = [variant(Date="13/45/2023"), variant(Cost="three"), variant(BillingPeriodEndDate="08/31/2023"),
           variant(Tags="not json"), variant(Date=""), lines[1]]
    path = tmp_path / "part_0_0001.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([header, *bad])
    rows, rejects = _parse(path)
    assert rows.column("_source_line").to_pylist() == [7]
    assert list(zip(rejects.column("_source_line").to_pylist(), rejects.column("reason").to_pylist())) == [
        (2, "unparseable usage date: 13/45/2023"),
        (3, "cost_billing_currency is not a number: three"),
        (4, "billing period ends before it starts: 09/01/2023 .. 08/31/2023"),
        (5, "tags is not a JSON object: not json"),
        (6, "usage date missing"),
    ]
    assert json.loads(rejects.column("raw_record")[1].as_py())["cost_billing_currency"] == "three"

    other = tmp_path / "prices.csv"
    other.write_text("MeterId,UnitPrice\nabc,1.0\n")
    with pytest.raises(UnreadableFileError, match="prices.csv: not an Azure cost details file: no column Date"):
        _parse(other)


# --- loads from the landing folder -------------------------------------------------------------------


def _export_run(landing, export, period, run_id, dataset, files, submitted, root="greenops", row_counts=None):
    """Write a run folder: ``files`` {name: source path or bytes}, and its manifest (last, as Azure does)."""
    folder = landing / "azure_exports" / root / export / period / run_id
    folder.mkdir(parents=True)
    blobs = []
    for name, content in files.items():
        target = folder / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif name.endswith(".gz"):
            with open(content, "rb") as src, gzip.open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        elif name.endswith(".parquet"):
            duckdb.sql(f"COPY (SELECT * FROM read_csv('{content}', header = true, all_varchar = true)) TO '{target}' (FORMAT parquet)")
        else:
            shutil.copy(content, target)
        blob = {"blobName": f"{root}/{export}/{period}/{run_id}/{name}", "byteCount": target.stat().st_size}
        if row_counts and name in row_counts:
            blob["dataRowCount"] = row_counts[name]
        blobs.append(blob)
    manifest = {"manifestVersion": "2024-04-01", "blobCount": len(blobs), "blobs": blobs,
                "exportConfig": {"exportName": export, "type": dataset, "dataVersion": "2023-12-01-preview"},
                "runInfo": {"runId": run_id, "submittedTime": submitted}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _microsoft_focus_rows(external, target):
    with (external / "focus_1.0_sample" / "focus_sample.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [r for r in reader if r[header.index("ProviderName")] == "Microsoft"]
    with target.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return target


def test_exports_from_the_landing_folder(external, landing, settings_env, tmp_path):
    toolkit = external / "azure_finops_toolkit"
    _export_run(landing, "daily-actual", "20230901-20230930", "run-a", "ActualCost",
                {"part_0_0001.csv.gz": toolkit / "EA_ActualCost_Small.csv"}, "2023-09-22T06:00:00Z",
                row_counts={"part_0_0001.csv.gz": 11})
    _export_run(landing, "daily-amortized", "20230901-20230930", "run-b", "AmortizedCost",
                {"part_0_0001.parquet": toolkit / "EA_AmortizedCost_Small.csv"}, "2023-09-22T06:00:00Z")
    _export_run(landing, "empty-sub", "20230901-20230930", "run-c", "ActualCost",
                {"part_0_0001.csv": toolkit / "EA_NoRows.csv"}, "2023-09-22T06:00:00Z")
    _export_run(landing, "focus", "20240901-20240930", "run-f", "FocusCost",
                {"part_0_0001.csv.gz": _microsoft_focus_rows(external, tmp_path / "focus.csv")}, "2024-10-01T05:00:00Z")
    _export_run(landing, "prices", "20230901-20230930", "run-p", "PriceSheet", {"part_0_0001.csv": b"MeterId\n1\n"},
                "2023-09-22T06:00:00Z")

    first = ingest_azure.ingest_azure_cost_exports(load_id="run-1", settings=settings_env)
    assert first == {"source": "azure_exports", "billing_periods": ["2023-09"], "reloaded": ["2023-09"], "unchanged": [],
                     "files": 3, "rows": 39, "quarantined": 0, "row_count_mismatches": []}
    assert _rows(settings_env, """select dataset, export_name, export_path, export_period, run_id, count(*), round(sum(cost_usd), 6)
        from raw.azure_cost_details group by all order by 1""") == [
        ("ActualCost", "daily-actual", "greenops/daily-actual", "20230901-20230930", "run-a", 11, 8.545008),
        ("AmortizedCost", "daily-amortized", "greenops/daily-amortized", "20230901-20230930", "run-b", 28, 16.296932)]
    assert _rows(settings_env, """select billing_period, usage_date::varchar, vm_size, _source_file, _source_line
        from raw.azure_cost_details where dataset = 'AmortizedCost' and _source_line = 1""") == [
        ("2023-09", "2023-09-22", "Standard_DS2_v2", "azure_exports/greenops/daily-amortized/20230901-20230930/run-b/part_0_0001.parquet", 1)]

    focus = ingest_azure.ingest_azure_focus_exports(load_id="run-1", settings=settings_env)
    assert (focus["reloaded"], focus["rows"], focus["quarantined"]) == (["2024-09"], 51, 0)
    assert _rows(settings_env, """select distinct provider_name, billing_currency, billing_period, export_name, run_id
        from raw.azure_focus_charges""") == [("Microsoft", "USD", "2024-09", "focus", "run-f")]

    again = ingest_azure.ingest_azure_cost_exports(load_id="run-2", settings=settings_env)
    assert (again["reloaded"], again["unchanged"]) == ([], ["2023-09"])

    # a newer run of the actual-cost export (CreateNewReport keeps the old one): it replaces it;
    # a run folder still being written (no manifest yet) is ignored
    partial = tmp_path / "partial.csv"
    partial.write_text("".join((toolkit / "EA_ActualCost_Small.csv").read_text(encoding="utf-8").splitlines(True)[:6]), encoding="utf-8")
    _export_run(landing, "daily-actual", "20230901-20230930", "run-a2", "ActualCost", {"part_0_0001.csv": partial},
                "2023-09-23T06:00:00Z", row_counts={"part_0_0001.csv": 6})  # a wrong count: reported, not fatal
    unfinished = landing / "azure_exports" / "greenops" / "daily-actual" / "20230901-20230930" / "run-a3"
    unfinished.mkdir()
    shutil.copy(toolkit / "EA_AmortizedCost_Small.csv", unfinished / "part_0_0001.csv")
    third = ingest_azure.ingest_azure_cost_exports(load_id="run-3", settings=settings_env)
    assert (third["reloaded"], third["rows"]) == (["2023-09"], 5 + 28)
    assert third["row_count_mismatches"] == [
        "azure_exports/greenops/daily-actual/20230901-20230930/run-a2/part_0_0001.csv: manifest says 6 rows, read 5"]
    assert _rows(settings_env, "select run_id, count(*), round(sum(cost_billing_currency), 6) from raw.azure_cost_details "
                 "group by 1 order by 1") == [("run-a2", 5, 5.890051), ("run-b", 28, 16.296932)]
    assert _rows(settings_env, "select distinct _load_id from raw.azure_cost_details") == [("run-3",)]
    loads = _rows(settings_env, "select source, period, data_files, rows_loaded, runs from raw.azure_export_loads order by 1")
    assert [row[:4] for row in loads] == [("azure_cost_details", "2023-09", 3, 33), ("azure_focus_charges", "2024-09", 1, 51)]
    assert sorted(r["run_id"] for r in json.loads(loads[0][4])) == ["run-a2", "run-b", "run-c"]


def test_bad_rows_and_a_broken_delivery(external, landing, settings_env, tmp_path):
    toolkit = external / "azure_finops_toolkit"
    with (toolkit / "EA_ActualCost_Small.csv").open(encoding="utf-8-sig", newline="") as fh:
        header, *lines = list(csv.reader(fh))
    lines[2][header.index("Cost")] = "n/a"
    edited = tmp_path / "edited.csv"
    with edited.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([header, *lines])
    _export_run(landing, "daily-actual", "20230901-20230930", "run-a", "ActualCost", {"part_0_0001.csv": edited},
                "2023-09-22T06:00:00Z")
    summary = ingest_azure.ingest_azure_cost_exports(load_id="run-1", settings=settings_env)
    assert (summary["rows"], summary["quarantined"]) == (10, 1)
    assert _rows(settings_env, "select partition_date::varchar, reason, _source_file, _source_line from raw.quarantine") == [
        ("2023-09-01", "cost_billing_currency is not a number: n/a",
         "azure_exports/greenops/daily-actual/20230901-20230930/run-a/part_0_0001.csv", 4)]
    before = _rows(settings_env, "select * from raw.azure_cost_details order by _source_line")

    # a newer run whose manifest lists a file that is not there: fails naming the manifest, month untouched
    folder = _export_run(landing, "daily-actual", "20230901-20230930", "run-b", "ActualCost",
                         {"part_0_0001.csv": toolkit / "EA_ActualCost_Small.csv", "part_0_0002.csv": toolkit / "EA_ActualCost_Small.csv"},
                         "2023-09-23T06:00:00Z")
    (folder / "part_0_0002.csv").unlink()
    with pytest.raises(UnreadableFileError, match=r"run-b/manifest.json: lists part_0_0002.csv"):
        ingest_azure.ingest_azure_cost_exports(load_id="run-2", settings=settings_env)
    # a corrupt gzip part: fails naming the file, month untouched
    shutil.rmtree(folder)
    _export_run(landing, "daily-actual", "20230901-20230930", "run-c", "ActualCost", {"part_0_0001.csv.gz": b"\x1f\x8bnot gzip"},
                "2023-09-24T06:00:00Z")
    with pytest.raises(UnreadableFileError, match="run-c/part_0_0001.csv.gz"):
        ingest_azure.ingest_azure_cost_exports(load_id="run-3", settings=settings_env)
    assert _rows(settings_env, "select * from raw.azure_cost_details order by _source_line") == before


# --- GPU VM sizes -----------------------------------------------------------------------------------


SEEDS = PROJECT_ROOT / "dbt_project" / "seeds"


def test_gpu_vm_sizes_seed():
    """The dbt seed that turns a VM size into GPUs: what it says, and that every GPU it names has power
    figures in gpu_specs (matched as int_gpu_models matches: SQL LIKE, the longest pattern wins)."""
    con = duckdb.connect()
    sizes = {r[0].lower(): r[1:] for r in con.execute(
        f"select vm_size, gpu_name, gpu_count, series, source_url from read_csv('{SEEDS / 'azure_gpu_vm_sizes.csv'}')").fetchall()}
    assert sizes["standard_nc40ads_h100_v5"][:2] == ("NVIDIA H100 NVL", 1.0)
    assert sizes["standard_nc80adis_h100_v5"][:2] == ("NVIDIA H100 NVL", 2.0)
    assert sizes["standard_nd96isr_h100_v5"][:2] == ("NVIDIA H100 80GB HBM3", 8.0)
    assert sizes["standard_nc96ads_a100_v4"][:2] == ("NVIDIA A100 80GB PCIe", 4.0)
    assert sizes["standard_nd96amsr_a100_v4"][:2] == ("NVIDIA A100-SXM4-80GB", 8.0)
    assert sizes["standard_nc64as_t4_v3"][:2] == ("Tesla T4", 4.0)
    assert sizes["standard_nv6ads_a10_v5"][1] == pytest.approx(1 / 6, abs=1e-6)
    assert "standard_ds2_v2" not in sizes
    assert all(r[3].startswith("https://learn.microsoft.com/azure/virtual-machines/sizes/") for r in sizes.values())
    assert {r[2] for r in sizes.values()} >= {"NCads_H100_v5", "ND_H100_v5", "NC_A100_v4", "ND_A100_v4", "NDm_A100_v4",
                                             "NCasT4_v3", "NVadsA10_v5"}
    matched = dict(con.execute(f"""
        select s.gpu_name, arg_max(g.gpu_model, length(g.name_pattern))
        from (select distinct gpu_name from read_csv('{SEEDS / 'azure_gpu_vm_sizes.csv'}')) s
        left join read_csv('{SEEDS / 'gpu_specs.csv'}') g on s.gpu_name like g.name_pattern
        group by s.gpu_name""").fetchall())
    assert None not in matched.values(), matched
    assert matched["NVIDIA A10"] == "A10" and matched["Tesla M60"] == "M60" and matched["NVIDIA H100 NVL"] == "H100 NVL"
    assert matched["NVIDIA A100 80GB PCIe"] == "A100 80GB"
