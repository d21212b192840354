"""Fixtures for the widgets: the bundled checkout incident and its Explorer model, loaded once."""

from __future__ import annotations

import pytest

import obskit
from obskit.widgets import ExplorerModel
from tests.views.conftest import hostile  # noqa: F401  (the hostile cluster, shared)


@pytest.fixture(scope="session")
def checkout() -> obskit.Investigation:
    return obskit.datasets.load("checkout-oom")


@pytest.fixture(scope="session")
def model(checkout) -> ExplorerModel:
    """One model for the session: its trees, anomalies and suspects are computed once."""
    return ExplorerModel(checkout)


@pytest.fixture(scope="session")
def ids(model) -> dict[str, str]:
    """Tree ids of the nodes the tests pick (found by name, not hard-coded)."""
    tree = model.tree("workload")
    pods = tree[(tree["kind"] == "Pod") & (tree["workload"] == "checkout")]
    return {
        "shop": model.find("workload", {"namespace": "shop"}),
        "checkout": model.find("workload", {"namespace": "shop", "workload": "checkout"}),
        "pod": str(pods["id"].iloc[0]),
        "pod_name": str(pods["pod"].iloc[0]),
    }
