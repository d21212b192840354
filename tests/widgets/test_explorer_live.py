"""The live Explorer, headless: a watch ticks, the Explorer follows; what it sends is bounded.

The small tests follow a real :func:`obskit.watch` of the replayed API server
(:mod:`tests.live.kube_replay`); the large ones a cluster of 3,000 pods whose snapshots are made
by the watch's own code (:mod:`tests.widgets.synthetic_live`), with the widgets' comm messages
recorded to measure what one tick sends to the browser.
"""

from __future__ import annotations

import json
import threading
import time
from typing import ClassVar

import comm
import pandas as pd
import pytest
from comm.base_comm import BaseComm

import obskit
from obskit.views.hierarchies import _CREATED_LINE, _GONE_LINE
from obskit.widgets import Explorer
from obskit.widgets import explorer as explorer_module
from obskit.widgets._delta import json_bytes
from tests.live.kube_replay import new_pod, replayed_cluster
from tests.live.kube_replay import until as _until
from tests.widgets.synthetic_live import SyntheticWatch

CHECKOUT = {"namespace": "shop", "workload": "checkout"}
NEW = "checkout-7d9f8b6c4-live1"
#: What one tick may send to the browser for a cluster of 3,000 pods (what it costs the
#: kernel is measured in benchmarks/watch.py, not here).
TICK_BYTES = 200_000


def _box(explorer: Explorer, pod: str) -> dict | None:
    """The map's box of ``pod``: its line colour and its text; None when it is not drawn."""
    trace = explorer.map.data[0]
    for i, node in enumerate(trace.ids):
        if node.endswith("/" + pod):
            return {"line": trace.marker.line.color[i], "text": trace.text[i], "id": node}
    return None


@pytest.fixture
def live(tmp_path):
    """A watch of the replayed cluster, listed, and an Explorer on its checkout Deployment."""
    with replayed_cluster(tmp_path) as (api, kube):
        w = obskit.watch(kubernetes=kube, every="0.2s", cluster="recorded")
        try:
            assert w.listed(timeout=30) and w.wait(ticks=1, timeout=30)
            explorer = Explorer(w, focus=CHECKOUT, anomalies=False, tables=("events",))
            try:
                yield api, w, explorer
            finally:
                explorer.close()
        finally:
            w.stop()


def test_a_new_pod_appears_with_the_created_border_and_a_deleted_one_stays_marked(live):
    api, _, explorer = live
    assert "as of" in explorer.live.value and "running" in explorer.live.value
    node = explorer.node
    api.put(new_pod(NEW, "uid-live1"))
    _until(lambda: _box(explorer, NEW) is not None)
    box = _box(explorer, NEW)
    assert box["line"] == _CREATED_LINE and "created" in box["text"]
    assert explorer.node == node  # the selection is kept across refreshes
    # the new pod is in the dropdown of the Deployment's pods, and in the model
    pods = [label for label, _ in explorer.levels[2].options]
    assert any(label.startswith(NEW) for label in pods)
    # selected, then deleted: it stays selected, its box kept and marked
    explorer.select(box["id"])
    api.delete("Pod", "uid-live1")
    _until(lambda: (_box(explorer, NEW) or {}).get("line") == _GONE_LINE)
    assert "deleted" in _box(explorer, NEW)["text"]
    assert explorer.node == box["id"]
    assert f"pod={NEW}" in explorer.figure.layout.title.text
    assert explorer.refreshes >= 2 and explorer.model.tick >= 2


def test_pause_stops_following_and_resume_catches_up(live):
    api, w, explorer = live
    explorer.pause.value = True
    _until(lambda: "paused" in explorer.live.value)
    shown = explorer.refreshes
    api.put(new_pod(NEW, "uid-live1"))
    assert w.wait(ticks=3, timeout=10)
    time.sleep(0.3)
    assert explorer.refreshes == shown and _box(explorer, NEW) is None
    assert "not shown" in explorer.live.value  # it says how far behind it is
    explorer.pause.value = False
    _until(lambda: _box(explorer, NEW) is not None)
    assert "running" in explorer.live.value and "not shown" not in explorer.live.value


def test_a_stopped_watch_says_so(live, monkeypatch):
    monkeypatch.setattr(explorer_module, "_LIVE_CHECK", 0.1)
    _, w, explorer = live
    w.wait(ticks=1, timeout=10)  # the loop now waits 0.1 s at a time
    w.stop()
    _until(lambda: "stopped" in explorer.live.value, timeout=10)


def test_closing_stops_the_refreshes(live):
    _, w, explorer = live
    explorer.close()
    shown = explorer.refreshes
    assert w.wait(ticks=2, timeout=10)
    time.sleep(0.3)
    assert explorer.refreshes == shown


def test_a_refresh_overtaken_by_closing_shows_nothing(live, monkeypatch):
    # close() comes while a refresh computes its snapshot (outside the lock): the refresh
    # must not then draw on the closed widgets
    _, _, explorer = live
    counted: list[int] = []
    tree = explorer_module.ExplorerModel.tree

    def tree_then_close(model, view):
        out = tree(model, view)
        if not counted:
            explorer.close()
            with explorer._lock:  # a refresh already drawing finishes before this is read
                counted.append(explorer.refreshes)
        return out

    monkeypatch.setattr(explorer_module.ExplorerModel, "tree", tree_then_close)
    explorer.update()
    assert counted and explorer.refreshes == counted[0]


def test_a_failing_stream_shows_as_a_banner_with_its_error_escaped():
    w = SyntheticWatch(30)
    explorer = Explorer(w, anomalies=False, tables=())
    try:
        assert explorer.banner.layout.display == "none"
        w.failing["pods"] = 'the connection was cut (<img src=x onerror=alert(1)> "x")'
        w.tick()
        _until(lambda: explorer.banner.layout.display != "none")
        banner = explorer.banner.value
        assert "kubernetes pods" in banner and "retrying" in banner
        assert "&lt;img src=x onerror=alert(1)&gt; &quot;x&quot;" in banner
        assert "<img" not in banner
        del w.failing["pods"]
        w.tick()
        _until(lambda: explorer.banner.layout.display == "none")
    finally:
        explorer.close()


def test_a_forbidden_kind_of_the_real_watch_is_in_the_banner(tmp_path):
    with replayed_cluster(tmp_path) as (api, kube):
        api.faults["/apis/discovery.k8s.io/v1/endpointslices"] = ["403"]
        with obskit.watch(kubernetes=kube, every="0.2s") as w:
            _until(lambda: (w.status()["state"] == "forbidden").any() and w.ticks > 0)
            explorer = Explorer(w, anomalies=False, tables=())
            try:
                banner = explorer.banner.value
            finally:
                explorer.close()
    assert "endpointslices" in banner and "forbidden" in banner and "HTTP 403" in banner
    assert "User &quot;analyst&quot;" in banner  # the API server's words, escaped


def test_a_deleted_pod_keeps_its_box_for_keep_then_its_selection_goes_up():
    w = SyntheticWatch(30, keep="1min")
    explorer = Explorer(w, anomalies=False, tables=())
    explorer.pause.value = True  # this test calls update() itself
    try:
        pod = w.pods[0]["metadata"]["name"]
        node = explorer.model.find("workload", {"namespace": "ns-00", "pod": pod})
        explorer.select(node)
        w.tick(deleted=1)
        explorer.update()
        assert explorer.node == node and _box(explorer, pod)["line"] == _GONE_LINE
        for _ in range(3):  # 45 s: still kept
            w.tick()
        explorer.update()
        assert explorer.node == node
        w.tick()  # 60 s: kept for keep
        w.tick()  # 75 s: older than keep, the box goes; the selection goes up to its workload
        explorer.update()
        assert explorer.node == node.rpartition("/")[0]
        assert _box(explorer, pod) is None
    finally:
        explorer.close()


def test_a_focus_the_watch_has_not_listed_yet_is_selected_when_it_appears(tmp_path):
    with replayed_cluster(tmp_path) as (_, kube), obskit.watch(kubernetes=kube, every="0.2s") as w:
        explorer = Explorer(w, focus=CHECKOUT, anomalies=False, tables=())  # at once
        try:
            _until(lambda: "workload=checkout" in explorer.figure.layout.title.text)
            assert explorer.focus["workload"] == "checkout"
        finally:
            explorer.close()
    # a snapshot's Explorer still says at once that its focus is not there
    with pytest.raises(obskit.InvestigationError, match="no node of the 'workload' hierarchy"):
        Explorer(obskit.Investigation(cluster="prod"), focus={"namespace": "nowhere"})


def test_a_refresh_that_fails_shows_in_the_banner_and_the_next_tick_recovers():
    w = SyntheticWatch(30)
    explorer = Explorer(w, anomalies=False, tables=())
    real = w.investigation
    try:
        w.investigation = lambda: (_ for _ in ()).throw(ValueError("snapshot <b>broke</b>"))
        w.tick()
        _until(lambda: explorer.banner.layout.display != "none")
        banner = explorer.banner.value
        assert "could not show the last snapshot" in banner
        assert "&lt;b&gt;broke&lt;/b&gt;" in banner and "<b>broke" not in banner
        w.investigation = real
        w.tick()
        _until(lambda: explorer.banner.layout.display == "none")
    finally:
        explorer.close()


# --- 3,000 pods: what a tick costs ----------------------------------------------------------


class _Recorded(BaseComm):
    """A comm that keeps the size of what each message would send to the browser."""

    sizes: ClassVar[list[int]] = []

    def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys) -> None:
        size = len(json.dumps(data, default=str)) + sum(len(b) for b in buffers or ())
        _Recorded.sizes.append(size)


@pytest.fixture
def recorded(monkeypatch):
    """Widgets made from now on record their messages in ``_Recorded.sizes``."""
    _Recorded.sizes = []
    monkeypatch.setattr(comm, "create_comm", lambda *args, **kwargs: _Recorded(*args, **kwargs))
    return _Recorded


def _tick(w: SyntheticWatch, explorer: Explorer, recorded, **change) -> tuple[int, float]:
    """One tick of ``w`` shown by ``explorer`` (in this thread): bytes sent, CPU seconds."""
    w.tick(**change)
    recorded.sizes.clear()
    cpu = time.thread_time()
    explorer.update()
    return sum(recorded.sizes), time.thread_time() - cpu


@pytest.mark.parametrize("zoom", ["cluster", "namespace"])
def test_a_tick_of_a_3000_pod_cluster_sends_what_changed_only(recorded, zoom):
    w = SyntheticWatch(3000)
    explorer = Explorer(w, focus={"namespace": "ns-00"} if zoom == "namespace" else None)
    # this test calls update() itself, in this thread: the Explorer's own refresh thread is
    # stopped, so that nothing else (the "as of" line after a tick) sends while it counts
    explorer._stop_following()
    explorer._closed = True
    explorer._wake.set()
    try:
        whole = json_bytes(explorer.map.to_plotly_json()) + json_bytes(explorer.figure.to_dict())
        results = [_tick(w, explorer, recorded, added=5, deleted=5, errors=20) for _ in range(3)]
        sizes, cpus = zip(*results, strict=True)
        print(
            f"\n3,000 pods, map at the {zoom}: the figures whole {whole:,} B; per tick "
            f"{', '.join(f'{s:,}' for s in sizes)} B sent "
            f"(map {explorer.sent['map']:,} B, timeline {explorer.sent['timeline']:,} B), "
            f"{', '.join(f'{c:.2f}' for c in cpus)} s CPU (for the eye; timed in benchmarks)"
        )
        assert max(sizes) < TICK_BYTES, sizes
        assert max(sizes) < whole / 2
        # the new pods are in the model, the deleted ones kept and marked
        tree = explorer.model.tree("workload")
        pods = tree[tree["kind"] == "Pod"]
        assert (pods["change"] == "created").sum() == 15
        assert (pods["change"] == "deleted").sum() == 15
        # the same snapshot again sends nothing
        recorded.sizes.clear()
        explorer.update()
        assert explorer.sent == {"map": 0, "timeline": 0}
        assert sum(recorded.sizes) == 0, recorded.sizes
    finally:
        explorer.close()


def test_the_kernel_thread_stays_free_while_a_3000_pod_snapshot_is_shown():
    """The watch's tick only wakes the Explorer's thread; the snapshot and the model are made
    there, so the thread that runs the notebook's cells (this one) is never held for long."""
    w = SyntheticWatch(3000)
    explorer = Explorer(w)
    try:
        shown = explorer.refreshes
        ticker = threading.Thread(target=w.tick, kwargs={"added": 5, "errors": 20})
        began = time.monotonic()
        ticker.start()
        ticker.join(timeout=5)
        assert time.monotonic() - began < 0.5  # the watch's callback returned at once
        late, last = 0.0, time.monotonic()
        while explorer.refreshes == shown and time.monotonic() - began < 30:
            time.sleep(0.01)
            now = time.monotonic()
            late, last = max(late, now - last - 0.01), now
        assert explorer.refreshes == shown + 1
        took = last - began
        print(f"\nrefresh of 3,000 pods took {took:.2f} s; this thread was late {late:.3f} s")
        assert late < took / 2  # held now and then (the GIL, a garbage collection), not for it
    finally:
        explorer.close()


def test_the_whole_clusters_suspects_are_carried_for_a_minute_then_made_again():
    from obskit.widgets.explorer import ANALYSIS_EVERY, ExplorerModel

    w = SyntheticWatch(30, every="15s")
    first = ExplorerModel.from_watch(w)
    made = first.suspects()
    assert first.analysed_at == first.as_of
    w.tick(added=1, errors=5)  # 15 s later: the suspects of the last snapshot are kept
    second = ExplorerModel.from_watch(w, previous=first)
    assert second.as_of > first.as_of and second.analysed_at == first.analysed_at
    assert second.suspects() is made
    for _ in range(int(ANALYSIS_EVERY / pd.Timedelta("15s"))):
        w.tick()
    third = ExplorerModel.from_watch(w, previous=second)  # a minute on: made again
    assert third.analysed_at == third.as_of
    assert third.suspects() is not made
