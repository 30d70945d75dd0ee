"""Stock per (node, SKU), stored sparsely in compressed-by-SKU form."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sourcewise.models.errors import Collector
from sourcewise.models.network import Network
from sourcewise.models.network import readonly

# Most units one inventory entry may hold on hand (2**62): what the router's stock changes keep
# within, so that no sum of on-hand and a change (each at most this) can overflow int64.
MAX_STOCK: int = 1 << 62


@dataclass(frozen=True, slots=True)
class StockRecord:
    """Stock of one SKU at one node.

    Available-to-promise is ``on_hand - safety_stock - reserved``, floored at 0.
    """

    node_id: str
    sku: str
    on_hand: int
    safety_stock: int = 0
    reserved: int = 0

    @property
    def atp(self) -> int:
        return max(0, self.on_hand - self.safety_stock - self.reserved)


@dataclass(frozen=True, eq=False)
class Inventory:
    """Immutable stock snapshot in CSR form keyed by SKU.

    Entries for SKU ``s`` are ``sku_ptr[s]:sku_ptr[s+1]``, sorted by node;
    only (node, SKU) pairs that were given are stored, so a network of 1,000
    nodes and 100,000 SKUs costs memory in proportion to its stocked pairs.

    Attributes
    ----------
    sku_ptr : ndarray of int64, shape (n_skus + 1,)
    node : ndarray of int64, shape (nnz,)
    on_hand, safety_stock, reserved : ndarray of int64, shape (nnz,)
    """

    network: Network
    sku_ptr: np.ndarray
    node: np.ndarray
    on_hand: np.ndarray
    safety_stock: np.ndarray
    reserved: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        network: Network,
        node: np.ndarray,
        sku: np.ndarray,
        on_hand: np.ndarray,
        safety_stock: np.ndarray | None = None,
        reserved: np.ndarray | None = None,
        *,
        row_labels: np.ndarray | None = None,
    ) -> Inventory:
        """Build from index arrays (node and SKU positions in ``network``).

        Raises
        ------
        ValidationError
            Listing every negative quantity and duplicate (node, SKU) pair.
        """
        node = np.asarray(node, dtype=np.int64)
        sku = np.asarray(sku, dtype=np.int64)
        n = len(node)
        on_hand = np.asarray(on_hand, dtype=np.int64)
        safety_stock = np.zeros(n, np.int64) if safety_stock is None else np.asarray(safety_stock, np.int64)
        reserved = np.zeros(n, np.int64) if reserved is None else np.asarray(reserved, np.int64)
        labels = np.arange(n) if row_labels is None else row_labels
        col = Collector()
        for name, a in (("on_hand", on_hand), ("safety_stock", safety_stock), ("reserved", reserved)):
            for i in np.flatnonzero(a < 0):
                col.add("inventory", int(labels[i]), name, f"must be >= 0, got {int(a[i])}")
        bad_node = (node < 0) | (node >= network.n_nodes)
        bad_sku = (sku < 0) | (sku >= network.n_skus)
        for i in np.flatnonzero(bad_node):
            col.add("inventory", int(labels[i]), "node_id", "unknown node")
        for i in np.flatnonzero(bad_sku):
            col.add("inventory", int(labels[i]), "sku", "unknown sku")
        ok = ~(bad_node | bad_sku)
        order = np.lexsort((node, sku))
        order = order[ok[order]]
        sn, ss = node[order], sku[order]
        dup = np.flatnonzero((sn[1:] == sn[:-1]) & (ss[1:] == ss[:-1]))
        for j in dup:
            i = order[j + 1]
            col.add(
                "inventory", int(labels[i]), "node_id/sku",
                f"duplicate row for node {network.nodes[node[i]].node_id!r} and sku {network.skus[sku[i]].sku!r}",
            )
        col.raise_if_any()
        ptr = np.zeros(network.n_skus + 1, dtype=np.int64)
        np.cumsum(np.bincount(ss, minlength=network.n_skus), out=ptr[1:])
        arrays = [readonly(a[order]) for a in (node, on_hand, safety_stock, reserved)]
        return cls(network, readonly(ptr), *arrays)

    @classmethod
    def from_records(cls, network: Network, records: Iterable[StockRecord]) -> Inventory:
        """Build from :class:`StockRecord` values, validating ids as one batch."""
        records = list(records)
        col = Collector()
        node = np.empty(len(records), np.int64)
        sku = np.empty(len(records), np.int64)
        for i, r in enumerate(records):
            node[i] = network.node_index.get(r.node_id, -1)
            sku[i] = network.sku_index.get(r.sku, -1)
            if node[i] < 0:
                col.add("inventory", i, "node_id", f"unknown node {r.node_id!r}")
            if sku[i] < 0:
                col.add("inventory", i, "sku", f"unknown sku {r.sku!r}")
            for name in ("on_hand", "safety_stock", "reserved"):
                v = getattr(r, name)
                if isinstance(v, bool) or not isinstance(v, int | np.integer):
                    col.add("inventory", i, name, f"must be an integer, got {v!r}")
        col.raise_if_any()
        return cls.from_arrays(
            network, node, sku,
            np.array([r.on_hand for r in records], np.int64),
            np.array([r.safety_stock for r in records], np.int64),
            np.array([r.reserved for r in records], np.int64),
        )

    @property
    def nnz(self) -> int:
        return len(self.node)

    def atp_array(self) -> np.ndarray:
        """ATP of every stored entry, floored at 0."""
        return np.maximum(self.on_hand - self.safety_stock - self.reserved, 0)

    def atp_of_sku(self, sku: str) -> np.ndarray:
        """ATP of every stored entry of ``sku``, floored at 0, in entry order: the ATP at
        node ``node[sku_ptr[s] + i]`` is element ``i``, ``s`` being the SKU's index."""
        s = self.network.sku_index[sku]
        lo, hi = self.sku_ptr[s], self.sku_ptr[s + 1]
        return np.maximum(self.on_hand[lo:hi] - self.safety_stock[lo:hi] - self.reserved[lo:hi], 0)

    def entry(self, node_id: str, sku: str) -> int:
        """Position of the (node, SKU) entry, or -1 when none is stored."""
        n = self.network.node_index[node_id]
        s = self.network.sku_index[sku]
        lo, hi = self.sku_ptr[s], self.sku_ptr[s + 1]
        j = lo + int(np.searchsorted(self.node[lo:hi], n))
        return int(j) if j < hi and self.node[j] == n else -1

    def atp(self, node_id: str, sku: str) -> int:
        """Available-to-promise units of ``sku`` at ``node_id``."""
        j = self.entry(node_id, sku)
        if j < 0:
            return 0
        return max(0, int(self.on_hand[j] - self.safety_stock[j] - self.reserved[j]))

    def records(self) -> list[StockRecord]:
        """Every stored entry as a :class:`StockRecord`."""
        net = self.network
        sku_of = np.repeat(np.arange(net.n_skus), np.diff(self.sku_ptr))
        return [
            StockRecord(net.nodes[n].node_id, net.skus[s].sku, int(o), int(f), int(r))
            for n, s, o, f, r in zip(self.node, sku_of, self.on_hand, self.safety_stock, self.reserved, strict=True)
        ]
