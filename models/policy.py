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
from sourcewise.models.errors import Problem
from sourcewise.models.errors import SelfChecking
from sourcewise.models.errors import ValidationError
from sourcewise.models.errors import check_non_negative_fields
from sourcewise.models.errors import suggest
from sourcewise.models.limits import MAX_COUNT
from sourcewise.models.limits import MAX_DAYS
from sourcewise.models.limits import MAX_QTY

STRATEGIES: tuple[str, ...] = ("cost", "priority", "nearest", "high_stock", "dual")


@dataclass(frozen=True, slots=True)
class CostModel(SelfChecking):
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

    def validate_into(self, col: Collector) -> None:
        """Append every problem of the cost model (each rate a finite number >= 0) to ``col``."""
        check_non_negative_fields(self, col, "policy", "cost")


def _is_number(v: object) -> bool:
    """A TOML number: ``int`` or ``float`` but not ``bool``."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_numbers(obj, section: str, names: tuple[str, ...], col: Collector, *, allow_inf: bool = False,
                   hi: float | None = None) -> None:
    """Report each of ``names`` that is not a number ``>= 0`` (finite unless ``allow_inf``; at most ``hi``)."""
    for name in names:
        v = getattr(obj, name)
        ok = _is_number(v) and not math.isnan(v) and v >= 0 and (allow_inf or math.isfinite(v))
        if not ok or (hi is not None and v > hi):
            rng = ">= 0" if hi is None else f"in [0, {hi:g}]"
            col.add("policy", section, name, f"must be a number {rng}, got {v!r}")


def _check_int(col: Collector, section: str | None, name: str, v: object, lo: int, hi: int) -> None:
    """Report ``v`` unless it is an integer in ``[lo, hi]``."""
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        col.add("policy", section, name, f"must be an integer in [{lo}, {hi}], got {v!r}")


def _check_bool(col: Collector, section: str, name: str, v: object) -> None:
    """Report ``v`` unless it is ``true`` or ``false`` (a string such as ``"no"`` is not)."""
    if not isinstance(v, bool):
        col.add("policy", section, name, f"must be true or false, got {v!r}")


def _strings(col: Collector, section: str, name: str, v: object) -> tuple[str, ...] | None:
    """``v`` as a tuple of strings, or ``None`` (and a problem) when it is not a list of strings."""
    if isinstance(v, list | tuple) and all(isinstance(x, str) for x in v):
        return tuple(v)
    col.add("policy", section, name, f"must be a list of strings, got {v!r}")
    return None


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
        col = Collector()
        for name in ("kinds", "regions", "channels"):
            got = _strings(col, f"tiers.{self.name}", name, getattr(self, name))
            if got is not None:
                object.__setattr__(self, name, got)
        if not isinstance(self.name, str) or not self.name:
            col.add("policy", "tiers", "name", "every tier needs a name")
        kinds = self.kinds
        if isinstance(kinds, tuple) and (not kinds or any(k not in ("warehouse", "store", "vendor") for k in kinds)):
            col.add("policy", f"tiers.{self.name}", "kinds", f"must list warehouse, store or vendor, got {list(kinds)!r}")
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
        ``protect_units`` overrides it); at most
        :data:`~sourcewise.models.limits.MAX_QTY`.
    protect_days : float
        Also keep this many days of the store×SKU's walk-in demand (at most
        :data:`~sourcewise.models.limits.MAX_DAYS`).
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
        _check_int(col, "stores", "protect_units", self.protect_units, 0, MAX_QTY)
        _check_numbers(self, "stores", ("protect_days",), col, hi=MAX_DAYS)
        _check_numbers(self, "stores", ("depletion_weight",), col)
        col.raise_if_any()


@dataclass(frozen=True, slots=True)
class ServicePolicy:
    """Promise dates and service levels.

    Parameters
    ----------
    transit_bands : tuple of (km, days)
        Transit days for a parcel travelling at most ``km``; ascending, days
        at most :data:`~sourcewise.models.limits.MAX_DAYS`.
    standard_days, express_days, next_day_days : float
        Delivery deadline per service level, in days (at most
        :data:`~sourcewise.models.limits.MAX_DAYS`); a negative value means none.
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
        col = Collector()
        bands = self.transit_bands
        shaped = isinstance(bands, list | tuple) and bool(bands) and all(
            isinstance(b, list | tuple) and len(b) == 2 and all(_is_number(x) and math.isfinite(x) for x in b)
            for b in bands)
        if not shaped or any(b[0] <= 0 or not 0 <= b[1] <= MAX_DAYS for b in bands):
            col.add("policy", "service", "transit_bands",
                    f"must be [[km, days], ...] with km > 0 and days in [0, {MAX_DAYS}], got {bands!r}")
        else:
            bands = tuple((float(km), float(days)) for km, days in bands)
            object.__setattr__(self, "transit_bands", bands)
            if any(bands[i][0] >= bands[i + 1][0] for i in range(len(bands) - 1)):
                col.add("policy", "service", "transit_bands", "distances must ascend")
        for name in ("standard_days", "express_days", "next_day_days"):
            v = getattr(self, name)
            if not (_is_number(v) and math.isfinite(v) and v <= MAX_DAYS):
                col.add("policy", "service", name,
                        f"must be a number of days <= {MAX_DAYS} (negative: no deadline), got {v!r}")
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
        _check_bool(col, "methods", "pickup_transfer", self.pickup_transfer)
        col.raise_if_any()


@dataclass(frozen=True, slots=True)
class SubstitutePolicy:
    """Whether and how many substitutes are proposed for lines nothing can ship."""

    enabled: bool = True
    max_proposals: int = 3

    def __post_init__(self) -> None:
        col = Collector()
        _check_bool(col, "substitutes", "enabled", self.enabled)
        _check_int(col, "substitutes", "max_proposals", self.max_proposals, 0, MAX_COUNT)
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

    Notes
    -----
    ``max_shipments``, ``split_candidates`` and ``explain_top`` are integers
    of at most :data:`~sourcewise.models.limits.MAX_COUNT`; every problem
    of a policy is reported in one :class:`ValidationError`.
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
            _check_int(col, None, name, getattr(self, name), lo, MAX_COUNT)
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

        Raises
        ------
        ValidationError
            Listing every problem of every section at once: unknown keys (with
            the known key they look like a misspelling of), values of the wrong
            type and values out of range. Tier problems are named
            ``tiers[i]``, ``i`` counting the ``[[tiers]]`` tables from 0.
        """
        col = Collector()
        known = [f.name for f in fields(cls)]
        for key in sorted(set(data) - set(known)):
            col.add("policy", None, key, "unknown key" + suggest(key, known))
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue
            section = _SECTIONS.get(key)
            if section is not None:
                if not isinstance(value, dict):
                    col.add("policy", None, key, f"must be a table [{key}]")
                    continue
                part = _build(section, value, key, col)
                if part is not None:
                    values[key] = part
            elif key == "tiers":
                if not isinstance(value, list):
                    col.add("policy", None, "tiers", "must be an array of tables [[tiers]]")
                    continue
                tiers = []
                for i, t in enumerate(value):
                    if not isinstance(t, dict):
                        col.add("policy", f"tiers[{i}]", "tier", "must be a table")
                        continue
                    tier = _build(Tier, t, f"tiers[{i}]", col)
                    if tier is not None:
                        tiers.append(tier)
                if len(tiers) == len(value):
                    values[key] = tuple(tiers)
            else:
                values[key] = value
        # the top-level keys are checked even when a section failed: every problem in one report
        try:
            policy = cls(**values)
        except ValidationError as exc:
            col.extend(exc.problems)
        col.raise_if_any()
        return policy


def _build(kind: type, value: dict[str, Any], section: str, col: Collector) -> Any:
    """``kind(**value)`` for one TOML table named ``section``, or ``None`` with its problems in ``col``.

    Unknown keys are reported (with a suggestion) and left out; the object's
    own problems are reported under ``section``.
    """
    names = [f.name for f in fields(kind)]
    for sub in sorted(set(value) - set(names)):
        col.add("policy", section, sub, "unknown key" + suggest(sub, names))
    given = {k: v for k, v in value.items() if k in names}
    if kind is Tier:
        given.setdefault("name", "")  # reported as a tier without a name, with the tier's other problems
    try:
        return kind(**given)
    except ValidationError as exc:
        col.extend(Problem(p.table, section, p.field, p.reason) for p in exc.problems)
    return None


# `[section]` / `[[section]]` headers and `key =` lines of a TOML file (bare or quoted keys, dotted)
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def key_lines(text: str) -> dict[tuple[str | None, str | None], int]:
    """Line (1-based) of every key of a TOML document, for pointing at a problem.

    Keys are ``(section, key)``: ``(None, "strategy")`` at the top,
    ``("service", "late")`` in ``[service]``, ``("tiers[1]", "kinds")`` in the
    second ``[[tiers]]``; ``(section, None)`` is the section's header line.
    A dotted key (``service.late = ...``) counts as its section's key. Lines
    inside multi-line strings or arrays that look like keys are rare enough
    in a policy to be ignored.
    """
    out: dict[tuple[str | None, str | None], int] = {}
    section: str | None = None
    arrays: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if m := _HEADER.match(line):
            name = m.group(2).replace(" ", "")
            if m.group(1) == "[[":
                i = arrays.get(name, -1) + 1
                arrays[name] = i
                name = f"{name}[{i}]"
            section = name
            out.setdefault((section, None), n)
        elif m := _KEY.match(line):
            parts = [x.strip().strip("\"'") for x in m.group(1).split(".")]
            sec = section if len(parts) == 1 else ".".join(([section] if section else []) + parts[:-1])
            out.setdefault((sec, parts[-1]), n)
    return out


def _line_of(p: Problem, lines: dict[tuple[str | None, str | None], int]) -> int | None:
    """The line ``p`` is about, or ``None``: its key, else its section's header."""
    section = p.row if isinstance(p.row, str) else None
    for key in ((section, p.field), (section, None), (p.field, None), (f"{p.field}[0]", None)):
        if key in lines:
            return lines[key]
    return None


def load_policy(path: str | Path | None) -> Policy:
    """Read ``policy.toml``; a missing file gives the default policy.

    Raises
    ------
    ValidationError
        Naming the file and line of every problem: a file that cannot be
        read or is not UTF-8, a TOML syntax error, and every unknown key or
        bad value (see :meth:`Policy.from_dict`).
    """
    if path is None:
        return Policy()
    p = Path(path)
    if not p.exists():
        return Policy()
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ValidationError([Problem("policy", None, "", f"cannot be read ({exc.strerror or exc})",
                                       where=str(p))]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ValidationError([Problem("policy", None, "", f"is not UTF-8 text (byte 0x{raw[exc.start]:02x})",
                                       where=f"{p}:{line}")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)|\(at end of document\)", str(exc))
        line = (m.group(1) or text.count("\n") + 1) if m else None
        where = f"{p}:{line}" if line else str(p)
        raise ValidationError([Problem("policy", None, "", f"is not valid TOML: {exc}", where=where)]) from None
    try:
        return Policy.from_dict(data)
    except ValidationError as exc:
        lines = key_lines(text)
        located = []
        for q in exc.problems:
            n = _line_of(q, lines)
            field = f"{q.row}.{q.field}" if isinstance(q.row, str) and q.field else (q.row or q.field)
            located.append((n or 0, Problem(q.table, q.row, field, q.reason, where=f"{p}:{n}" if n else str(p))))
        located.sort(key=lambda x: x[0])
        raise ValidationError([q for _, q in located]) from None


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
