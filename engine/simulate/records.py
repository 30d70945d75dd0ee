"""What a replayed day adds beyond the router's own figures: the planner's per-order and per-node records.

:class:`Recorder` belongs to one strategy's replay. Each day it is handed
what shipped (the day's order and allocation arrays) and, once everything
has shipped, the independent ledger; from them it adds the day's sales
value, perfect orders, order processing time, end-of-day stock and
stock-outs, open backorders and node workload to the day's sums, and keeps
the per-order and per-allocation records the KPIs can be recomputed from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sourcewise.engine.geography import GeoCheck
from sourcewise.engine.simulate.config import KINDS
from sourcewise.engine.simulate.config import MINUTES_PER_DAY
from sourcewise.engine.simulate.config import StrategySpec
from sourcewise.engine.simulate.prepare import Prepared
from sourcewise.models.network import UNLIMITED
from sourcewise.models.node import KIND_CODES
from sourcewise.models.node import NodeKind
from sourcewise.models.policy import Policy

_STORE = KIND_CODES[NodeKind.STORE]
_ROUTED = 0  # status code of a fully routed order (routed._STATUS_CODES)


@dataclass(frozen=True, eq=False)
class Shipped:
    """One day's shipped orders and allocations as arrays (the day's orders sit at positions ``lo..hi``).

    Attributes
    ----------
    pos, status, units, unfilled, shipments : ndarray
        Per order row, as in :class:`~sourcewise.engine.simulate.routed.RoutedRows`.
    money : ndarray, shape (7, n)
        ``cost, shipping, handling, vendor_fees, split_penalty, penalties, distance_km``.
    promised : ndarray of float
        Promised days including the re-sourcing delay.
    on_time : ndarray of bool
        Promise within the service level's (for orders that shipped).
    rerouted : ndarray of bool
    sla : ndarray of float
        The service level's promise in days.
    a_pos, a_node, a_sku, a_qty : ndarray
        Per allocation row.
    """

    pos: np.ndarray
    status: np.ndarray
    units: np.ndarray
    unfilled: np.ndarray
    shipments: np.ndarray
    money: np.ndarray
    promised: np.ndarray
    on_time: np.ndarray
    rerouted: np.ndarray
    sla: np.ndarray
    a_pos: np.ndarray
    a_node: np.ndarray
    a_sku: np.ndarray
    a_qty: np.ndarray


class Recorder:
    """The planner's figures of one strategy's replay.

    Parameters
    ----------
    prep : Prepared
    spec : StrategySpec
        The replayed strategy (a batch window moves the hour the router saw).
    policy : Policy
        The replayed policy (service radii of the geography check).
    keep : bool
        Keep the per-order and per-allocation records.
    """

    def __init__(self, prep: Prepared, spec: StrategySpec, policy: Policy, keep: bool):
        self.prep = prep
        self.spec = spec
        self.keep = keep
        net = prep.network
        self.limited = net.capacity_orders < UNLIMITED
        self.limited_units = net.capacity_units < UNLIMITED
        self.day_parcels = np.zeros((prep.n_days, net.n_nodes), np.int64)
        self.day_units = np.zeros((prep.n_days, net.n_nodes), np.int64)
        self.backorders = np.zeros(prep.n_days, np.int64)       # units left unfilled, by the day ordered
        self.backorder_orders = np.zeros(prep.n_days, np.int64)
        self._orders: list[pd.DataFrame] = []
        self._allocs: list[pd.DataFrame] = []
        self.entry_price = net.price[prep.entry_sku]
        self.store_entries = prep.entry_kind == _STORE
        outside, beyond, _ = GeoCheck(net, policy).check_many(prep.orders.lat, prep.orders.lon,
                                                             prep.destination_countries())
        self.outside, self.beyond = outside, beyond

    def hour(self, pos: np.ndarray) -> np.ndarray:
        """Hour of the day the router saw each order at: arrival, or the close of its batch window."""
        minute = self.prep.minute[pos]
        w = self.spec.window
        if w:
            minute = np.minimum(minute // w * w + w, MINUTES_PER_DAY - 1)
        return minute / 60.0

    def shipped(self, d: int, lo: int, hi: int, x: Shipped, s: dict, delay: float) -> None:
        """Add the day's order-level figures to the sums ``s`` and keep the day's records.

        Parameters
        ----------
        d, lo, hi : int
            The day and its orders' positions ``lo..hi``.
        x : Shipped
        s : dict
            The day's sums.
        delay : float
            Days a re-sourced order loses.
        """
        prep, net = self.prep, self.prep.network
        n = hi - lo
        local, a_local = x.pos - lo, x.a_pos - lo
        price = net.price[x.a_sku]
        value = x.a_qty * price
        s["sales_value_ordered"] = float(prep.order_value[lo:hi].sum())
        s["sales_value_routed"] = float(value.sum())
        by_kind = np.bincount(net.kind[x.a_node], weights=value, minlength=3)
        for k, name in enumerate(KINDS):
            s[f"value_{name}"] = float(by_kind[k])
        # a unit of a SKU its order never asked for is a substitution
        bo = prep.orders
        a, b = int(bo.line_ptr[lo]), int(bo.line_ptr[hi])
        asked = (prep.line_owner[a:b] - lo) * np.int64(net.n_skus) + bo.sku[a:b]
        sub_rows = ~np.isin(a_local * np.int64(net.n_skus) + x.a_sku, asked)
        substituted = np.zeros(n, bool)
        substituted[a_local[sub_rows]] = True
        sub = substituted[local]
        s["orders_substituted"] = int(sub.sum())
        perfect = (x.status == _ROUTED) & x.on_time & ~sub
        s["orders_perfect"] = int(perfect.sum())
        # order to ship: the last parcel's processing days, a day when the order met the node after its
        # cutoff, and the day a re-sourced parcel loses
        wait = net.processing_days[x.a_node] + (self.hour(x.a_pos) >= net.cutoff_hour[x.a_node])
        proc = np.zeros(n)
        np.maximum.at(proc, a_local, wait.astype(np.float64))
        proc = proc[local] + x.rerouted * delay
        shipped = x.units > 0
        s["processing_days_sum"] = float(proc[shipped].sum())
        s["orders_foreign"] = int(self.outside[lo:hi].sum())
        s["orders_out_of_reach"] = int(self.beyond[lo:hi].sum())
        # unfilled units stay open: the replay does not source backorders later
        self.backorders[d] = int(x.unfilled.sum())
        self.backorder_orders[d] = int((x.unfilled > 0).sum())
        # node workload
        parcel_key = np.unique(x.a_pos * np.int64(net.n_nodes) + x.a_node)
        self.day_parcels[d] = np.bincount(parcel_key % net.n_nodes, minlength=net.n_nodes)
        self.day_units[d] = np.bincount(x.a_node, weights=x.a_qty, minlength=net.n_nodes).astype(np.int64)
        cap = net.capacity_orders
        for k, name in enumerate(KINDS):
            m = self.limited & (net.kind == k)
            s[f"peak_util_{name}"] = float((self.day_parcels[d][m] / np.maximum(cap[m], 1)).max()) if m.any() \
                else float("nan")
        if self.keep:
            self._keep(d, x, proc, sub, perfect, value)

    def _keep(self, d: int, x: Shipped, proc: np.ndarray, sub: np.ndarray, perfect: np.ndarray,
              value: np.ndarray) -> None:
        prep = self.prep
        self._orders.append(pd.DataFrame({
            "day": d, "pos": x.pos, "order_id": prep.orders.order_id[x.pos],
            "status": np.array(["routed", "partial", "unroutable", "other"])[np.where(x.status < 0, 3, x.status)],
            "units_ordered": prep.order_units[x.pos], "units": x.units, "unfilled": x.unfilled,
            "shipments": x.shipments, "cost": x.money[0], "shipping": x.money[1], "handling": x.money[2],
            "vendor_fees": x.money[3], "split_penalty": x.money[4], "penalties": x.money[5],
            "distance_km": x.money[6], "promised_days": x.promised, "sla_days": x.sla,
            "on_time": x.on_time, "rerouted": x.rerouted, "substituted": sub, "perfect": perfect,
            "processing_days": proc, "value_ordered": prep.order_value[x.pos],
            "foreign": self.outside[x.pos], "out_of_reach": self.beyond[x.pos],
        }))
        self._allocs.append(pd.DataFrame({"day": d, "pos": x.a_pos, "node": x.a_node, "sku": x.a_sku,
                                          "qty": x.a_qty, "value": value}))

    def end_of_day(self, d: int, ledger: np.ndarray, s: dict) -> None:
        """End-of-day stock by node kind, store stock-outs and open backorders, from the independent ledger."""
        self.stock_levels(ledger, s)
        self.open_backorders(d, s)

    def stock_levels(self, ledger: np.ndarray, s: dict) -> None:
        """End-of-day stock by node kind and store stock-outs, from the units each entry holds (``ledger``)."""
        kind = self.prep.entry_kind
        units = np.bincount(kind, weights=ledger, minlength=3)
        value = np.bincount(kind, weights=ledger * self.entry_price, minlength=3)
        for k, name in enumerate(KINDS):
            s[f"ending_units_{name}"] = int(units[k])
            s[f"ending_value_{name}"] = float(value[k])
        s["store_sku_days"] = int(self.store_entries.sum())
        s["stockout_sku_store_days"] = int((ledger[self.store_entries] <= 0).sum())

    def open_backorders(self, d: int, s: dict) -> None:
        """Backorders open at the end of day ``d``: the unfilled units of the orders of days ``0..d``
        (:meth:`shipped` must have seen those days)."""
        open_units = self.backorders[: d + 1]
        age = d - np.arange(d + 1)
        s["backorder_units_open"] = int(open_units.sum())
        s["backorder_orders_open"] = int(self.backorder_orders[: d + 1].sum())
        s["backorder_unit_days_open"] = int((open_units * age).sum())
        s["backorder_age_max_days"] = int(age[open_units > 0].max()) if (open_units > 0).any() else 0

    def node_days(self) -> pd.DataFrame:
        """Workload per node and day against its daily capacity."""
        prep, net = self.prep, self.prep.network
        n_days, n_nodes = self.day_parcels.shape
        cap_o = np.where(self.limited, net.capacity_orders, -1)
        cap_u = np.where(self.limited_units, net.capacity_units, -1)
        parcels, units = self.day_parcels.ravel(), self.day_units.ravel()
        co, cu = np.tile(cap_o, n_days), np.tile(cap_u, n_days)
        return pd.DataFrame({
            "day": np.repeat(np.arange(n_days), n_nodes),
            "date": np.repeat([x.isoformat() for x in prep.dates], n_nodes),
            "node_id": np.tile(prep.node_pos.to_numpy(), n_days),
            "kind": np.tile(np.array(KINDS, dtype=object)[net.kind], n_days),
            "parcels": parcels, "units": units, "capacity_orders": co, "capacity_units": cu,
            "util_orders": np.where(co > 0, parcels / np.maximum(co, 1), np.nan),
            "util_units": np.where(cu > 0, units / np.maximum(cu, 1), np.nan),
        })

    def records(self) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """The per-order and per-allocation records (``None`` when not kept)."""
        if not self.keep:
            return None, None
        orders = pd.concat(self._orders, ignore_index=True) if self._orders else None
        allocs = pd.concat(self._allocs, ignore_index=True) if self._allocs else None
        return orders, allocs


__all__ = ["Recorder", "Shipped"]
