"""The Drain-style template miner, new templates and error bursts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import obskit
from obskit.analysis.logpatterns import (
    TemplateMiner,
    earlier_incidents,
    error_bursts,
    log_templates,
    mask,
    new_templates,
    peer_errors,
    trace_latency,
)

T0 = pd.Timestamp("2024-01-01T00:00:00Z")


def test_mask_hides_values_not_words():
    out = mask(
        pd.Series(
            [
                "GET /api/v1/items took 12.5ms from 10.1.2.3:8080",
                "request 0b1c2d3e4f5a failed uid=5b0c5c1e-8d1f-4b9e-9f57-1c2d3e4f5a6b",
            ]
        )
    ).tolist()
    assert out == [
        "GET /api/v1/items took <*>ms from <*>",
        "request <*> failed uid=<*>",
    ]


def test_miner_groups_known_lines_into_templates():
    lines = pd.Series(
        [
            "Connection from 10.0.0.1 closed by user alice",
            "Connection from 10.0.0.2 closed by user bob",
            "Connection from 10.0.0.9 closed by user carol",
            "Disk /dev/sda1 is 91% full",
            "Disk /dev/sdb2 is 97% full",
            "Started worker pool with 8 threads",
        ]
    )
    miner = TemplateMiner()
    ids = miner.fit(lines)
    assert ids.tolist() == [0, 0, 0, 1, 1, 2]
    assert miner.templates()["template"].tolist() == [
        "Connection from <*> closed by user <*>",
        "Disk <*> is <*>% full",
        "Started worker pool with <*> threads",
    ]
    assert miner.templates()["count"].tolist() == [3, 2, 1]


def test_json_and_logfmt_lines_are_templated_on_their_message():
    logs = pd.DataFrame(
        {
            "message": [
                '{"level":"error","msg":"upstream checkout failed: 503","latency_ms":12}',
                '{"level":"error","msg":"upstream checkout failed: 504","latency_ms":40}',
                'ts=2024-01-01T00:00:00Z level=warn msg="pool near capacity" took=5ms',
            ]
        }
    )
    out = log_templates(logs)["template"].tolist()
    assert out == ["upstream checkout failed: <*>"] * 2 + ["pool near capacity"]


def _logs() -> pd.DataFrame:
    rows = []
    for i in range(120):
        t = T0 + pd.Timedelta(seconds=30 * i)
        rows.append((t, "api-1", f"handled request {i} in {i % 7}ms", "info"))
        rows.append((t, "db-0", f"checkpoint {i} done", "info"))
        if i >= 60:
            rows.append((t, "api-1", f"ERROR upstream db timeout after {i}ms", "error"))
    return obskit.schema.conform(
        "logs",
        pd.DataFrame(rows, columns=["timestamp", "pod", "message", "level"]).assign(
            namespace="shop"
        ),
    )


def test_new_templates_are_the_ones_a_pod_never_logged_before():
    logs = _logs()
    at = T0 + pd.Timedelta(minutes=30)
    fresh = new_templates(logs, at)
    assert fresh["pod"].tolist() == ["api-1"]
    row = fresh.iloc[0]
    assert row["template"] == "ERROR upstream db timeout after <*>ms"
    assert row["count"] == 60 and row["level"] == "error" and row["new_everywhere"]
    assert row["first_seen"] == at


def test_error_bursts_score_the_rise_of_bad_lines():
    bursts = error_bursts(_logs(), T0 + pd.Timedelta(minutes=30))
    assert bursts["pod"].tolist() == ["api-1"]
    assert bursts.iloc[0]["before"] == 0 and bursts.iloc[0]["after"] == 60
    assert bursts.iloc[0]["score"] > 3
    with pytest.raises(obskit.InvestigationError, match="min_level must be one of"):
        error_bursts(_logs(), T0, min_level="loud")


def test_many_lines_of_three_shapes_mine_to_three_templates():
    # (how fast mining is, is measured in benchmarks/run.py's suspects case, not here)
    rng = np.random.default_rng(3)
    n = 200_000
    shapes = np.array(
        [
            "GET /api/items/{} took {}ms",
            "user {} logged in from 10.0.{}.{}",
            "cache miss for key sku-{} ({} entries)",
        ]
    )
    pick = rng.integers(0, 3, n)
    a, b = rng.integers(0, 10_000, n), rng.integers(0, 255, n)
    messages = [
        s.replace("{}", str(x), 1).replace("{}", str(y))
        for s, x, y in zip(shapes[pick], a, b, strict=True)
    ]
    out = log_templates(pd.DataFrame({"message": messages}))
    assert out["template_id"].nunique() == 3
    assert len(out) == n


def _two_hop_traces(lag_after: float) -> pd.DataFrame:
    rows = []
    for i in range(30):
        t = T0 + pd.Timedelta(minutes=i)
        lag = pd.Timedelta(milliseconds=lag_after if i >= 15 else 5 + i % 2)
        rows += [
            (t, "web", f"t{i}", "a"),
            (t + pd.Timedelta("3ms"), "db", f"t{i}", "b"),
            (t + pd.Timedelta("4ms"), "db", f"t{i}", "b"),
            (t + pd.Timedelta("4ms") + lag, "web", f"t{i}", "a"),
        ]
    logs = pd.DataFrame(rows, columns=["timestamp", "workload", "trace_id", "span_id"])
    logs["pod"] = logs["workload"] + "-0"
    logs["message"] = "x"
    return obskit.schema.conform("logs", logs)


def test_trace_latency_finds_a_slowed_return_and_skips_steady_edges():
    out = trace_latency(_two_hop_traces(250), T0 + pd.Timedelta(minutes=15))
    assert out[["caller", "direction", "pod"]].values.tolist() == [["web", "return", "db-0"]]
    row = out.iloc[0]
    assert row["median_before"] == pytest.approx(5.5, abs=0.6)
    assert row["median_after"] == pytest.approx(250)
    assert row["n_before"] >= 3 and row["n_after"] == 15
    assert row["began"] == T0 + pd.Timedelta(minutes=15, milliseconds=254)
    assert trace_latency(_two_hop_traces(6), T0 + pd.Timedelta(minutes=15)).empty


def test_trace_latency_needs_trace_columns_and_honours_the_baseline():
    logs = _two_hop_traces(250)
    assert trace_latency(logs.drop(columns=["trace_id"]), T0).empty
    # a baseline of 2 minutes holds too few calls to score
    assert trace_latency(logs, T0 + pd.Timedelta(minutes=15), baseline="2min").empty


# --- code-level faults: Java layouts, surges, new exceptions, where traced errors begin ---------


def test_java_lines_are_templated_on_their_logger_not_merged_into_wildcards():
    # logback's "time level logger#line" layout: the first token is a time, shared by every line
    lines = pd.Series(
        [
            "18:04:13.052 INFO  c.t.c.PaymentController#34 [pay][Pay][PaymentId: 7]",
            "18:04:14.101 INFO  c.t.c.PaymentController#34 [pay][Pay][PaymentId: 9]",
            "18:04:15.220 ERROR c.s.ContactsServiceImpl#88 [findContactsById][No contacts]",
            "18:04:16.330 INFO  o.s.OrderServiceImpl#324 [modifyOrder][Modify order Success]",
        ]
    )
    miner = TemplateMiner()
    ids = miner.fit(lines).tolist()
    assert ids[0] == ids[1] and len(set(ids)) == 3
    templates = miner.templates()["template"].tolist()
    assert "<*>:<*>:<*> ERROR c.s.ContactsServiceImpl#<*> [findContactsById][No contacts]" in (
        templates
    )


def test_covered_minutes_count_only_minutes_with_lines():
    from obskit.analysis.logpatterns import covered_minutes

    # lines in minutes 0, 1 and 60, 61: the 58 minutes between were not collected
    t = T0 + pd.to_timedelta([10, 70, 3610, 3670], unit="s")
    before, after = covered_minutes(pd.Series(t), T0 + pd.Timedelta(minutes=60))
    assert (before, after) == (2.0, 2.0)


def _java_logs(before_errors: int, after_errors: int) -> pd.DataFrame:
    rows = []
    for i in range(40):  # one line a minute, errors among the first and the last 20
        t = T0 + pd.Timedelta(minutes=i)
        rows.append((t, "api-1", "INFO c.Api#1 handled request", "info"))
        n = before_errors if i < 20 else after_errors
        if i % 20 < n:
            rows.append((t, "api-1", "ERROR c.Api#9 [pay][Pay failed]", "error"))
    frame = pd.DataFrame(rows, columns=["timestamp", "pod", "message", "level"])
    return obskit.schema.conform("logs", frame.assign(namespace="shop"))


def test_a_known_error_surges_only_when_its_rate_at_least_triples():
    from obskit.analysis.logpatterns import SURGE_RATIO, template_surges

    at = T0 + pd.Timedelta(minutes=20)
    surged = template_surges(_java_logs(2, 12), at)
    assert surged["template"].tolist() == ["ERROR c.Api#<*> [pay][Pay failed]"]
    assert surged.iloc[0][["before", "after"]].tolist() == [2, 12]
    # doubled: within what the traffic does, not a surge
    assert SURGE_RATIO > 2 and template_surges(_java_logs(5, 10), at).empty


def test_new_exceptions_are_compared_per_pod_when_the_template_stays_the_same():
    from obskit.analysis.logpatterns import new_exceptions

    servlet = (
        "ERROR dispatcherServlet#175 Request processing failed; nested exception is "
        "java.lang.IllegalStateException: No instances available for {}] with root cause"
    )
    rows = [(T0 + pd.Timedelta(minutes=i), "travel-1", servlet.format("basic")) for i in range(5)]
    rows += [
        (T0 + pd.Timedelta(minutes=10 + i), "travel-1", servlet.format("seat")) for i in (0, 1)
    ]
    rows += [(T0 + pd.Timedelta(minutes=11), "travel-1", servlet.format("basic"))]
    logs = obskit.schema.conform(
        "logs", pd.DataFrame(rows, columns=["timestamp", "pod", "message"]).assign(level="error")
    )
    out = new_exceptions(logs, T0 + pd.Timedelta(minutes=10))
    assert out["exception"].tolist() == [
        "java.lang.IllegalStateException: No instances available for seat"
    ]
    assert out.iloc[0]["count"] == 2 and len(out.iloc[0]["lines"]) == 2


def test_the_pod_whose_error_comes_first_in_a_trace_originates_it():
    from obskit.analysis.logpatterns import error_origins

    rows = []
    for i in range(4):
        t = T0 + pd.Timedelta(minutes=10 + i)
        rows.append((t, "seat-1", "seat", f"t{i}", "ERROR NullPointerException in seat"))
        rows.append(
            (t + pd.Timedelta("20ms"), "travel-1", "travel", f"t{i}", "ERROR 500 from seat")
        )
    rows.append((T0 + pd.Timedelta(minutes=20), "travel-1", "travel", "t9", "ERROR own failure"))
    logs = pd.DataFrame(rows, columns=["timestamp", "pod", "workload", "trace_id", "message"])
    logs = obskit.schema.conform("logs", logs.assign(namespace="shop", level="error"))
    out = error_origins(logs, T0, pd.Series(True, index=logs.index)).set_index("pod")
    assert out.loc["seat-1", ["originated", "reported"]].tolist() == [4, 0]
    assert out.loc["travel-1", ["originated", "reported"]].tolist() == [1, 4]
    assert out.loc["travel-1", "origins"] == ["seat-1"]


@pytest.mark.parametrize("dtype", ["object", "string"])
def test_repeated_messages_get_what_each_line_gets_on_its_own(dtype):
    from obskit.analysis.logpatterns import message_text

    lines = [
        '{"level":"error","msg":"db 10.0.0.7 down after 3 tries"}',
        "GET /a took 5ms",
        None,
        "GET /a took 7ms",
        '{"level":"error","msg":"db 10.0.0.7 down after 3 tries"}',
        "GET /a took 5ms",
        'level=warn msg="queue 42 full"',
        "",
        None,
        "GET /a took 5ms",
    ]
    messages = pd.Series(lines, index=range(100, 110), dtype=dtype)
    one_by_one = [mask(pd.Series([m], dtype=dtype)).iloc[0] for m in lines]
    assert mask(messages).tolist() == one_by_one
    assert mask(messages).index.tolist() == list(range(100, 110))
    assert message_text(pd.DataFrame({"message": messages})).tolist() == [
        message_text(pd.DataFrame({"message": pd.Series([m], dtype=dtype)})).iloc[0] for m in lines
    ]
    out = log_templates(pd.DataFrame({"message": messages}))
    assert out.index.tolist() == list(range(100, 110))
    assert out["template"].tolist() == [
        "db <*> down after <*> tries",
        "GET /a took <*>ms",
        "",
        "GET /a took <*>ms",
        "db <*> down after <*> tries",
        "GET /a took <*>ms",
        "queue <*> full",
        "",
        "",
        "GET /a took <*>ms",
    ]
    # ids in order of the most lines first: the GET shape (4 lines) is template 0
    assert out["template_id"].tolist() == [2, 0, 1, 0, 2, 0, 3, 1, 1, 0]


@pytest.mark.parametrize("at", [None, "NaT", "soon"])
def test_a_missing_or_unreadable_at_is_refused_not_compared_as_nat(at):
    logs = obskit.schema.conform(
        "logs", pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01T00:00Z"]), "message": ["x"]})
    )
    with pytest.raises(obskit.InvestigationError, match="at must be a timestamp like"):
        new_templates(logs, at)


def _episodes(errors: list[range], minutes: int = 40, chronic: bool = False) -> pd.DataFrame:
    """One pod logging a line every 10 s; an error line beside each in the ``errors`` minutes
    (and, if ``chronic``, another error once a minute from the first line on)."""
    rows = []
    for m in range(minutes):
        for k in range(6):
            t = T0 + pd.Timedelta(minutes=m, seconds=10 * k)
            rows.append((t, "ok", "info"))
            if any(m in r for r in errors):
                rows.append((t, "db down", "error"))
            if chronic and k == 0:
                rows.append((t, "cache miss", "error"))
    frame = pd.DataFrame(rows, columns=["timestamp", "message", "level"]).assign(pod="a")
    return obskit.schema.conform("logs", frame)


def test_earlier_incidents_are_bursts_that_began_after_a_quiet_stretch():
    logs = _episodes([range(5, 10), range(30, 40)], chronic=True)
    at = T0 + pd.Timedelta(minutes=30)
    marked = logs[earlier_incidents(logs, at)]
    # the first burst of "db down" (5 minutes, 6 lines each), not the chronic "cache miss"
    assert marked["message"].unique().tolist() == ["db down"]
    assert len(marked) == 30
    assert (marked["timestamp"] < T0 + pd.Timedelta(minutes=10)).all()


def test_an_error_going_on_since_long_before_the_onset_is_the_pods_state():
    # "db down" began at minute 5 and never stopped: 25 minutes later it is what the pod is like
    logs = _episodes([range(5, 40)])
    assert not earlier_incidents(logs, T0 + pd.Timedelta(minutes=30)).any()
    # five minutes in, the same burst is this incident's beginning, not the baseline
    early = earlier_incidents(logs, T0 + pd.Timedelta(minutes=10))
    assert early.sum() == 30


def test_a_pod_with_no_log_baseline_is_compared_with_its_peers():
    # logs collected from the onset on: nobody has a past; "a" errs in a quarter of its lines,
    # "b" warns in half of its (a chatty service's habit), "c" errs once in 40 lines
    rows = []
    for i in range(40):
        t = T0 + pd.Timedelta(seconds=15 * i)
        rows.append((t, "a", "x", "error" if i % 4 == 0 else "info"))
        rows.append((t, "b", "x", "warning" if i % 2 else "info"))
        rows.append((t, "c", "x", "error" if i == 7 else "info"))
    logs = obskit.schema.conform(
        "logs", pd.DataFrame(rows, columns=["timestamp", "pod", "message", "level"])
    )
    peers = peer_errors(logs, T0)
    assert peers[["pod", "errors", "lines"]].values.tolist() == [["a", 10, 40]]
    # with no rate of their own to rise from, none of them "bursts"
    assert error_bursts(logs, T0).empty


# Lines as TrainTicket's services log them (Nezha, 2023-01-29, ts-travel-service and
# ts-food-service container logs; MIT): trace and span ids replaced per test trace.
_REST = (
    "16:43:08.462 INFO  t.s.TravelServiceImpl#469 TraceID: {t} SpanID: 3005e6c3a34584b7 "
    "[getRestTicketNumber][Get Rest tickets num][num is: Response(status=1, msg=Get Left Ticket "
    "of Internal Success, data=1073741721)]"
)
_DISTANCE = (
    "16:43:08.462 INFO  t.s.TravelServiceImpl#372 TraceID: {t} SpanID: 3005e6c3a34584b7 "
    "[getTickets][Calculate distance][calculate time：175  time: Sat May 04 12:46:52 CST 2013]"
)
_NO_INSTANCES = (
    "16:52:57.197 ERROR o.a.c.c.C.[.[.[.[dispatcherServlet]#175 TraceID: {t} SpanID: "
    "095fe3b612a4bc9a Servlet.service() for servlet [dispatcherServlet] in context with path [] "
    "threw exception [Request processing failed; nested exception is "
    "java.lang.IllegalStateException: No instances available for ts-basic-service] with root cause"
)
_SERVER_ERROR = (
    "17:20:29.299 ERROR o.a.c.c.C.[.[.[.[dispatcherServlet]#175 TraceID: {t} SpanID: "
    "dea06c5b784cbd1d Servlet.service() for servlet [dispatcherServlet] in context with path [] "
    "threw exception [Request processing failed; nested exception is "
    "org.springframework.web.client.HttpServerErrorException$InternalServerError: 500 Internal "
    'Server Error: [{{"timestamp":"2023-01-29T09:20:29.295+00:00","status":500,"error":"Internal '
    'Server Error","message":"","path":"/api/v1/basicservice/basic/travels"}}]] with root cause'
)
_FOOD_FAILED = (
    "17:32:01.101 ERROR  f.s.FoodServiceImpl#245 TraceID: {t} SpanID: c5548b370b69f0cb "
    "[getAllFood][reGetTrainFoodListResult][Get the Get Food Request Failed!]"
)


def _traced(traces: list[tuple[int, list[str]]], pod: str = "travel-1") -> pd.DataFrame:
    """One line per (minute, template) of each trace, in order, 10 ms apart."""
    rows = []
    for i, (minute, lines) in enumerate(traces):
        t = T0 + pd.Timedelta(minutes=minute, seconds=i % 50)
        for k, line in enumerate(lines):
            level = "error" if " ERROR " in line else "info"
            stamp = t + pd.Timedelta(milliseconds=10 * k)
            rows.append((stamp, pod, f"t{i:04d}", line.format(t=f"{i:032x}"), level))
    frame = pd.DataFrame(rows, columns=["timestamp", "pod", "trace_id", "message", "level"])
    return obskit.schema.conform("logs", frame.assign(namespace="ts", workload=pod[:-2]))


def test_a_step_that_stops_following_the_one_before_it_is_a_broken_sequence():
    from obskit.analysis.logpatterns import broken_sequences

    before = [(m % 10, [_REST, _DISTANCE]) for m in range(40)]
    after = [(12, [_REST, _DISTANCE])] * 6 + [(12, [_REST])] * 5
    out = broken_sequences(_traced(before + after), T0 + pd.Timedelta(minutes=11))
    assert out["pod"].tolist() == ["travel-1"]
    row = out.iloc[0]
    assert "[Get Rest tickets num]" in row["step"] and "[Calculate distance]" in row["missing"]
    assert row[["before", "short_before", "after", "short_after"]].tolist() == [40, 0, 11, 5]
    assert row["score"] > 3
    # the same requests all complete: nothing broke
    assert broken_sequences(_traced(before + after[:6]), T0 + pd.Timedelta(minutes=11)).empty


def test_a_step_skipped_because_a_call_failed_is_the_callees_not_a_break():
    from obskit.analysis.logpatterns import broken_sequences

    before = [(m % 10, [_REST, _DISTANCE]) for m in range(40)]
    # the request stopped after the pod said its call failed: a report, left out
    after = [(12, [_REST, _NO_INSTANCES])] * 5 + [(12, [_REST, _SERVER_ERROR])] * 5
    assert broken_sequences(_traced(before + after), T0 + pd.Timedelta(minutes=11)).empty
    # the pod's own error line (no failed call in it) does not explain the stop
    own = [(12, [_REST, _FOOD_FAILED])] * 5
    out = broken_sequences(_traced(before + own), T0 + pd.Timedelta(minutes=11))
    assert out["short_after"].tolist() == [5]


def test_a_step_logged_twice_per_request_is_short_when_logged_once():
    from obskit.analysis.logpatterns import broken_sequences

    # "Get Train Food Start!" and "Get Train Food List!" make one template logged twice per
    # request; the wrong return value ends the request after the first
    start = "INFO f.s.FoodServiceImpl#1 TraceID: {t} [getAllFood][get All Food with info]"
    food = "INFO f.s.FoodServiceImpl#2 TraceID: {t} [getAllFood][Get Train Food {x}!]"
    full = [start, food.replace("{x}", "Start"), food.replace("{x}", "List")]
    before = [(m % 10, full) for m in range(30)]
    after = [(12, full[:2])] * 4
    out = broken_sequences(_traced(before + after, "food-1"), T0 + pd.Timedelta(minutes=11))
    assert out[["pod", "per_step", "short_after"]].values.tolist() == [["food-1", 2, 4]]


def test_call_failures_are_lines_that_say_a_call_failed():
    from obskit.analysis.logpatterns import call_failures

    lines = [_NO_INSTANCES, _SERVER_ERROR, _FOOD_FAILED, _REST]
    frame = pd.DataFrame(
        {"message": [x.format(t="ab") for x in lines], "level": ["error"] * 3 + ["info"]}
    )
    logs = obskit.schema.conform("logs", frame)
    assert call_failures(logs).tolist() == [True, True, False, False]


def test_a_branch_that_splits_requests_is_no_bound_step():
    from obskit.analysis.logpatterns import broken_sequences

    # "Calculate distance" followed "Get Rest tickets num" in three requests of four before:
    # a branch of the code, so requests without it after the onset broke nothing
    before = [(m % 10, [_REST, _DISTANCE] if m % 4 else [_REST]) for m in range(40)]
    after = [(12, [_REST])] * 6
    assert broken_sequences(_traced(before + after), T0 + pd.Timedelta(minutes=11)).empty


def test_traces_without_ids_or_before_the_onset_only_have_no_breaks():
    from obskit.analysis.logpatterns import broken_sequences

    logs = _traced([(m % 10, [_REST, _DISTANCE]) for m in range(40)])
    assert broken_sequences(logs, T0 + pd.Timedelta(minutes=11)).empty
    assert broken_sequences(logs.drop(columns="trace_id"), T0).empty
