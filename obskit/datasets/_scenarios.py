"""The bundled incidents by name: each builds a World, plants its fault, returns (world, truth)."""

from __future__ import annotations

from collections.abc import Callable

from obskit.datasets._bad_rollout import bad_rollout
from obskit.datasets._checkout_oom import checkout_oom
from obskit.datasets._cryptominer import cryptominer
from obskit.datasets._falco_disabled import falco_disabled
from obskit.datasets._node_pressure import node_pressure
from obskit.datasets._world import World

SCENARIOS: dict[str, Callable[[int, float], tuple[World, dict]]] = {
    "bad-rollout": bad_rollout,
    "checkout-oom": checkout_oom,
    "cryptominer": cryptominer,
    "falco-disabled": falco_disabled,
    "node-pressure": node_pressure,
}
