"""Routing policy, loaded from ``policy.toml``."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from models.errors import Collector

STRATEGIES: tuple[str, ...] = ("cost", "priority", "nearest", "high_stock", "dual")


@dataclass(frozen=True, slots=True)
class CostModel:
    """Parcel cost model.

    The defaults follow the e-commerce fulfillment experiments of Jasin & Sinha
    (2015) and Ma (2023): a fixed cost per shipment plus a per-unit cost that
    grows linearly with the miles travelled.

    Parameters
    ----------
    per_shipment : float
        Fixed cost of one parcel.
    per_unit : float
        Fixed cost of one unit.
    per_unit_mile : float
        Cost of moving one unit one mile.
    per_kg : float
        Optional weight surcharge per kilogram shipped.
    """

    per_shipment: float = 8.759
    per_unit: float = 0.423
    per_unit_mile: float = 0.000541
    per_kg: float = 0.0

    def __post_init__(self) -> None:
        col = Collector()
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                col.add("policy", "cost", f.name, f"must be a finite number >= 0, got {v!r}")
        col.raise_if_any()


@dataclass(frozen=True, slots=True)
class Policy:
    """How orders are sourced.

    Parameters
    ----------
    strategy : str
        ``cost`` (minimum-cost whole-order plan), ``priority``, ``nearest`` or ``high_stock``.
    max_shipments : int
        Default split limit for orders that do not set their own.
    split_penalty : float
        Extra cost charged for every shipment beyond the first.
    cost : CostModel
        Parcel cost model.
    split_candidates : int
        How many of the best-ranked candidate nodes the ``cost`` strategy
        combines into 2- and 3-node splits. Single-node plans always consider
        every node with stock; the cap only bounds split enumeration.
    explain_top : int
        How many rejected candidates an explanation lists.
    """

    strategy: str = "cost"
    max_shipments: int = 3
    split_penalty: float = 0.0
    cost: CostModel = field(default_factory=CostModel)
    split_candidates: int = 32
    explain_top: int = 10

    def __post_init__(self) -> None:
        col = Collector()
        if self.strategy not in STRATEGIES:
            col.add("policy", None, "strategy", f"must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        for name, lo in (("max_shipments", 1), ("split_candidates", 3), ("explain_top", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                col.add("policy", None, name, f"must be an integer >= {lo}, got {v!r}")
        sp = self.split_penalty
        if isinstance(sp, bool) or not isinstance(sp, int | float) or not math.isfinite(sp) or sp < 0:
            col.add("policy", None, "split_penalty", f"must be a finite number >= 0, got {sp!r}")
        col.raise_if_any()

    def replace(self, **changes: Any) -> Policy:
        """Return a copy with some fields changed (validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Policy(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        """Build a policy from parsed TOML, rejecting unknown keys.

        Parameters
        ----------
        data : dict
            Top-level keys as in ``policy.toml``; the ``[cost]`` table maps to :class:`CostModel`.
        """
        col = Collector()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        for key in unknown:
            col.add("policy", None, key, "unknown key")
        cost_data = data.get("cost", {})
        if not isinstance(cost_data, dict):
            col.add("policy", None, "cost", "must be a table")
            cost_data = {}
        cost_known = {f.name for f in fields(CostModel)}
        for key in sorted(set(cost_data) - cost_known):
            col.add("policy", "cost", key, "unknown key")
        col.raise_if_any()
        values = {k: v for k, v in data.items() if k != "cost"}
        return cls(cost=CostModel(**cost_data), **values)


def load_policy(path: str | Path | None) -> Policy:
    """Read ``policy.toml``; a missing file gives the default policy."""
    if path is None:
        return Policy()
    p = Path(path)
    if not p.exists():
        return Policy()
    with p.open("rb") as fh:
        return Policy.from_dict(tomllib.load(fh))
