"""Shared fixtures: test data paths resolved from this file, never from the working directory."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

DATA = Path(__file__).parent / "data"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

#: One or more real (or real-shaped, see each folder's SOURCES.md) samples per registered format;
#: tests/test_contract.py fails for a format that has none.
FORMAT_SAMPLES: dict[str, list[str]] = {
    "prometheus-json": ["prometheus/*.json"],
    "prometheus-text": [
        "prometheus/*.txt",
        "prometheus/**/prometheus_*metrics",
        "prometheus/real/*.txt",
        "prometheus/real/*.prom",
    ],
    "k8s-json": ["k8s/*.json", "k8s/*.yaml"],
    "cluster-info-dump": ["dump/**/logs.txt"],
    "cri-log": ["cri/**/*.log"],
    "docker-json-log": ["fluentbit/log/*.log", "docker/*.log"],
    "jsonl-log": ["fluentbit/out/*.out", "loki/*.jsonl"],
    "loki-json": ["loki/*.json"],
    "audit-log": ["audit/**/*.json", "audit/**/*.log"],
    "falco-json": ["falco/*.json", "falco/*.jsonl"],
    "es-search": ["elasticsearch/*.json"],
    "gke-audit": ["gke/*.json", "gke/*.yaml", "gke/*.jsonl"],
    "eks-audit": ["eks/*.json", "eks/*.jsonl", "eks/export-*"],
    "aks-audit": ["aks/*.json", "aks/*.jsonl"],
}


def samples(fmt: str) -> list[Path]:
    """The sample files for a format."""
    found: list[Path] = []
    for pattern in FORMAT_SAMPLES.get(fmt, []):
        found += sorted(p for p in DATA.glob(pattern) if p.is_file())
    return found


def benchmark_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` loaded as a module (the benchmarks are scripts, not a package),
    registered under ``benchmarks_<name>`` so that its dataclasses find their module."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def data() -> Path:
    return DATA
