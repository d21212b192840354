"""The benchmark harness runs end to end on a tiny scale and reports every case."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import benchmark_script

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"
CASES = (
    "prometheus",
    "load-prometheus",
    "cri-logs",
    "load-cri",
    "load-cri-ordered",
    "many-files",
    "k8s-events",
    "enrich",
    "suspects",
    "timeline",
    "beyond-memory",
)


def _script(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """A benchmark script run with ``args`` from the repository's top, as a user runs it; it
    must succeed (its stderr's end shown when not)."""
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.skipif(not RUN.is_file(), reason="benchmarks/ is not in this checkout")
def test_harness_prints_a_row_per_case(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = _script(
        str(RUN),
        "--scale",
        "0.0005",
        "--repeats",
        "1",
        "--warmup",
        "0",
        "--out",
        str(out),
        "--data",
        str(tmp_path / "data"),
    )
    header = "| case | input | obskit s | peer s | limit s |"
    assert header in done.stdout
    rows = {
        line.split("|")[1].strip(): line
        for line in done.stdout.splitlines()
        if line.startswith("| ") and not line.startswith(header)
    }
    assert set(CASES) <= set(rows), sorted(rows)
    for case in ("prometheus", "cri-logs", "k8s-events", "enrich"):
        obskit_seconds = rows[case].split("|")[3].strip()
        assert float(obskit_seconds) > 0, rows[case]
    # the exactness check ran: obskit's timestamps are exact
    assert "obskit inexact_timestamps=0" in rows["prometheus"]
    text = out.read_text()
    assert "python " in text and "pandas" in text
    assert all(f"| {case} |" in text for case in CASES)


@pytest.mark.skipif(not RUN.is_file(), reason="benchmarks/ is not in this checkout")
def test_the_ordered_cri_file_holds_the_same_lines_in_time_order(tmp_path: Path) -> None:
    import obskit

    run = benchmark_script("run")
    lines = [
        b"2024-06-03T13:20:06.21071138Z stdout F first",
        b"2024-06-03T13:19:00Z stderr P second, ",
        b"2024-06-03T13:19:00.5Z stderr F continued",
        b"not a cri line",
    ]
    path = tmp_path / "pods" / "shop_web-1_u1" / "web" / "0.log"
    run._write_cri_ordered(path, lines, 10)
    written = path.read_bytes().split(b"\n")[:-1]
    assert [w.split(b" ", 1)[1] for w in written if w != b"not a cri line"] == [
        ln.split(b" ", 1)[1] for ln in (lines * 3)[:10] if ln != b"not a cri line"
    ]
    assert written[0].startswith(b"2024-06-03T13:20:00.00071138Z ")  # Go's RFC3339Nano
    inv = obskit.load(path)
    times = inv.logs["timestamp"]
    assert times.is_monotonic_increasing and len(inv.rejects) == 2  # the two non-CRI lines
    assert inv.logs["message"].tolist()[:2] == ["first", "second, continued"]


WATCH = ROOT / "benchmarks" / "watch.py"


@pytest.mark.skipif(not WATCH.is_file(), reason="benchmarks/ is not in this checkout")
def test_watch_benchmark_reports_both_ways(tmp_path: Path) -> None:
    out = tmp_path / "WATCH_RESULTS.md"
    _script(
        str(WATCH),
        "--pods",
        "100",
        "--ticks",
        "4",
        "--keep-ticks",
        "2",
        "--rate",
        "2",
        "--out",
        str(out),
        timeout=180,
    )
    rows = [line for line in out.read_text().splitlines() if line.startswith("| obskit.watch")]
    rows += [line for line in out.read_text().splitlines() if line.startswith("| re-collect")]
    assert len(rows) == 2
    changes = int(rows[0].rstrip(" |").rsplit("|", 1)[-1].replace(",", ""))
    assert changes > 0  # the watch logged the pods the server changed


def _nezha_adapter():
    return benchmark_script("rca_nezha")


@pytest.mark.skipif(
    not (ROOT / "benchmarks" / "rca_nezha.py").is_file(), reason="benchmarks/ is not here"
)
def test_nezha_adapter_rejects_a_sample_far_from_the_rest_of_its_file_with_a_note() -> None:
    import pandas as pd

    nezha = _nezha_adapter()
    # an hour of samples a minute apart, and one six years ahead (a clock error)
    stamps = [1661256000 + 60 * i for i in range(60)] + [1661256000 + 6 * 365 * 86400]
    frame = pd.DataFrame({"TimeStamp": stamps, "PodName": "cart-1", "CpuUsage(m)": 1.0})
    kept, notes = nezha._far_out(frame, "cart-1_metric.csv.xz")
    assert len(kept) + len(notes) == len(frame) and len(notes) == 1
    assert notes[0].startswith("cart-1_metric.csv.xz: row 62 rejected, TimeStamp 2028-")
    assert kept["TimeStamp"].max() == stamps[59]


@pytest.mark.skipif(
    not (ROOT / "benchmarks" / "rca_nezha.py").is_file(), reason="benchmarks/ is not here"
)
def test_leave_one_system_out_shows_the_default_verdict_beside_the_chosen_margin() -> None:
    import pandas as pd

    nezha = _nezha_adapter()
    # system A: right at every margin, so it cannot choose a threshold (the rule picks 0);
    # system B: wrong on its two low-margin rankings, which the default verdict left ambiguous
    result = pd.DataFrame(
        {
            "system": ["A"] * 4 + ["B"] * 4,
            "day": ["2022-08-23"] * 4 + ["2023-01-30"] * 4,
            "obskit": [1, 1, 1, 1, 2, 5, 1, 1],
            "margin": [0.1, 0.2, 0.5, 0.9, 0.05, 0.1, 0.6, 0.8],
            "verdict": ["ambiguous", "ambiguous", "clear", "clear"] * 2,
        }
    )
    loso = nezha._leave_one_system_out(result).set_index(["measured on", "clear by"])
    default = loso.loc[("B", "default verdict")]
    chosen = loso.loc[("B", "margin chosen on A")]
    assert (default["clear share"], default["clear@1"]) == (0.5, 1.0)
    assert (chosen["threshold"], chosen["clear share"], chosen["clear@1"]) == ("0.0", 1.0, 0.5)
    # B is wrong below 0.2, so A is measured with the first threshold above B's errors
    assert loso.loc[("A", "margin chosen on B"), "threshold"] == "0.125"


def _house():
    return benchmark_script("house")


@pytest.mark.skipif(
    not (ROOT / "benchmarks" / "house.py").is_file(), reason="benchmarks/ is not here"
)
def test_house_counts_a_function_from_def_to_its_last_line_nested_and_methods_too() -> None:
    source = (
        "def a():\n"
        '    """Doc."""\n'
        "    return 1\n"
        "\n"
        "\n"
        "class K:\n"
        "    @property\n"
        "    def b(self):\n"
        "        def inner():\n"
        "            pass\n"
        "\n"
        "        return inner\n"
    )
    found = {f.qualname: f.lines for f in _house().functions(source, "m.py")}
    assert found == {"a": 3, "K.b": 5, "K.b.<locals>.inner": 2}


@pytest.mark.skipif(
    not (ROOT / "benchmarks" / "house.py").is_file(), reason="benchmarks/ is not here"
)
def test_house_prints_the_longest_functions_and_largest_modules() -> None:
    done = _script(str(ROOT / "benchmarks" / "house.py"), "--top", "4")
    sections = done.stdout.split("\n\n")
    assert [s.splitlines()[0].split(" (")[0] for s in sections] == [
        "## The 4 longest functions",
        "## duplicates",
        "## The 4 largest modules",
    ]
    longest = [int(line.split()[0]) for line in sections[0].splitlines()[1:5]]
    assert longest == sorted(longest, reverse=True) and longest[0] > 20
    assert sum("::" in line for line in sections[0].splitlines()) == 4
    assert sum(line.strip().endswith(".py") for line in sections[2].splitlines()) == 4


WINDOW = ROOT / "benchmarks" / "window.py"


@pytest.mark.skipif(not WINDOW.is_file(), reason="benchmarks/ is not in this checkout")
def test_window_benchmark_keeps_exactly_a_full_loads_rows_at_a_tiny_size(tmp_path: Path) -> None:
    # the 20 GB run is by hand; this keeps its generator, its capped load and its check working
    args = ("--size", "5MB", "--audit", "1MB", "--check", "--data", str(tmp_path))
    done = _script(str(WINDOW), *args, timeout=300)
    assert "exactly the rows of a full load, windowed: True" in done.stdout
    # "  logs: 948 rows windowed, 948 from the full load" and the same for the audit events
    kept = [
        line.split(":")[1].split()[0] for line in done.stdout.splitlines() if "windowed," in line
    ]
    assert len(kept) == 2 and all(int(n) > 0 for n in kept), done.stdout
    assert "'skipped': 0," not in done.stdout  # other namespaces' files are left unread


@pytest.mark.skipif(not RUN.is_file(), reason="benchmarks/ is not in this checkout")
def test_harness_reports_cpu_seconds_faults_and_cpu_ratios_of_interleaved_runs(
    tmp_path: Path,
) -> None:
    out = tmp_path / "RESULTS.md"
    args = ("--scale", "0.0005", "--only", "load-cri", "--repeats", "2", "--warmup", "0")
    done = _script(str(RUN), *args, "--out", str(out), "--data", str(tmp_path / "data"))
    # every run's log line: wall seconds, CPU seconds, major/minor faults
    runs = [line.split() for line in done.stdout.splitlines() if " round " in line]
    assert len(runs) == 6, done.stdout
    order = [(words[1], int(words[3].rstrip(":"))) for words in runs]
    # interleaved, and the order reversed each round: obskit peer limit, limit peer obskit
    assert order == [
        ("obskit", 0),
        ("peer", 0),
        ("limit", 0),
        ("limit", 1),
        ("peer", 1),
        ("obskit", 1),
    ]
    for words in runs:
        cpu = float(words[words.index("CPU") + 1])
        major, minor = words[words.index("faults") + 1].rstrip(",").split("/")
        assert int(major) >= 0 and int(minor.rstrip("k")) >= 0, words
        # the limit (a split of 1,000 lines) can take less than the clock's tick
        assert cpu > 0 if words[1] != "limit" else cpu >= 0, words
    for text in (done.stdout, out.read_text()):
        lines = [line for line in text.splitlines() if line.startswith("| ")]
        head = [c.strip() for c in lines[0].strip("|").split("|")]
        row = dict(zip(head, [c.strip() for c in lines[-1].strip("|").split("|")], strict=True))
        assert row["case"] == "load-cri"
        assert float(row["obskit CPU s"]) > 0 and float(row["peer CPU s"]) > 0, row
        assert float(row["limit CPU s"]) >= 0, row
        assert row["peer/obskit CPU"].endswith("x"), row
        assert float(row["peer/obskit CPU"][:-1]) > 0, row
        major, minor = row["obskit faults maj/min"].split("/")
        assert int(major) >= 0 and int(minor.rstrip("k")) > 0, row
        assert "peer faults " in row["notes"] and "limit faults " in row["notes"], row
    assert "can show more CPU than wall seconds" in out.read_text()


SCENARIOS = ROOT / "benchmarks" / "rca_scenarios.py"


def _scenarios():
    return benchmark_script("rca_scenarios")


@pytest.mark.skipif(not SCENARIOS.is_file(), reason="benchmarks/ is not here")
def test_scenarios_benchmark_scores_a_generated_incident_and_writes_its_table(
    tmp_path: Path,
) -> None:
    out = tmp_path / "scenarios.md"
    done = _script(
        str(SCENARIOS),
        "--seeds",
        "1",
        "--scales",
        "0.25",
        "--only",
        "node-pressure",
        "--out",
        str(out),
        timeout=180,
    )
    lines = [line for line in out.read_text().splitlines() if line.startswith("| ")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [
        dict(zip(head, [c.strip() for c in line.strip("|").split("|")], strict=True))
        for line in lines[1:]
    ]
    assert [r["incident"] for r in rows] == ["node-pressure", "all"]
    for row in rows:
        assert row["n"] == "1"
        assert 0 <= float(row["top1"]) <= float(row["top3"]) <= 1, row
        assert 0 <= float(row["clear share"]) <= 1 and int(row["wrong clear"]) >= 0, row
        assert 0 < float(row["median s"]) <= float(row["max s"]), row
        assert 0 <= float(row["at off median min"]) <= float(row["at off max min"]), row
    assert "rank" in done.stderr and "node-pressure seed 1 scale 0.25" in done.stderr


def test_scenarios_truth_rank_counts_only_the_truths_level() -> None:
    import pandas as pd

    scenarios = _scenarios()
    truth = {
        "level": "workload",
        "root_cause": {"namespace": "shop", "workload": "checkout", "pod": None, "node": None},
    }
    found = pd.DataFrame(
        {
            "entity_kind": ["pod", "workload", "workload"],
            "namespace": ["shop", "shop", "shop"],
            "workload": ["checkout", "cart", "checkout"],
            "pod": ["checkout-1", None, None],
            "node": ["n1", None, None],
        }
    )
    # the culprit's own pod came first, but the truth names the workload: it is third
    assert scenarios.truth_rank(found, truth) == 3
    assert scenarios.truth_rank(found.iloc[:2], truth) == scenarios.NOT_FOUND
    assert scenarios.truth_rank(found.iloc[:0], truth) == scenarios.NOT_FOUND
