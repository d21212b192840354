"""Container logs: CRI, Docker json-file, and shipped JSON lines."""

from __future__ import annotations

import gzip
import lzma

import orjson
import pandas as pd
import pytest
import zstandard

from obskit import schema
from obskit.sources import load_file
from obskit.sources.cri import parse_cri_log, path_key
from obskit.sources.docker import parse_docker_json_log
from obskit.sources.jsonl import parse_jsonl_log
from obskit.sources.logs import derive_level, log_fields

from ..conftest import DATA

POD_DIR = "shop_checkout-7d9f8b6c4-x2x9z_5b0c5c1e-8d1f-4b9e-9f57-1c2d3e4f5a6b"
CRI0 = DATA / "cri/var/log/pods" / POD_DIR / "checkout/0.log"
CRI1 = DATA / "cri/var/log/pods" / POD_DIR / "checkout/1.log"


def test_cri_file_rows_rejects_and_merges_add_up():
    result, fmt = load_file(CRI0)
    assert fmt == "cri-log"
    # 14 lines, one blank: 13 records = 8 rows + 3 rejects + 2 partial lines merged
    assert (result.records, result.rows, len(result.rejects), result.merged) == (13, 8, 3, 2)
    schema.validate("logs", result.logs)


def test_cri_rejects_name_line_and_reason():
    rejects = load_file(CRI0)[0].rejects
    assert rejects[["line", "reason"]].values.tolist() == [
        [10, "unknown CRI tag 'X': expected P or F"],
        [11, "not a CRI log line: expected '<RFC3339Nano> <stdout|stderr> <P|F> <msg>'"],
        [12, "unreadable CRI timestamp '2024-13-45T99:00:00Z'"],
    ]
    assert rejects["raw"].iloc[1] == "not a cri line at all"


def test_cri_partial_lines_join_per_stream():
    logs = load_file(CRI0)[0].logs
    messages = logs["message"].tolist()
    assert "java.lang.OutOfMemoryError: Java heap space" in messages
    # a stdout partial is joined with the next stdout line, across an interleaved stderr line
    assert "part one, part two" in messages
    joined = logs[logs["message"] == "part one, part two"].iloc[0]
    assert joined["line"] == 6
    assert joined["timestamp"] == pd.Timestamp("2024-05-14T10:00:03Z")


def test_cri_key_and_restart_from_kubelet_path():
    logs = load_file(CRI1)[0].logs
    assert set(logs["namespace"]) == {"shop"}
    assert set(logs["pod"]) == {"checkout-7d9f8b6c4-x2x9z"}
    assert set(logs["container"]) == {"checkout"}
    assert logs["restart"].tolist() == [1, 1]


def test_cri_offsets_converted_to_utc():
    logs = load_file(CRI0)[0].logs
    row = logs[logs["message"].str.contains("offset time")].iloc[0]
    assert row["timestamp"] == pd.Timestamp("2024-05-14T10:00:05Z")


def test_cri_nanoseconds_kept():
    logs = load_file(CRI0)[0].logs
    assert logs["timestamp"].iloc[0].value % 1_000_000_000 == 1


def test_non_utf8_line_is_kept_with_replacement_character():
    logs = load_file(CRI1)[0].logs
    assert logs["message"].iloc[0] == "caf\ufffd latin-1 byte"


def test_levels_from_json_logfmt_klog_text_and_stack_traces():
    levels = dict(
        zip(*[load_file(CRI0)[0].logs[c].tolist() for c in ("message", "level")], strict=True)
    )
    assert levels['level=warn msg="heap at 85%" heap_mb=870'] == "warning"
    assert levels["E0514 10:00:05.000000       1 main.go:12] offset time"] == "error"
    assert levels["java.lang.OutOfMemoryError: Java heap space"] == "error"
    assert levels["\tat com.shop.Cart.add(Cart.java:42)"] == "error"  # inherits the headline
    assert pd.isna(levels["part one, part two"])


@pytest.mark.parametrize(
    ("message", "level"),
    [
        ('{"severity":"ERROR","message":"x"}', "error"),
        ('{"level":50,"msg":"pino"}', "error"),
        ("lvl=dbug msg=x", "debug"),
        ("2024-01-01 12:00:00,123 WARNING [main] x", "warning"),
        ("[ERROR] x", "error"),
        ("W0102 15:04:05.000000 1 x.go:1] w", "warning"),
        ("panic: runtime error: index out of range", "critical"),
        ("Errors are fine in prose", None),
        ("an error happened mid-sentence", None),
    ],
)
def test_derive_level(message, level):
    got = derive_level(pd.Series([message])).iloc[0]
    assert (pd.isna(got) and level is None) or got == level


def test_docker_json_log_real_fixture():
    result, fmt = load_file(DATA / "fluentbit/log/core_unescaping_text.log")
    assert fmt == "docker-json-log"
    assert result.balanced()
    assert result.logs["message"].iloc[0].startswith('Text with embedded quoted "text')
    assert str(result.logs["timestamp"].iloc[0]) == "2019-04-01 17:58:33.598656444+00:00"


def test_docker_json_log_keeps_attrs_real_fixture():
    result, fmt = load_file(DATA / "docker/beats-attrs.log")
    assert fmt == "docker-json-log" and result.balanced()
    row = result.logs.iloc[0]
    assert (row["message"], row["attrs.KEY1"], row["attrs.KEY2"]) == ("hello", "value1", "value2")
    assert row["timestamp"] == pd.Timestamp("2017-11-09T13:27:36.277747246Z")


def test_docker_json_log_attrs_with_dockershim_labels_fill_the_key(tmp_path):
    # built from the real line above: the labels dockershim gives a pod's containers, as
    # "log-opts": {"labels": "io.kubernetes.pod.namespace,..."} copies them into attrs
    record = orjson.loads((DATA / "docker/beats-attrs.log").read_bytes())
    labels = {
        "io.kubernetes.container.name": "web",
        "io.kubernetes.pod.name": "web-7d9f8b6c4-x2x9z",
        "io.kubernetes.pod.namespace": "shop",
    }
    lines = [record | {"attrs": labels}, record]  # the second line has its own attrs
    path = tmp_path / "0123abcd-json.log"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    logs = load_file(path)[0].logs
    assert logs["pod"].tolist()[0] == "web-7d9f8b6c4-x2x9z" and pd.isna(logs["pod"].iloc[1])
    assert logs[["namespace", "container"]].iloc[0].tolist() == ["shop", "web"]
    assert logs["attrs.KEY1"].isna().tolist() == [True, False]


def test_docker_json_log_partial_lines_and_bad_records():
    data = (
        b'{"log":"first half ","stream":"stdout","time":"2024-01-01T00:00:00Z"}\n'
        b'{"log":"second half\\n","stream":"stdout","time":"2024-01-01T00:00:00.1Z"}\n'
        b'{"log":"trunc\n'
        b'{"stream":"stdout","time":"2024-01-01T00:00:01Z"}\n'
        b'{"log":"x\\n","stream":"stdout","time":"yesterday"}\n'
    )
    result = parse_docker_json_log(data, "x.log")
    assert result.logs["message"].tolist() == ["first half second half"]
    assert result.merged == 1
    assert result.rejects["line"].tolist() == [3, 4, 5]
    assert result.rejects["reason"].iloc[0].startswith("not valid JSON: truncated")
    assert result.balanced()


def test_jsonl_fluent_bit_output_real_fixture():
    result, fmt = load_file(DATA / "fluentbit/out/core_base_fluent-bit.out")
    assert fmt == "jsonl-log"
    row = result.logs.iloc[0]
    assert (row["namespace"], row["pod"], row["container"]) == ("core", "base", "fluent-bit")
    assert row["node"] == "ip-10-49-18-80.eu-west-1.compute.internal"
    assert row["message"] == "Fluent Bit is logging"
    assert row["timestamp"] == pd.Timestamp("2019-04-01T17:58:33.598656Z")


def test_jsonl_vector_records():
    line = (
        b'{"message":"boom","timestamp":"2024-01-01T00:00:00.5+01:00","kubernetes":'
        b'{"pod_namespace":"shop","pod_name":"web-1","container_name":"web",'
        b'"pod_node_name":"node-1"}}\n'
    )
    logs = parse_jsonl_log(line).logs
    assert logs[["namespace", "pod", "node"]].values.tolist() == [["shop", "web-1", "node-1"]]
    assert logs["timestamp"].iloc[0] == pd.Timestamp("2023-12-31T23:00:00.5Z")


@pytest.mark.parametrize("codec", ["gzip", "xz", "zstd"])
def test_compressed_files_read_by_content(tmp_path, codec):
    raw = CRI0.read_bytes()
    packed = {
        "gzip": lambda b: gzip.compress(b, mtime=0),
        "xz": lzma.compress,
        "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
    }[codec](raw)
    target = tmp_path / "var/log/pods" / POD_DIR / "checkout/0.log.20240514-100000"
    target.parent.mkdir(parents=True)
    target.write_bytes(packed)
    result, fmt = load_file(target)
    assert fmt == "cri-log"
    assert result.rows == 8 and set(result.logs["pod"]) == {"checkout-7d9f8b6c4-x2x9z"}


@pytest.mark.parametrize("codec", ["gzip", "xz", "zstd"])
def test_concatenated_members_are_all_read(tmp_path, codec):
    from obskit.sources._base import read_bytes

    compress = {
        "gzip": lambda b: gzip.compress(b, mtime=0),
        "xz": lzma.compress,
        "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
    }[codec]
    # the first member ends exactly where a decoding step does (1 MB of output)
    first, second = b"\0" * (2 << 20), CRI0.read_bytes()
    target = tmp_path / "0.log.packed"
    target.write_bytes(compress(first) + compress(second))
    data, note = read_bytes(target)
    assert note is None and data == first + second


def test_many_gzip_members_and_xz_stream_padding_are_read(tmp_path):
    from obskit.sources._base import read_bytes

    line = CRI0.read_bytes()
    blocks = tmp_path / "0.log.gz"  # one member per block, as bgzip writes them
    blocks.write_bytes(b"".join(gzip.compress(line, mtime=0) for _ in range(2000)))
    padded = tmp_path / "0.log.xz"  # xz pads streams to four bytes with zeros
    padded.write_bytes(lzma.compress(line) + b"\0" * 8 + lzma.compress(line) + b"\0" * 4)
    assert read_bytes(blocks) == (line * 2000, None)
    assert read_bytes(padded) == (line * 2, None)


def test_truncated_gzip_keeps_what_was_decoded_and_says_so(tmp_path):
    packed = gzip.compress(CRI0.read_bytes() * 50, mtime=0)
    target = tmp_path / "0.log.gz"
    target.write_bytes(packed[: len(packed) // 2])
    result, _ = load_file(target)
    assert result.rows > 0
    assert result.rejects["reason"].str.contains("gzip stream is truncated").any()
    assert result.balanced()


def test_huge_line_is_a_reject_not_a_crash():
    from obskit.sources import _base

    big = b"2024-01-01T00:00:00Z stdout F " + b"x" * (_base.MAX_LINE + 1) + b"\n"
    result = parse_cri_log(big + b"2024-01-01T00:00:01Z stdout F ok\n")
    assert result.logs["message"].tolist() == ["ok"]
    assert "exceeds" in result.rejects["reason"].iloc[0]
    assert len(result.rejects["raw"].iloc[0]) < 1000


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/var/log/pods/kube-system_coredns-5d78c9869d-abcde_1234/coredns/3.log",
            {
                "namespace": "kube-system",
                "pod": "coredns-5d78c9869d-abcde",
                "container": "coredns",
                "restart": 3,
            },
        ),
        (
            "/var/log/containers/web-1_shop_nginx-" + "a" * 64 + ".log",
            {"namespace": "shop", "pod": "web-1", "container": "nginx"},
        ),
        ("/tmp/app.log", {}),
    ],
)
def test_path_key(path, expected):
    got = path_key(path)
    assert {k: got[k] for k in expected} == expected
    assert bool(got) == bool(expected)


def test_log_fields_parses_json_and_logfmt_on_demand():
    logs = load_file(CRI0)[0].logs
    fields = log_fields(logs)
    assert fields.loc[0, "msg"] == "listening on :8080"
    assert fields.loc[1, "heap_mb"] == "870"
    assert fields.index.equals(logs.index)
