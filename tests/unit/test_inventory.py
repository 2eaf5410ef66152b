"""The fleet inventory: the demo's loads; mistakes fail naming the file and the entry."""

from __future__ import annotations

import pytest

from greenops.settings import PROJECT_ROOT
from greenops.sources import inventory


def test_demo_inventory():
    inv = inventory.load(PROJECT_ROOT / "include" / "demo_fleet.yaml")
    assert inv.host_timezones() == {
        "fra1-gpu01": "Europe/Berlin", "fra1-gpu02": "Europe/Berlin",
        "sea1-gpu01": "America/Los_Angeles", "sea1-gpu02": "America/Los_Angeles",
    }
    assert inv.deployment_names() == ["assist-24b-azure", "assist-8b-fra", "chat-70b-fra", "chat-8b-gcp", "code-14b-sea",
                                      "rag-8b-aws", "summarize-24b-sea"]
    assert inv.deployments.num_rows == 17  # 4 + 2 + 4 + 4 GPUs on-prem, one resource each in AWS, Azure and GCP
    providers = dict(zip(inv.deployments.column("deployment").to_pylist(), inv.deployments.column("provider").to_pylist()))
    assert providers["rag-8b-aws"] == "aws" and providers["chat-8b-gcp"] == "gcp" and providers["chat-70b-fra"] == "onprem"
    assert providers["assist-24b-azure"] == "azure"
    # the cloud deployments' resource ids survive the on-prem rows listed before them
    refs = {r["deployment"]: r["resource_ref"] for r in inv.deployments.to_pylist() if r["provider"] != "onprem"}
    assert refs["rag-8b-aws"] == "i-0a1b2c3d4e5f60718" and refs["chat-8b-gcp"] == "greenops-demo-a2-vm"
    assert refs["assist-24b-azure"].endswith("/virtualmachines/greenops-demo-nc40")
    budgets = {(r["project"], r["period_type"], r["budget_period"]): r["carbon_budget_kgco2e"] for r in inv.projects.to_pylist()}
    assert budgets[("code-assist", "week", "*")] == 12 and budgets[("code-assist", "week", "2026-W52")] == 6
    assert budgets[("search", "month", "*")] == 400


@pytest.mark.parametrize(
    "text, message",
    [
        ("sites: [{site: a, pue: 1.2, grid_zone: DE, timezone: Mars/Base}]", "sites[0]: unknown timezone 'Mars/Base'"),
        ("sites: [{site: a, pue: 0.8, grid_zone: DE}]", "PUE 0.8 outside 1.0-3.0"),
        ("sites: [{site: a, pue: 1.2, grid_zone: DE}]\nhosts: [{host: h, site: b}]", "hosts[0]: unknown site 'b'"),
        ("sites: [{site: a, pue: 1.2, grid_zone: DE}]\nhosts: [{host: h, site: a}]\n"
         "deployments: [{deployment: d, model: m, project: p, host: h}]", "deployments[0] lists no gpus"),
        ("sites: [", "not valid YAML"),
    ],
)
def test_mistakes_name_file_and_entry(tmp_path, text, message):
    path = tmp_path / "fleet.yaml"
    path.write_text(text)
    with pytest.raises(inventory.InventoryError) as err:
        inventory.load(path)
    assert str(path) in str(err.value) and message in str(err.value)
