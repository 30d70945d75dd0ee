"""The independent stock ledger of a replay, and the stock moves that go through the router.

The ledger counts what physically happened to each inventory entry:
starting stock, receipts, walk-in sales the router allowed, units written
off by failed picks, and units shipped. It never reads the router's stock,
so a negative entry is an oversell the router allowed, and a difference
from the router's free stock is a bookkeeping error on one side.
"""

from __future__ import annotations

import numpy as np

from sourcewise.engine.router import Router
from sourcewise.engine.simulate.prepare import Prepared


class OversellError(AssertionError):
    """The ledger shows more units shipped from an inventory entry than it ever held."""


class StockLedger:
    """Receipts, walk-in sales and write-offs through the router, in bulk when it can, and the ledger.

    Parameters
    ----------
    prep : Prepared
    router : Router
        The replayed strategy's router; its stock changes go through here.

    Attributes
    ----------
    ledger : ndarray of int64, shape (n_entries,)
        Units each inventory entry physically holds (reservations not subtracted).
    taken : ndarray of int64, shape (n_entries,)
        Units online orders took today per entry: reserved, shipped at the end of the day.
    """

    def __init__(self, prep: Prepared, router: Router):
        self.prep = prep
        self.router = router
        self.ledger = prep.inventory.on_hand.astype(np.int64).copy()
        self._bulk = getattr(router, "adjust_stock_many", None)
        self._node_ids = np.array([n.node_id for n in prep.network.nodes], dtype=object)
        self._sku_ids = np.array([s.sku for s in prep.network.skus], dtype=object)
        self.new_day()

    def new_day(self) -> None:
        """Nothing taken by online orders yet today."""
        self.taken = np.zeros(self.prep.inventory.nnz, np.int64)

    def take(self, entries: np.ndarray, qty: np.ndarray) -> None:
        """Online orders took ``qty`` units at ``entries`` (all >= 0)."""
        np.add.at(self.taken, entries, qty)

    def free(self) -> np.ndarray:
        """Units per entry not yet taken today above safety stock, by the ledger (protection ignored)."""
        return self.ledger - self.taken - self.prep.inventory.safety_stock

    def adjust(self, entries: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Apply stock changes to the router; returns what it applied (a sale takes only unreserved units)."""
        if len(entries) == 0:
            return np.zeros(0, np.int64)
        if self._bulk is not None:
            return np.asarray(self._bulk(entries, delta), np.int64)
        nodes = self._node_ids[self.prep.entry_node[entries]]
        skus = self._sku_ids[self.prep.entry_sku[entries]]
        adj = self.router.adjust_stock
        return np.fromiter((adj(n, s, int(d)) for n, s, d in zip(nodes, skus, delta.tolist(), strict=True)),
                           np.int64, count=len(entries))

    def receive(self, day: int) -> tuple[int, int]:
        """Land the replenishment scheduled for ``day``; returns (receipts, units received)."""
        lo, hi = self.prep.rep_ptr[day], self.prep.rep_ptr[day + 1]
        e, q = self.prep.rep_entry[lo:hi], self.prep.rep_qty[lo:hi]
        applied = self.adjust(e, q)
        np.add.at(self.ledger, e, applied)
        return int(hi - lo), int(applied.sum())

    def sell(self, entries: np.ndarray, qty: np.ndarray) -> np.ndarray:
        """Walk-in sales of ``qty`` units at ``entries``; returns the units sold (free stock only)."""
        sold = -self.adjust(entries, -qty)
        np.subtract.at(self.ledger, entries, sold)
        return sold

    def write_off(self, n: int, node_id: str, units: dict[str, int]) -> int:
        """Units a failed pick showed were not there leave the node's stock and the ledger.

        Parameters
        ----------
        n : int
            Position of the node ``node_id``.
        node_id : str
        units : dict of str to int
            Missing units per SKU.

        Returns
        -------
        int
            Units written off (the router takes no more than the node holds).
        """
        sku_index = self.prep.network.sku_index
        total = 0
        for sku, q in units.items():
            e = int(self.prep.entry_of(np.array([n]), np.array([sku_index[sku]]))[0])
            if e < 0 or not q:
                continue
            # a write-off of more than the node holds takes what it holds (the router refuses below zero)
            q = min(int(q), self.router.on_hand(node_id, sku))
            if q <= 0:
                continue
            gone = -self.router.adjust_stock(node_id, sku, -q)
            self.ledger[e] -= gone
            total += gone
        return total

    def ship(self, entries: np.ndarray, qty: np.ndarray) -> int:
        """Shipped units leave their entries (-1 entries are ignored); returns how many entries went negative."""
        ok = entries >= 0
        np.subtract.at(self.ledger, entries[ok], qty[ok])
        return int((self.ledger < 0).sum())

    def verify(self, strategy: str, final: bool) -> None:
        """The router's free stock (on hand less reservations) must equal the ledger's.

        Raises
        ------
        OversellError
            Naming how many entries differ.
        """
        snap = self.router.snapshot()
        bad = int((snap.on_hand - snap.reserved != self.ledger).sum())
        if bad:
            raise OversellError(f"{strategy}: the router's stock differs from the ledger at {bad} "
                                f"entries{' at the end' if final else ''}")


__all__ = ["OversellError", "StockLedger"]
