"""The Azure DAG parses, follows the house rules (tags, retries, docs, the warehouse pool) and updates
one Asset per raw table it writes."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_azure_dag_parses_and_updates_its_assets():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "greenops_azure.py"))
    assert bag.import_errors == {}
    dag = bag.dags["greenops_azure"]
    assert "greenops" in dag.tags and "azure" in dag.tags and len(dag.doc_md) > 100
    assert dag.default_args["retries"] >= 1
    assert {t.task_id for t in dag.tasks} == {"consumption_usage_details", "cost_exports", "focus_exports"}
    for task in dag.tasks:
        assert task.retries >= 1 and task.pool == "greenops_warehouse"
    assert {o.uri for t in dag.tasks for o in t.outlets} == {
        "greenops://raw/azure_usage_details", "greenops://raw/azure_cost_details", "greenops://raw/azure_focus_charges"}
