"""YAML read safely, as both kubectl's YAML and the Kubernetes objects in cloud audit records are:
timestamps kept as text (as the JSON form has them), and documents whose aliases would expand
them without bound (an alias bomb) refused. Used by :mod:`obskit.sources.kubernetes` and
:mod:`obskit.sources.cloud_audit`."""

from __future__ import annotations

import re

import yaml

__all__ = ["MAX_ALIAS_NODES", "NoTimestampLoader", "alias_bomb", "has_anchors"]


class NoTimestampLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML loader that keeps timestamps as text, as the JSON form does."""


NoTimestampLoader.yaml_implicit_resolvers = {
    k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


#: A YAML anchor (``&name`` before a node); text such as ``Tom & Jerry`` or ``?a=1&b=2`` is none.
_ANCHOR = re.compile(rb"(?:^|[\s\[{,])&[^\s\[\]{},]")
#: Most nodes YAML aliases may add to a document. An alias repeats a node written once (an
#: anchor) without copying it, but whatever walks the document later (JSON for evidence, a
#: bundle) walks every repeat: nine levels of nine aliases are 400 million nodes from 1 kB.
#: kubectl writes no aliases; hand-written manifests repeat a few blocks.
MAX_ALIAS_NODES = 100_000


def alias_bomb(doc: object) -> str | None:
    """Why ``doc`` cannot be read as it was decoded: its aliases expand it by more than
    :data:`MAX_ALIAS_NODES` nodes, or an alias holds itself; None when it can."""
    if not isinstance(doc, dict | list):
        return None
    expanded: dict[int, int] = {}  # a container's size with every alias expanded, by id
    walking: set[int] = set()  # the containers being walked: an alias to one is a cycle
    written = 0
    stack: list[tuple[dict | list, bool]] = [(doc, False)]
    while stack:  # depth first, without recursion: a document may be deep
        node, finished = stack.pop()
        children = list(node.values()) if isinstance(node, dict) else node
        if finished:
            walking.discard(id(node))
            expanded[id(node)] = 1 + sum(expanded.get(id(c), 1) for c in children)
        elif id(node) in walking:
            return "a YAML alias refers to a node that holds it (an endless document)"
        elif id(node) not in expanded:
            walking.add(id(node))
            written += 1 + len(children)
            stack.append((node, True))
            stack += [(c, False) for c in children if isinstance(c, dict | list)]
    growth = expanded[id(doc)] - written
    if growth > MAX_ALIAS_NODES:
        return (
            f"YAML aliases expand it from {written:,} nodes by {growth:,} (more than "
            f"{MAX_ALIAS_NODES:,}): an alias bomb"
        )
    return None


def has_anchors(data: bytes) -> bool:
    """Whether YAML ``data`` names an anchor, the only way its aliases can repeat a node."""
    return _ANCHOR.search(data) is not None
