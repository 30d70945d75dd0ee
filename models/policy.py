"""Routing policy, loaded from ``policy.toml``."""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from pathlib import Path
from typing import Any

from sourcewise.models.errors import Collector
from sourcewise.models.errors import ValidationError

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


def _check_numbers(obj, section: str, names: tuple[str, ...], col: Collector, *, allow_inf: bool = False) -> None:
    for name in names:
        v = getattr(obj, name)
        ok = isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
        if ok and not allow_inf:
            ok = math.isfinite(v)
        if not ok or (isinstance(v, float) and math.isnan(v)):
            col.add("policy", section, name, f"must be a number >= 0, got {v!r}")


@dataclass(frozen=True, slots=True)
class Tier:
    """One step of the sourcing chain.

    Parameters
    ----------
    name : str
    kinds : tuple of str
        Node kinds this tier may use.
    regions : tuple of str
        Node regions it may use; empty means any.
    max_distance_km : float
        Farthest node it may use.
    channels : tuple of str
        Order channels it applies to; empty means every channel.
    """

    name: str
    kinds: tuple[str, ...] = ("warehouse", "store")
    regions: tuple[str, ...] = ()
    max_distance_km: float = math.inf
    channels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("kinds", "regions", "channels"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        col = Collector()
        if not isinstance(self.name, str) or not self.name:
            col.add("policy", "tiers", "name", "every tier needs a name")
        bad = [k for k in self.kinds if k not in ("warehouse", "store", "vendor")]
        if bad or not self.kinds:
            col.add("policy", f"tiers.{self.name}", "kinds", f"must list warehouse, store or vendor, got {list(self.kinds)!r}")
        _check_numbers(self, f"tiers.{self.name}", ("max_distance_km",), col, allow_inf=True)
        col.raise_if_any()


DEFAULT_TIERS: tuple[Tier, ...] = (Tier("own", ("warehouse", "store")), Tier("vendors", ("vendor",)))


@dataclass(frozen=True, slots=True)
class StorePolicy:
    """Store protection and depletion.

    Parameters
    ----------
    protect_units : int
        Units of every SKU a store keeps for walk-in shoppers (a node's own
        ``protect_units`` overrides it).
    protect_days : float
        Also keep this many days of the store×SKU's walk-in demand.
    depletion_weight : float
        Planning cost per unit of ``weight * d / (d + atp)`` where ``d`` is
        the daily walk-in demand: taking a unit costs more the fewer days of
        walk-in cover the store has left.
    """

    protect_units: int = 0
    protect_days: float = 0.0
    depletion_weight: float = 2.0

    def __post_init__(self) -> None:
        col = Collector()
        _check_numbers(self, "stores", ("protect_units", "protect_days", "depletion_weight"), col)
        col.raise_if_any()


@dataclass(frozen=True, slots=True)
class ServicePolicy:
    """Promise dates and service levels.

    Parameters
    ----------
    transit_bands : tuple of (km, days)
        Transit days for a parcel travelling at most ``km``; ascending.
    standard_days, express_days, next_day_days : float
        Delivery deadline per service level, in days; a negative value means none.
    late : str
        ``exclude`` drops nodes that cannot meet the deadline; ``penalty``
        keeps them at ``late_penalty_per_day`` per parcel and day late.
    """

    transit_bands: tuple[tuple[float, float], ...] = ((300.0, 1.0), (1000.0, 2.0), (2000.0, 3.0),
                                                      (3500.0, 4.0), (20100.0, 5.0))
    standard_days: float = -1.0
    express_days: float = 3.0
    next_day_days: float = 1.0
    late: str = "exclude"
    late_penalty_per_day: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "transit_bands", tuple(tuple(map(float, b)) for b in self.transit_bands))
        col = Collector()
        bands = self.transit_bands
        if not bands or any(len(b) != 2 or b[0] <= 0 or b[1] < 0 for b in bands):
            col.add("policy", "service", "transit_bands", "must be [[km, days], ...] with km > 0 and days >= 0")
        elif any(bands[i][0] >= bands[i + 1][0] for i in range(len(bands) - 1)):
            col.add("policy", "service", "transit_bands", "distances must ascend")
        if self.late not in ("exclude", "penalty"):
            col.add("policy", "service", "late", f"must be exclude or penalty, got {self.late!r}")
        _check_numbers(self, "service", ("late_penalty_per_day",), col)
        col.raise_if_any()

    def deadline(self, level: str) -> float:
        return {"standard": self.standard_days, "express": self.express_days,
                "next_day": self.next_day_days}[level]


@dataclass(frozen=True, slots=True)
class MethodPolicy:
    """Pickup and same-day rules.

    Parameters
    ----------
    same_day_radius_km : float
        Only nodes this close, and before their cutoff, serve ``same_day`` lines.
    pickup_transfer : bool
        Whether a pickup store lacking stock may receive a transfer.
    transfer_radius_km : float
        How far a transfer may come from.
    pickup_radius_km : float
        How far from the shopper :meth:`Router.promise` and
        :meth:`Router.availability` look for pickup stores.
    pickup_options : int
        At most this many pickup stores are offered (the nearest).
    """

    same_day_radius_km: float = 50.0
    pickup_transfer: bool = False
    transfer_radius_km: float = 150.0
    pickup_radius_km: float = 25.0
    pickup_options: int = 5

    def __post_init__(self) -> None:
        col = Collector()
        _check_numbers(self, "methods", ("same_day_radius_km", "transfer_radius_km", "pickup_radius_km"), col)
        n = self.pickup_options
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            col.add("policy", "methods", "pickup_options", f"must be an integer >= 0, got {n!r}")
        col.raise_if_any()


@dataclass(frozen=True, slots=True)
class SubstitutePolicy:
    """Whether and how many substitutes are proposed for lines nothing can ship."""

    enabled: bool = True
    max_proposals: int = 3

    def __post_init__(self) -> None:
        col = Collector()
        if isinstance(self.max_proposals, bool) or not isinstance(self.max_proposals, int) or self.max_proposals < 0:
            col.add("policy", "substitutes", "max_proposals", f"must be an integer >= 0, got {self.max_proposals!r}")
        col.raise_if_any()


@dataclass(frozen=True, slots=True)
class VendorPolicy:
    """Marketplace vendor rules.

    Parameters
    ----------
    gateway_timeout_s : float
        How long a live availability check may take before the vendor is skipped.
    unreliability_penalty : float
        Planning cost per unit times ``1 - reliability`` of the vendor's offer.
    """

    gateway_timeout_s: float = 0.5
    unreliability_penalty: float = 5.0

    def __post_init__(self) -> None:
        col = Collector()
        _check_numbers(self, "vendors", ("gateway_timeout_s", "unreliability_penalty"), col)
        col.raise_if_any()


_SECTIONS = {"cost": CostModel, "stores": StorePolicy, "service": ServicePolicy, "methods": MethodPolicy,
             "substitutes": SubstitutePolicy, "vendors": VendorPolicy}


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
        About how many candidate nodes the ``cost`` strategy combines into 2-
        and 3-node splits: each line's cheapest sources first, then the
        cheapest nodes holding two lines whole, then the best-ranked rest.
        Single-node plans always consider every node with stock; the cap
        only bounds split enumeration.
    explain_top : int
        How many rejected candidates an explanation lists.
    tiers : tuple of Tier
        The sourcing chain, tried in order; each sees only what earlier
        tiers left. Default: own warehouses and stores by cost, then vendors.
    stores, service, methods, substitutes, vendors
        Sections of ``policy.toml`` with the same names.
    currency : str
        ISO 4217 code of every money figure (costs, fees, penalties, item
        prices); reports name it on their money axes and columns.
    """

    strategy: str = "cost"
    max_shipments: int = 3
    split_penalty: float = 0.0
    cost: CostModel = field(default_factory=CostModel)
    split_candidates: int = 32
    explain_top: int = 10
    tiers: tuple[Tier, ...] = DEFAULT_TIERS
    stores: StorePolicy = field(default_factory=StorePolicy)
    service: ServicePolicy = field(default_factory=ServicePolicy)
    methods: MethodPolicy = field(default_factory=MethodPolicy)
    substitutes: SubstitutePolicy = field(default_factory=SubstitutePolicy)
    vendors: VendorPolicy = field(default_factory=VendorPolicy)
    currency: str = "USD"

    def __post_init__(self) -> None:
        col = Collector()
        if self.strategy not in STRATEGIES:
            col.add("policy", None, "strategy", f"must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        for name, lo in (("max_shipments", 1), ("split_candidates", 3), ("explain_top", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                col.add("policy", None, name, f"must be an integer >= {lo}, got {v!r}")
        object.__setattr__(self, "tiers", tuple(self.tiers))
        names = [t.name for t in self.tiers]
        if not self.tiers:
            col.add("policy", None, "tiers", "at least one tier is needed")
        if len(set(names)) != len(names):
            col.add("policy", None, "tiers", f"tier names must be unique, got {names}")
        cur = self.currency
        if not isinstance(cur, str) or len(cur) != 3 or not (cur.isascii() and cur.isalpha() and cur.isupper()):
            col.add("policy", None, "currency", f"must be a three-letter ISO 4217 code such as USD, got {cur!r}")
        sp = self.split_penalty
        if isinstance(sp, bool) or not isinstance(sp, int | float) or not math.isfinite(sp) or sp < 0:
            col.add("policy", None, "split_penalty", f"must be a finite number >= 0, got {sp!r}")
        col.raise_if_any()

    def replace(self, **changes: Any) -> Policy:
        """Return a copy with some fields changed (validated again)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Policy(**values)

    def to_dict(self) -> dict[str, Any]:
        """The policy as ``policy.toml`` holds it: :meth:`from_dict` of the result is an equal policy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        """Build a policy from parsed TOML, rejecting unknown keys.

        Parameters
        ----------
        data : dict
            Top-level keys as in ``policy.toml``; each table (``[cost]``,
            ``[stores]``, ``[service]``, ``[methods]``, ``[substitutes]``,
            ``[vendors]``) maps to its dataclass, ``[[tiers]]`` to :class:`Tier`.
        """
        col = Collector()
        known = {f.name for f in fields(cls)}
        for key in sorted(set(data) - known):
            col.add("policy", None, key, "unknown key")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            section = _SECTIONS.get(key)
            if section is not None:
                if not isinstance(value, dict):
                    col.add("policy", None, key, "must be a table")
                    continue
                sec_known = {f.name for f in fields(section)}
                for sub in sorted(set(value) - sec_known):
                    col.add("policy", key, sub, "unknown key")
                try:
                    values[key] = section(**{k: v for k, v in value.items() if k in sec_known})
                except ValidationError as exc:
                    col.extend(exc.problems)
            elif key == "tiers":
                tiers = []
                tier_known = {f.name for f in fields(Tier)}
                for i, t in enumerate(value if isinstance(value, list) else []):
                    if not isinstance(t, dict):
                        col.add("policy", f"tiers[{i}]", "tier", "must be a table")
                        continue
                    for sub in sorted(set(t) - tier_known):
                        col.add("policy", f"tiers[{i}]", sub, "unknown key")
                    try:
                        tiers.append(Tier(**{k: v for k, v in t.items() if k in tier_known}))
                    except ValidationError as exc:
                        col.extend(exc.problems)
                    except TypeError as exc:
                        col.add("policy", f"tiers[{i}]", "tier", str(exc))
                if not isinstance(value, list):
                    col.add("policy", None, "tiers", "must be an array of tables [[tiers]]")
                values[key] = tuple(tiers)
            else:
                values[key] = value
        if col:
            col.raise_if_any()
        try:
            return cls(**values)
        except ValidationError as exc:
            col.extend(exc.problems)
            col.raise_if_any()
            raise


def load_policy(path: str | Path | None) -> Policy:
    """Read ``policy.toml``; a missing file gives the default policy."""
    if path is None:
        return Policy()
    p = Path(path)
    if not p.exists():
        return Policy()
    with p.open("rb") as fh:
        return Policy.from_dict(tomllib.load(fh))


# ----------------------------------------------------------------------------- writing TOML

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if hasattr(value, "item") and not isinstance(value, list | tuple | str):
        value = value.item()  # a numpy scalar
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # the shortest text that reads back as the same float
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(v, Mapping) for v in value)


def dump_toml(data: Mapping[str, Any]) -> str:
    """TOML text of nested mappings of scalars and lists (scalars before tables).

    A list of mappings becomes an array of tables (``[[tiers]]``); floats are
    written so that they read back exactly, infinities as ``inf``.
    """
    lines: list[str] = []

    def emit(table: Mapping[str, Any], prefix: tuple[str, ...], header: str) -> None:
        scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping) and not _is_table_array(v)]
        subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping) or _is_table_array(v)]
        if header and (scalars or not subtables or header.startswith("[[")):
            if lines:
                lines.append("")
            lines.append(header)
        for key, value in scalars:
            lines.append(f"{_toml_key(str(key))} = {_toml_value(value)}")
        for key, value in subtables:
            path = (*prefix, str(key))
            name = ".".join(_toml_key(p) for p in path)
            if isinstance(value, Mapping):
                emit(value, path, f"[{name}]")
            else:
                for item in value:
                    emit(item, path, f"[[{name}]]")

    emit(data, (), "")
    return "\n".join(lines) + "\n"


def dump_policy(policy: Policy) -> str:
    """``policy.toml`` text of ``policy``: :func:`load_policy` reads back an equal policy."""
    return dump_toml(policy.to_dict())
