"""The day's events besides online orders: walk-in sales at stores, store pick rejections, vendor failures.

Every draw depends only on the seed, the day and the order, never on the
strategy, so strategies meet the same shoppers and the same failures.
Failed picks and failed vendor parcels are re-sourced through
:meth:`Router.reroute`, which re-sources only the affected lines; the
missing units are written off at the failing node through the ledger.
"""

from __future__ import annotations

import numpy as np

from sourcewise.engine.router import Router
from sourcewise.engine.simulate.ledger import StockLedger
from sourcewise.engine.simulate.prepare import Prepared
from sourcewise.engine.simulate.prepare import order_objects
from sourcewise.engine.simulate.prepare import take_orders
from sourcewise.engine.simulate.routed import DayBook
from sourcewise.engine.simulate.routed import RoutedRows
from sourcewise.models.decision import Decision
from sourcewise.models.errors import ValidationError
from sourcewise.models.node import KIND_CODES
from sourcewise.models.node import NodeKind

_STORE = KIND_CODES[NodeKind.STORE]
_VENDOR = KIND_CODES[NodeKind.VENDOR]


class WalkIns:
    """Walk-in shoppers buying store stock in slices of the day, and whom to blame for what they cannot buy.

    Parameters
    ----------
    prep : Prepared
    stock : StockLedger
        Sales go through it: shoppers take only units not reserved for online orders.

    Notes
    -----
    A walk-in stock-out is *caused by online orders* when the units online
    orders took from that store × SKU that day would have covered it; each
    such unit is blamed once.
    """

    def __init__(self, prep: Prepared, stock: StockLedger):
        self.prep = prep
        self.cfg = prep.config
        self.stock = stock
        self.new_day()

    def new_day(self) -> None:
        """Nothing taken by online orders yet today."""
        self.attributable = np.zeros(self.prep.inventory.nnz, np.int64)

    def took(self, ent: np.ndarray, qty: np.ndarray) -> None:
        """Online orders took ``qty`` units at entries ``ent`` (all >= 0); store units may be blamed later."""
        store = self.prep.entry_kind[ent] == _STORE
        np.add.at(self.attributable, ent[store], qty[store])

    def _draw(self, d: int) -> None:
        """The day's walk-in demand per store × SKU and slice.

        One Poisson draw per store × SKU and day, its units spread uniformly
        over the slices: the same law as a Poisson draw per slice, with far
        fewer draws. Seeded by the day only, so every strategy meets the same shoppers.
        """
        prep, k_slices = self.prep, self.cfg.walkin_slices
        rng = np.random.default_rng([self.cfg.seed, 23, d])
        want = rng.poisson(prep.walk_rate)
        hit = np.flatnonzero(want)
        units = want[hit]
        where = rng.integers(0, k_slices, int(units.sum()))
        owner = np.repeat(np.arange(len(hit)), units)
        self._walk_entry = prep.walk_entry[hit]
        self._walk_qty = np.bincount(owner * k_slices + where, minlength=len(hit) * k_slices).reshape(
            len(hit), k_slices)

    def sell(self, d: int, k: int, s: dict) -> None:
        """Slice ``k`` of day ``d``'s shoppers buy what they can; their figures are added to the day's sums ``s``."""
        if k == 0:
            self._draw(d)
        if not len(self._walk_entry):
            return
        q = self._walk_qty[:, k]
        nz = q > 0
        ent, qty = self._walk_entry[nz], q[nz].astype(np.int64)
        sold = self.stock.sell(ent, qty)
        lost = qty - sold
        # a stock-out is caused by online orders when the units they took today would have covered it
        online = np.minimum(lost, self.attributable[ent])
        self.attributable[ent] -= online
        s["walkin_demand"] += int(qty.sum())
        s["walkin_sold"] += int(sold.sum())
        s["walkin_lost"] += int(lost.sum())
        s["walkin_lost_online"] += int(online.sum())


class Disruptions:
    """Store pick rejections and vendor failures of a day's orders, each re-sourced or written off.

    Parameters
    ----------
    prep : Prepared
    router : Router
        The replayed strategy's router.
    stock : StockLedger
        Write-offs go through it.
    route : str
        Router strategy that routes an order again when its vendor parcel
        failed and the router cannot re-route it.
    """

    def __init__(self, prep: Prepared, router: Router, stock: StockLedger, route: str):
        self.prep = prep
        self.cfg = prep.config
        self.router = router
        self.stock = stock
        self.route = route
        self._node_index = prep.network.node_index
        self._sku_index = prep.network.sku_index

    def apply(self, day: DayBook) -> None:
        """Fail picks and vendor parcels of the day's orders by their pre-drawn uniforms, and re-source them.

        Orders routed one by one (``day.watched``) are checked shipment by
        shipment; vendor parcels of orders routed in bulk by their rows.
        """
        prep, cfg = self.prep, self.cfg
        kind = prep.network.kind
        for p, dec in list(day.watched.items()):
            if not dec.allocations:
                continue
            stores = [sh for sh in dec.shipments
                      if kind[self._node_index[sh.node_id]] == _STORE and sh.method in ("ship", "same_day")]
            if stores and prep.u_pick[p] < cfg.pick_reject_rate:
                # one SKU of one of its store parcels cannot be found on the shelf
                sh = stores[int(prep.u_choice[p] * len(stores)) % len(stores)]
                here = [a for a in dec.allocations if a.node_id == sh.node_id]
                skus = sorted({a.sku for a in here})
                sku = skus[int(prep.u_choice[p] * 7919) % len(skus)]
                lines = [a.line_id for a in here if a.sku == sku]
                units = sum(a.qty for a in here if a.sku == sku)
                dec = self._reroute(day, p, dec, sh.node_id, lines, {sku: units}, "pick_rejections")
            if not cfg.vendor_failures:
                continue
            for sh in [x for x in dec.shipments if kind[self._node_index[x.node_id]] == _VENDOR]:
                n = self._node_index[sh.node_id]
                here = [a for a in dec.allocations if a.node_id == sh.node_id]
                rel = min((prep.reliability.get((n, self._sku_index[a.sku]), 1.0) for a in here), default=1.0)
                if prep.u_vendor[p] < 1.0 - rel:
                    miss: dict[str, int] = {}
                    for a in here:
                        miss[a.sku] = miss.get(a.sku, 0) + a.qty
                    dec = self._reroute(day, p, dec, sh.node_id, None, miss, "vendor_failures")
        if cfg.vendor_failures and prep.reliability:
            for rows in list(day.rows):
                self._vendor_failures(day, rows)

    def _vendor_failures(self, day: DayBook, rows: RoutedRows) -> None:
        """Vendor shipments of orders routed in bulk that fail (probability ``1 - reliability``)."""
        prep = self.prep
        vend = np.flatnonzero(prep.network.kind[rows.a_node] == _VENDOR)
        if not len(vend):
            return
        rel = np.array([prep.reliability.get((int(n), int(k)), 1.0)
                        for n, k in zip(rows.a_node[vend], rows.a_sku[vend], strict=True)])
        key = rows.a_pos[vend] * prep.network.n_nodes + rows.a_node[vend]
        parcels, inverse = np.unique(key, return_inverse=True)
        worst = np.ones(len(parcels))
        np.minimum.at(worst, inverse, rel)
        p_of = parcels // prep.network.n_nodes
        for j in np.flatnonzero(prep.u_vendor[p_of] < 1.0 - worst):
            p, n = int(p_of[j]), int(parcels[j] % prep.network.n_nodes)
            if p in day.watched:
                continue
            miss: dict[str, int] = {}
            for r in vend[inverse == j]:
                sku = prep.network.skus[rows.a_sku[r]].sku
                miss[sku] = miss.get(sku, 0) + int(rows.a_qty[r])
            self._resource(day, p, n, miss)

    def _resource(self, day: DayBook, p: int, n: int, miss: dict[str, int]) -> None:
        """A vendor failed an order routed in bulk: re-route its lines, or the whole order.

        :meth:`Router.reroute` re-sources only the failed lines; a router that
        cannot re-route bulk-routed orders gets the order released, the
        missing units written off at the vendor and the order routed again.
        """
        prep, router, s = self.prep, self.router, day.sums
        node_id = prep.network.nodes[n].node_id
        oid = str(prep.orders.order_id[p])
        try:
            new = self._reroute_call(oid, node_id, None, miss, n, s)
        except ValidationError:
            router.release(oid)
            self._write_off(n, node_id, miss, s)
            order = order_objects(prep.network, take_orders(prep.orders, np.array([p])))[0]
            new = router.route(order, strategy=self.route)
            s["resourced_orders"] += 1
        s["vendor_failures"] += 1
        s["rerouted_units"] += int(sum(miss.values()))
        day.watched[p] = new
        day.replaced.add(p)
        day.rerouted.add(p)

    def _reroute(self, day: DayBook, p: int, dec: Decision, node_id: str, lines, miss: dict[str, int],
                 counter: str) -> Decision:
        """Re-source a failed shipment of an order routed one by one, counted under ``counter``.

        An order the router cannot re-route keeps its decision and counts as a reroute error.
        """
        s = day.sums
        try:
            new = self._reroute_call(dec.order_id, node_id, lines, miss, self._node_index[node_id], s)
        except (ValidationError, KeyError):
            s["reroute_errors"] += 1
            return dec
        s[counter] += 1
        s["rerouted_units"] += int(sum(miss.values()))
        day.watched[p] = new
        day.rerouted.add(p)
        return new

    def _reroute_call(self, order_id: str, node_id: str, lines, miss: dict[str, int], n: int, s: dict) -> Decision:
        """:meth:`Router.reroute` without touching stock, then the missing units written off at the node.

        A zero shortfall per SKU makes reroute only release and re-source;
        the write-off goes through ``adjust_stock`` so that the ledger knows
        exactly what left (reroute applies a shortfall once per allocation
        piece, twice when a SKU sits in two pieces at the node).
        """
        new = self.router.reroute(order_id, node_id, lines=lines, shortfall=dict.fromkeys(miss, 0))
        self._write_off(n, node_id, miss, s)
        return new

    def _write_off(self, n: int, node_id: str, units: dict[str, int], s: dict) -> None:
        """Units a failed pick showed were not there leave the node's stock and the ledger."""
        s["written_off_units"] += self.stock.write_off(n, node_id, units)


__all__ = ["Disruptions", "WalkIns"]
