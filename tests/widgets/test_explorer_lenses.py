"""Lenses in the Explorer: each team sees its tables first and its headline; nothing is hidden."""

from __future__ import annotations

import re

import pytest

import obskit
from obskit.views.lenses import LENSES, TABLES
from obskit.widgets import Explorer, ExplorerModel, Selection

TEAMS = ("security", "dev", "ops")


@pytest.fixture(scope="module")
def miner() -> obskit.Investigation:
    return obskit.datasets.load("cryptominer")


@pytest.fixture(scope="module")
def explorers(miner) -> dict[str, Explorer]:
    model = ExplorerModel(miner, lens="security")  # one model: the analysis runs once
    return {name: Explorer(model, lens=name) for name in (*TEAMS, "all")}


def test_each_lens_renders_its_tables_first(explorers):
    firsts = {name: explorers[name].tabs.titles[0] for name in TEAMS}
    assert firsts == {"security": "detections", "dev": "suspects", "ops": "events"}
    assert explorers["dev"].tabs.titles[1:3] == ("latency", "log patterns")
    assert explorers["ops"].tabs.titles[1] == "coverage gaps"
    # the emphasis differs: the orders, the map's view and colour
    orders = {explorers[name].tabs.titles for name in TEAMS}
    assert len(orders) == 3
    assert {explorers[name].color_by.value for name in TEAMS} == {
        "worst_finding",
        "error_logs",
        "warning_events",
    }
    assert explorers["ops"].view.value == "node"


def test_each_lens_has_its_headline(explorers, miner):
    detections = len(miner.detections())
    assert f"Security: {detections} detections" in explorers["security"].headline.value
    assert explorers["dev"].headline.value.count("error log lines") == 1
    assert "4 nodes" in explorers["ops"].headline.value
    assert explorers["all"].headline.layout.display == "none"


def test_without_a_lens_the_explorer_is_as_it_was(miner):
    explorer = Explorer(ExplorerModel(miner))
    assert explorer.tabs.titles == ("suspects", "events", "log lines")
    assert explorer.color_by.value == "health"
    assert set(explorer.show) == set(TABLES)  # every other table a checkbox away
    explorer.show["posture"].value = True
    assert len(explorer.outputs.posture) == len(miner.posture())


@pytest.mark.parametrize("name", TEAMS)
def test_a_lens_hides_no_table_and_no_row(explorers, miner, name):
    explorer = explorers[name]
    assert sorted(explorer.lens.tables) == sorted(TABLES)
    assert sorted(explorer.tabs.titles) == sorted(
        explorers["all"].show[t].description for t in TABLES
    )
    out = explorer.outputs  # the whole cluster, the whole span
    assert len(out.posture) == len(miner.posture())
    assert len(out.detections) == len(miner.detections())
    assert len(out.rollouts) == int((miner.inventory["kind"] == "ReplicaSet").sum())
    assert out.patterns["count"].sum() == len(miner.logs)
    assert len(out.events) == min(len(miner.events), explorer.model.limit)
    # every lens's report names every section, in some order
    assert sorted(LENSES[name].sections) == sorted(LENSES["all"].sections)


def test_analysis_tables_follow_the_selected_node(explorers, miner):
    explorer = explorers["security"]
    focus = {"namespace": "web", "pod": "storefront-b6rzdb2j9g-mq658"}
    explorer.select(focus)
    detections = explorer.outputs.detections
    assert len(detections) and set(detections["pod"]) == {focus["pod"]}
    expected = miner.detections()
    assert len(detections) == int((expected["pod"] == focus["pod"]).sum())
    assert set(explorer.outputs.posture["pod"].dropna()) <= {focus["pod"]}
    html = explorer._tables["detections"].value
    assert "falco.miner-pool-connection" in html and "NaN" not in html
    explorer.select(explorer.model.root("workload"))


def test_colour_by_posture_on_the_map(explorers):
    explorer = explorers["dev"]
    explorer.color_by.value = "worst_finding"
    assert explorer.map.data[0].marker.colorbar.title.text == "worst posture finding"
    explorer.color_by.value = "error_logs"
    assert explorer.map.data[0].marker.colorbar.title.text == "error log lines"


def test_a_selection_computes_any_table(miner):
    model = ExplorerModel(miner)
    out = model.outputs(Selection(tables=TABLES))
    assert all(getattr(out, name) is not None for name in TABLES)


def test_wrong_lens_or_colour_says_what_to_do(miner):
    with pytest.raises(obskit.InvestigationError, match="lens must be one of 'all', 'security'"):
        Explorer(miner, lens="finance")
    with pytest.raises(obskit.InvestigationError, match="color_by must be one of 'health'"):
        Explorer(ExplorerModel(miner), color_by="loudness")


def test_a_live_lens_keeps_its_analysis_for_a_minute_like_the_suspects():
    from tests.widgets.synthetic_live import SyntheticWatch

    w = SyntheticWatch(60)
    first = ExplorerModel.from_watch(w, lens="security")
    findings = first.posture()
    assert first.tree("workload").attrs["posture"]  # the map counts the findings
    w.tick(added=1, deleted=1)
    second = ExplorerModel.from_watch(w, previous=first, lens="security")
    assert second.posture() is findings and second.lens.name == "security"


def test_a_long_analysis_table_shows_a_bounded_page_and_keeps_every_row(miner):
    explorer = Explorer(ExplorerModel(miner, limit=20), lens="security")
    assert len(explorer.outputs.posture) == len(miner.posture()) > 20
    page = explorer._tables["posture"].value
    assert page.count("<tr>") == 21  # the header and the first 20
    assert "(the first 20; the Explorer" in page
    assert re.findall(r"<td[^>]*>(critical|high|medium|low)</td>", page)[0] == "critical"
