"""Validation of whole tables at the boundary, reporting every bad row at once.

Each ``*_from_frame`` function checks a pandas DataFrame column by column
with vectorised tests, collects every problem, and raises one
:class:`~sourcewise.models.errors.ValidationError` before building anything.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sourcewise.models.errors import Collector
from sourcewise.models.inventory import Inventory
from sourcewise.models.limits import MAX_COUNT
from sourcewise.models.limits import MAX_DAYS
from sourcewise.models.limits import MAX_PRIORITY
from sourcewise.models.limits import MAX_QTY
from sourcewise.models.network import Network
from sourcewise.models.node import Node
from sourcewise.models.node import NodeKind
from sourcewise.models.sku import Sku

NODE_DEFAULTS: dict[str, object] = {
    "priority": 0,
    "ships": True,
    "pickup": False,
    "handling_per_shipment": 0.0,
    "handling_per_unit": 0.0,
    "processing_days": 0,
    "fee_rate": 0.0,
    "enabled": True,
}

_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def require_columns(df: pd.DataFrame, table: str, columns: tuple[str, ...], col: Collector) -> bool:
    missing = [c for c in columns if c not in df.columns]
    for c in missing:
        col.add(table, None, c, "required column is missing")
    return not missing


def _labels(df: pd.DataFrame) -> np.ndarray:
    return np.arange(len(df))


def numeric_column(df: pd.DataFrame, table: str, name: str, col: Collector, *, lo: float | None = None,
             hi: float | None = None, integer: bool = False, positive: bool = False,
             default: float | None = None) -> np.ndarray:
    """Column as float64 with every non-numeric, NaN or out-of-range row reported."""
    if name not in df.columns:
        return np.full(len(df), np.nan if default is None else default, dtype=np.float64)
    raw = df[name]
    vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(vals)
    missing = np.zeros(len(vals), dtype=bool)
    if default is not None:
        missing = raw.isna().to_numpy()
        vals = np.where(missing, default, vals)
        bad &= ~missing
    for i in np.flatnonzero(bad):
        col.add(table, int(i), name, f"must be a number, got {shown(raw.iloc[i])}")
    ok = ~bad & ~missing
    checks = []
    if integer:
        checks.append((ok & (vals != np.round(vals)), "must be an integer"))
    if positive:
        checks.append((ok & (vals <= 0), "must be > 0"))
    if lo is not None:
        checks.append((ok & (vals < lo), f"must be >= {_bound(lo)}"))
    if hi is not None:
        checks.append((ok & (vals > hi), f"must be <= {_bound(hi)}"))
    for mask, msg in checks:
        for i in np.flatnonzero(mask):
            col.add(table, int(i), name, f"{msg}, got {shown(raw.iloc[i])}")
    return vals


def _bound(x: float) -> str:
    """A bound as a person writes it: ``1099511627776``, not ``1.09951e+12``."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def shown(v: object) -> str:
    """A cell as a person reads it in a message: ``0``, not numpy's ``np.int64(0)``; a timestamp as
    ``2024-03-05T09:00:00``; an empty or NA cell as ``a missing value``."""
    if isinstance(v, np.datetime64 | pd.Timestamp):
        return "a missing value" if pd.isna(v) else str(pd.Timestamp(v).isoformat())
    if v is None or v is pd.NA or (isinstance(v, float | np.floating) and np.isnan(v)):
        return "a missing value"
    return repr(v.item() if isinstance(v, np.generic) else v)


def _boolean(df: pd.DataFrame, table: str, name: str, default: bool, col: Collector) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), default, dtype=np.bool_)
    out = np.empty(len(df), dtype=np.bool_)
    for i, v in enumerate(df[name].tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out[i] = default
        elif isinstance(v, bool | np.bool_):
            out[i] = bool(v)
        elif isinstance(v, int | np.integer) and v in (0, 1):
            out[i] = bool(v)
        elif isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
            out[i] = v.strip().lower() in _TRUE
        else:
            col.add(table, i, name, f"must be true or false, got {shown(v)}")
            out[i] = default
    return out


def _ids(df: pd.DataFrame, table: str, name: str, col: Collector, *, unique: bool) -> np.ndarray:
    raw = df[name]
    empty = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    for i in np.flatnonzero(empty):
        col.add(table, int(i), name, "must not be empty")
    ids = raw.astype(str).to_numpy(dtype=object)
    if unique:
        dup = pd.Series(ids).duplicated(keep="first").to_numpy() & ~empty
        for i in np.flatnonzero(dup):
            col.add(table, int(i), name, f"duplicate {name} {ids[i]!r}")
    return ids


def nodes_from_frame(df: pd.DataFrame) -> tuple[Node, ...]:
    """Nodes from a ``nodes`` table (every problem reported together)."""
    col = Collector()
    if not require_columns(df, "nodes", ("node_id", "kind", "lat", "lon"), col):
        col.raise_if_any()
    ids = _ids(df, "nodes", "node_id", col, unique=True)
    kinds = df["kind"].astype(str).str.strip().str.lower().to_numpy(dtype=object)
    valid_kinds = {k.value for k in NodeKind}
    for i, k in enumerate(kinds):
        if k not in valid_kinds:
            col.add("nodes", i, "kind", f"must be warehouse, store or vendor, got {df['kind'].iloc[i]!r}")
    lat = numeric_column(df, "nodes", "lat", col, lo=-90, hi=90)
    lon = numeric_column(df, "nodes", "lon", col, lo=-180, hi=180)
    prio = numeric_column(df, "nodes", "priority", col, lo=-MAX_PRIORITY, hi=MAX_PRIORITY, integer=True, default=0)
    hs = numeric_column(df, "nodes", "handling_per_shipment", col, lo=0, default=0.0)
    hu = numeric_column(df, "nodes", "handling_per_unit", col, lo=0, default=0.0)
    pdays = numeric_column(df, "nodes", "processing_days", col, lo=0, hi=MAX_DAYS, integer=True, default=0)
    fee = numeric_column(df, "nodes", "fee_rate", col, lo=0, hi=0.999999, default=0.0)
    cutoff = numeric_column(df, "nodes", "cutoff_hour", col, lo=0, hi=24, default=24.0)
    cap_o = numeric_column(df, "nodes", "capacity_orders", col, lo=0, hi=MAX_QTY, integer=True, default=-1)
    cap_u = numeric_column(df, "nodes", "capacity_units", col, lo=0, hi=MAX_QTY, integer=True, default=-1)
    protect = numeric_column(df, "nodes", "protect_units", col, lo=0, hi=MAX_QTY, integer=True, default=-1)
    region = (df["region"].fillna("").astype(str).to_numpy(dtype=object) if "region" in df.columns
              else np.full(len(df), "", dtype=object))
    ships = _boolean(df, "nodes", "ships", True, col)
    pickup = _boolean(df, "nodes", "pickup", False, col)
    enabled = _boolean(df, "nodes", "enabled", True, col)
    col.raise_if_any()
    return tuple(
        Node(
            node_id=ids[i], kind=NodeKind(kinds[i]), lat=float(lat[i]), lon=float(lon[i]),
            priority=int(prio[i]), ships=bool(ships[i]), pickup=bool(pickup[i]),
            handling_per_shipment=float(hs[i]), handling_per_unit=float(hu[i]),
            processing_days=int(pdays[i]), fee_rate=float(fee[i]), enabled=bool(enabled[i]),
            region=region[i], cutoff_hour=float(cutoff[i]),
            capacity_orders=None if cap_o[i] < 0 else int(cap_o[i]),
            capacity_units=None if cap_u[i] < 0 else int(cap_u[i]),
            protect_units=None if protect[i] < 0 else int(protect[i]),
        )
        for i in range(len(df))
    )


def skus_from_frame(df: pd.DataFrame) -> tuple[Sku, ...]:
    """SKUs from a ``skus`` table."""
    col = Collector()
    if not require_columns(df, "skus", ("sku",), col):
        col.raise_if_any()
    ids = _ids(df, "skus", "sku", col, unique=True)
    weight = numeric_column(df, "skus", "weight_kg", col, lo=0, default=0.0)
    price = numeric_column(df, "skus", "price", col, lo=0, default=0.0)
    col.raise_if_any()
    return tuple(Sku(ids[i], float(weight[i]), float(price[i])) for i in range(len(df)))


def _lookup(ids: np.ndarray, index: dict[str, int]) -> np.ndarray:
    return np.fromiter((index.get(x, -1) for x in ids), dtype=np.int64, count=len(ids))


def node_sku_pairs(network: Network, df: pd.DataFrame, table: str, col: Collector) -> tuple[np.ndarray, np.ndarray]:
    """Node and SKU positions of a ``node_id, sku`` table (-1 where empty or unknown, each reported)."""
    node_ids = _ids(df, table, "node_id", col, unique=False)
    skus = _ids(df, table, "sku", col, unique=False)
    node = _lookup(node_ids, network.node_index)
    sku = _lookup(skus, network.sku_index)
    for i in np.flatnonzero(node < 0):
        if node_ids[i].strip():
            col.add(table, int(i), "node_id", f"unknown node {node_ids[i]!r}")
    for i in np.flatnonzero(sku < 0):
        if skus[i].strip():
            col.add(table, int(i), "sku", f"unknown sku {skus[i]!r}")
    return node, sku


def repeated_pairs(network: Network, node: np.ndarray, sku: np.ndarray, table: str, col: Collector) -> None:
    """Report every row that repeats the (node, SKU) pair of an earlier one."""
    dup = pd.DataFrame({"n": node, "s": sku}).duplicated().to_numpy() & (node >= 0) & (sku >= 0)
    for i in np.flatnonzero(dup):
        col.add(table, int(i), "node_id/sku", f"duplicate row for node {network.nodes[node[i]].node_id!r} "
                                               f"and sku {network.skus[sku[i]].sku!r}")


def inventory_from_frame(network: Network, df: pd.DataFrame) -> Inventory:
    """Inventory from an ``inventory`` table (``node_id, sku, on_hand[, safety_stock, reserved]``).

    Every count is an integer in ``[0, MAX_QTY]``; ``reserved`` may not exceed
    ``on_hand`` (``safety_stock`` may: available-to-promise floors at 0); a
    (node, SKU) pair appears once.
    """
    col = Collector()
    if not require_columns(df, "inventory", ("node_id", "sku", "on_hand"), col):
        col.raise_if_any()
    node, sku = node_sku_pairs(network, df, "inventory", col)
    repeated_pairs(network, node, sku, "inventory", col)
    on_hand = numeric_column(df, "inventory", "on_hand", col, lo=0, hi=MAX_QTY, integer=True)
    safety = numeric_column(df, "inventory", "safety_stock", col, lo=0, hi=MAX_QTY, integer=True, default=0)
    reserved = numeric_column(df, "inventory", "reserved", col, lo=0, hi=MAX_QTY, integer=True, default=0)
    for i in np.flatnonzero((reserved > on_hand) & (on_hand >= 0)):  # a bad on_hand is reported already
        col.add("inventory", int(i), "reserved", f"{reserved[i]:.0f} reserved is more than {on_hand[i]:.0f} on hand")
    col.raise_if_any()
    return Inventory.from_arrays(
        network, node, sku, on_hand.astype(np.int64), safety.astype(np.int64), reserved.astype(np.int64)
    )


# Optional tables keyed by (node, SKU): their numeric columns and the checks of each
PAIR_TABLES: dict[str, dict[str, dict[str, object]]] = {
    "walkin": {"walkin_daily_demand": {"lo": 0}},
    "replenishment": {"day": {"lo": 0, "hi": MAX_DAYS, "integer": True},
                      "qty": {"lo": 0, "hi": MAX_QTY, "integer": True}},
}


def check_pair_table(network: Network, df: pd.DataFrame, table: str) -> None:
    """Validate a ``walkin`` or ``replenishment`` table against ``network``.

    ``walkin`` is ``node_id, sku, walkin_daily_demand`` (a finite number >= 0,
    one row per pair); ``replenishment`` is ``node_id, sku, day, qty``
    (integers, ``day`` in ``[0, MAX_DAYS]``, ``qty`` in ``[0, MAX_QTY]``;
    several receipts of one pair may share a day).

    Raises
    ------
    ValidationError
        Listing every missing column, empty or unknown id, repeated walk-in
        pair and bad number.
    """
    col = Collector()
    spec = PAIR_TABLES[table]
    if not require_columns(df, table, ("node_id", "sku", *spec), col):
        col.raise_if_any()
    node, sku = node_sku_pairs(network, df, table, col)
    if table == "walkin":
        repeated_pairs(network, node, sku, table, col)
    for name, checks in spec.items():
        numeric_column(df, table, name, col, **checks)  # type: ignore[arg-type]
    col.raise_if_any()


@dataclass(frozen=True, eq=False)
class OrderBatch:
    """Many orders in columnar form, lines grouped by order.

    Order ``o`` owns lines ``line_ptr[o]:line_ptr[o+1]``; ``sku`` holds
    positions in the network's SKU list. ``max_shipments`` is -1 where the
    order sets none. ``method`` and ``pickup_node`` are per line (object
    arrays, ``pickup_node`` holds node positions, -1 for none);
    ``service_level``, ``channel``, ``placed_at`` (datetime64[s], NaT when
    unknown) and ``allow_substitutes`` per order. ``None`` means the column
    was absent: every line ships, standard service, channel ``web``.
    """

    order_id: np.ndarray
    line_ptr: np.ndarray
    line_id: np.ndarray
    sku: np.ndarray
    qty: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    allow_split: np.ndarray
    max_shipments: np.ndarray
    method: np.ndarray | None = None
    pickup_node: np.ndarray | None = None
    service_level: np.ndarray | None = None
    channel: np.ndarray | None = None
    placed_at: np.ndarray | None = None
    allow_substitutes: np.ndarray | None = None

    @property
    def n_orders(self) -> int:
        return len(self.order_id)

    def slice(self, lo: int, hi: int) -> OrderBatch:
        """Orders ``lo:hi`` as a batch of their own, optional columns included."""
        hi = min(hi, self.n_orders)
        a, b = int(self.line_ptr[lo]), int(self.line_ptr[hi])
        return self._select(slice(lo, hi), self.line_ptr[lo:hi + 1] - a, slice(a, b))

    def take(self, idx: np.ndarray) -> OrderBatch:
        """Orders ``idx`` (positions, in any order) as a batch of their own, optional columns included."""
        idx = np.asarray(idx, np.int64)
        lo, hi = self.line_ptr[idx], self.line_ptr[idx + 1]
        cnt = hi - lo
        ptr = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(cnt, out=ptr[1:])
        lines = np.repeat(lo - ptr[:-1], cnt) + np.arange(int(ptr[-1]), dtype=np.int64)
        return self._select(idx, ptr, lines)

    def _select(self, orders, line_ptr: np.ndarray, lines) -> OrderBatch:
        """The batch of the orders and lines that ``orders`` and ``lines`` index, with ``line_ptr``."""

        def per_order(x):
            return None if x is None else x[orders]

        def per_line(x):
            return None if x is None else x[lines]

        return OrderBatch(
            order_id=self.order_id[orders],
            line_ptr=line_ptr,
            line_id=self.line_id[lines],
            sku=self.sku[lines],
            qty=self.qty[lines],
            lat=self.lat[orders],
            lon=self.lon[orders],
            allow_split=self.allow_split[orders],
            max_shipments=self.max_shipments[orders],
            method=per_line(self.method),
            pickup_node=per_line(self.pickup_node),
            service_level=per_order(self.service_level),
            channel=per_order(self.channel),
            placed_at=per_order(self.placed_at),
            allow_substitutes=per_order(self.allow_substitutes),
        )

    @property
    def n_lines(self) -> int:
        return len(self.line_id)


def orders_from_frame(network: Network, df: pd.DataFrame) -> OrderBatch:
    """Orders from a line-level ``orders`` table.

    Lines of one order must be contiguous and agree on the destination and
    order-level flags; line ids must be unique within their order.
    """
    col = Collector()
    if not require_columns(df, "orders", ("order_id", "line_id", "sku", "qty", "lat", "lon"), col):
        col.raise_if_any()
    oid = _ids(df, "orders", "order_id", col, unique=False)
    lid = _ids(df, "orders", "line_id", col, unique=False)
    skus = _ids(df, "orders", "sku", col, unique=False)
    sku = _lookup(skus, network.sku_index)
    for i in np.flatnonzero(sku < 0):
        if skus[i].strip():
            col.add("orders", int(i), "sku", f"unknown sku {skus[i]!r}")
    # bounded, so that the cast to int64 below cannot wrap (1e19 would)
    qty = numeric_column(df, "orders", "qty", col, integer=True, positive=True, hi=MAX_QTY)
    lat = numeric_column(df, "orders", "lat", col, lo=-90, hi=90)
    lon = numeric_column(df, "orders", "lon", col, lo=-180, hi=180)
    allow = _boolean(df, "orders", "allow_split", True, col)
    maxs = numeric_column(df, "orders", "max_shipments", col, integer=True, positive=True, hi=MAX_COUNT, default=-1)
    n = len(df)
    starts = np.ones(n, dtype=bool)
    if n:
        starts[1:] = oid[1:] != oid[:-1]
    first = np.flatnonzero(starts)
    line_ptr = np.append(first, n).astype(np.int64)
    order_ids = oid[first]
    seen_orders = pd.Series(order_ids).duplicated().to_numpy()
    for j in np.flatnonzero(seen_orders):
        col.add("orders", int(first[j]), "order_id",
                f"lines of order {order_ids[j]!r} must be contiguous (order appears twice)")
    dup_line = pd.DataFrame({"o": oid, "l": lid}).duplicated().to_numpy()
    for i in np.flatnonzero(dup_line):
        col.add("orders", int(i), "line_id", f"duplicate line_id {lid[i]!r} in order {oid[i]!r}")
    owner = np.repeat(np.arange(len(first)), np.diff(line_ptr))
    # a line out of range on its own is reported already: only valid lines add up
    units = np.bincount(owner, weights=np.where((qty > 0) & (qty <= MAX_QTY), qty, 0), minlength=len(first))
    for j in np.flatnonzero(units > MAX_QTY):
        col.add("orders", int(first[j]), "qty",
                f"the lines of order {order_ids[j]!r} add up to {units[j]:.0f} units, more than {MAX_QTY}")
    for name, arr in (("lat", lat), ("lon", lon), ("allow_split", allow), ("max_shipments", maxs)):
        _agree(name, arr, line_ptr, owner, oid, col)
    extra = _order_extras(network, df, oid, line_ptr, owner, col)
    col.raise_if_any()
    starts_idx = line_ptr[:-1]
    return OrderBatch(
        order_id=order_ids,
        line_ptr=line_ptr,
        line_id=lid,
        sku=sku,
        qty=qty.astype(np.int64),
        lat=lat[starts_idx].copy(),
        lon=lon[starts_idx].copy(),
        allow_split=allow[starts_idx].copy(),
        max_shipments=maxs[starts_idx].astype(np.int64),
        **extra,
    )


def _agree(name: str, arr: np.ndarray, line_ptr: np.ndarray, owner: np.ndarray, oid: np.ndarray,
           col: Collector) -> None:
    """Report every line whose order-level ``name`` differs from its order's first line."""
    if not len(arr):
        return
    head = arr[line_ptr[:-1]][owner]
    differs = head != arr
    if arr.dtype.kind == "f":
        differs &= ~(np.isnan(head) & np.isnan(arr))
    elif arr.dtype.kind == "M":
        differs &= ~(np.isnat(head) & np.isnat(arr))
    for i in np.flatnonzero(differs):
        col.add("orders", int(i), name, f"differs from the first line of order {oid[i]!r} "
                                        f"({shown(arr[i])} here, {shown(head[i])} there)")


def _text(df: pd.DataFrame, name: str, default: str) -> np.ndarray:
    """A text column, stripped, with ``default`` for empty and missing cells."""
    v = df[name].fillna("").astype(str).str.strip()
    return v.where(v != "", default).to_numpy(dtype=object)


def _order_extras(network: Network, df: pd.DataFrame, oid: np.ndarray, line_ptr: np.ndarray,
                  owner: np.ndarray, col: Collector) -> dict[str, np.ndarray | None]:
    """Optional omnichannel columns of the orders table, validated.

    ``method`` and ``pickup_node`` are per line (a store is named by pickup
    lines only); ``service_level``, ``channel``, the timestamp and
    ``allow_substitutes`` are per order, so all lines of an order must agree.
    """
    from sourcewise.models.order import METHODS
    from sourcewise.models.order import SERVICE_LEVELS

    out: dict[str, np.ndarray | None] = {}
    n = len(df)
    starts = line_ptr[:-1]
    if "method" in df.columns:
        method = _text(df, "method", "ship")
        for i in np.flatnonzero(~np.isin(method, METHODS)):
            col.add("orders", int(i), "method", f"must be one of {', '.join(METHODS)}, got {method[i]!r}")
        out["method"] = method
    else:
        method = np.full(n, "ship", dtype=object)
    if "pickup_node" in df.columns:
        names = _text(df, "pickup_node", "")
        idx = np.fromiter((network.node_index.get(x, -1) if x else -1 for x in names), np.int64, count=n)
        for i in np.flatnonzero((names != "") & (idx < 0)):
            col.add("orders", int(i), "pickup_node", f"unknown node {names[i]!r}")
        for i in np.flatnonzero((method == "pickup") & (names == "")):
            col.add("orders", int(i), "pickup_node", "a pickup line must name the store")
        for i in np.flatnonzero((method != "pickup") & np.isin(method, METHODS) & (names != "")):
            col.add("orders", int(i), "pickup_node",
                    f"only pickup lines name a store; this line is {method[i]!r}, so leave pickup_node empty")
        out["pickup_node"] = idx
    elif (method == "pickup").any():
        for i in np.flatnonzero(method == "pickup"):
            col.add("orders", int(i), "pickup_node", "a pickup line must name the store (column missing)")
    if "service_level" in df.columns:
        lvl = _text(df, "service_level", "standard")
        for i in np.flatnonzero(~np.isin(lvl, SERVICE_LEVELS)):
            col.add("orders", int(i), "service_level",
                    f"must be one of {', '.join(SERVICE_LEVELS)}, got {lvl[i]!r}")
        _agree("service_level", lvl, line_ptr, owner, oid, col)
        out["service_level"] = lvl[starts]
    if "channel" in df.columns:
        channel = _text(df, "channel", "web")
        _agree("channel", channel, line_ptr, owner, oid, col)
        out["channel"] = channel[starts]
    for name in ("placed_at", "created_at"):
        if name in df.columns:
            with warnings.catch_warnings():
                # cells that are no timestamp are reported below; pandas need not warn about them
                warnings.simplefilter("ignore", UserWarning)
                ts = pd.to_datetime(df[name], errors="coerce")
                bad = ts.isna().to_numpy() & df[name].notna().to_numpy()
                # pandas reads the column in the form of its first cell: a timestamp written another
                # way (with or without a time zone, another format) reads as none
                other = (pd.to_datetime(df[name], errors="coerce", format="mixed", utc=True).notna().to_numpy()
                         & bad if bad.any() else bad)
            for i in np.flatnonzero(other):
                col.add("orders", int(i), name, "is written differently from the column's first timestamp "
                                                "(time zone or format): write them all one way")
            for i in np.flatnonzero(bad & ~other):
                col.add("orders", int(i), name, f"must be a timestamp, got {shown(df[name].iloc[i])}")
            if ts.dt.tz is not None:
                ts = ts.dt.tz_localize(None)
            placed = ts.to_numpy(dtype="datetime64[s]")
            _agree(name, placed, line_ptr, owner, oid, col)
            out["placed_at"] = placed[starts]
            break
    if "allow_substitutes" in df.columns:
        subs = _boolean(df, "orders", "allow_substitutes", True, col)
        _agree("allow_substitutes", subs, line_ptr, owner, oid, col)
        out["allow_substitutes"] = subs[starts]
    return out


def network_from_frames(nodes: pd.DataFrame, skus: pd.DataFrame) -> Network:
    """Validate both tables, reporting problems of both in one error."""
    col = Collector()
    parts: list = []
    for fn, df in ((nodes_from_frame, nodes), (skus_from_frame, skus)):
        try:
            parts.append(fn(df))
        except Exception as exc:  # noqa: BLE001 - only ValidationError carries problems
            problems = getattr(exc, "problems", None)
            if problems is None:
                raise
            col.extend(problems)
    col.raise_if_any()
    return Network.build(parts[0], parts[1])
