"""Tests of the OMS adapters; shared helpers for loading the example payloads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

PAYLOADS = Path(__file__).resolve().parent / "payloads"


def load(name: str) -> Any:
    """A fresh copy of an example payload (tests mutate them freely)."""
    with (PAYLOADS / name).open(encoding="utf-8") as fh:
        return copy.deepcopy(json.load(fh))


def atp_table(router) -> dict[tuple[str, str], int]:
    """Every (node, sku) ATP the router holds: compared before/after to prove nothing changed."""
    net = router.network
    return {(n.node_id, s.sku): router.atp(n.node_id, s.sku) for n in net.nodes for s in net.skus}


def at(doc: Any, path: tuple) -> Any:
    """The value at ``path`` (keys and indices) inside a JSON document."""
    for key in path:
        doc = doc[key]
    return doc
