"""What the ``batchN`` and ``dual`` strategies add to routing on arrival.

``batchN`` holds orders for ``N`` minutes, routes the wave most constrained
orders first and re-plans it jointly with ``sourcewise.engine.optimize.reoptimize``;
``dual`` refreshes the router's dual prices during the day from the orders
of the last interval (Lagrangian prices from ``sourcewise.engine.optimize.dual_prices``, or a
local-scarcity proxy when the optimizer is unavailable), or routes with fixed
prices from a prices table or computed once from a forecast
(:attr:`~sourcewise.engine.simulate.config.SimConfig.dual_prices_path`,
:attr:`~sourcewise.engine.simulate.config.SimConfig.dual_forecast_path`).

``dual_prices`` may refuse: when its prices fail their check on the orders
they come from it raises :class:`~sourcewise.models.errors.ValidationError`.
The replay then keeps the prices it had (zero at the start: myopic cost
routing), counts the refusal and says so in the strategy's notes and the log.
"""

from __future__ import annotations

import dataclasses
import logging
from types import ModuleType

import numpy as np

from sourcewise.engine.router import BatchResult
from sourcewise.engine.router import Router
from sourcewise.engine.simulate.config import MINUTES_PER_DAY
from sourcewise.engine.simulate.ledger import StockLedger
from sourcewise.engine.simulate.prepare import Prepared
from sourcewise.engine.simulate.prepare import take_orders
from sourcewise.engine.simulate.routed import codes
from sourcewise.models.errors import ValidationError
from sourcewise.models.network import UNLIMITED
from sourcewise.models.network import Network
from sourcewise.models.network import unit_vectors
from sourcewise.models.node import KIND_CODES
from sourcewise.models.node import NodeKind
from sourcewise.models.policy import Policy
from sourcewise.models.tables import OrderBatch

_VENDOR = KIND_CODES[NodeKind.VENDOR]
log = logging.getLogger("sourcewise.simulate")


def optimizer() -> ModuleType | None:
    """``sourcewise.engine.optimize`` when it is importable with the API the replay uses, else ``None``."""
    try:
        from sourcewise.engine import optimize as opt
    except ImportError:
        return None
    if not (hasattr(opt, "reoptimize") and hasattr(opt, "dual_prices")):
        return None
    return opt


def capacity_left(router: Router, network: Network) -> np.ndarray:
    """Orders and units each node can still take today, shape (n_nodes, 2)."""
    return np.array([router.capacity_left(n.node_id) for n in network.nodes], np.int64).reshape(-1, 2)


def _ranges(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(start[i], start[i] + count[i])``."""
    count = np.asarray(count, np.int64)
    total = int(count.sum())
    return np.repeat(np.asarray(start, np.int64) - np.cumsum(count) + count, count) + np.arange(total)


class BatchWaves:
    """Held waves of a ``batchN`` strategy: release time, routing order and the joint re-plan.

    Parameters
    ----------
    prep : Prepared
    router : Router
    stock : StockLedger
        Its free stock estimates which nodes could ship an order alone.
    opt : module, optional
        ``sourcewise.engine.optimize`` (see :func:`optimizer`); without it waves are kept as routed.
    """

    def __init__(self, prep: Prepared, router: Router, stock: StockLedger, opt: ModuleType | None):
        self.prep = prep
        self.router = router
        self.stock = stock
        self.opt = opt
        self._limited = prep.network.capacity_orders < UNLIMITED

    def released(self, batch: OrderBatch, d: int, minute: int) -> OrderBatch:
        """A held wave is routed when the window closes: cutoffs and promises count from then."""
        when = np.datetime64(self.prep.dates[d].isoformat(), "s") + np.timedelta64(int(minute) * 60, "s")
        placed = np.full(batch.n_orders, when, dtype="datetime64[s]")
        if batch.placed_at is not None:
            placed = np.maximum(np.where(np.isnat(batch.placed_at), when, batch.placed_at), when)
        return dataclasses.replace(batch, placed_at=placed)

    def order(self, pos: np.ndarray) -> np.ndarray:
        """Most constrained orders first: fewest nodes that could ship the whole order alone.

        Orders no single node can serve go last (they split whatever the
        order), then larger orders before smaller ones. Stock is estimated
        from the ledger less today's allocations, so it ignores protection.
        """
        prep = self.prep
        bo, inv = prep.orders, prep.inventory
        n_nodes = prep.network.n_nodes
        avail = self.stock.free()
        lo, hi = bo.line_ptr[pos], bo.line_ptr[pos + 1]
        cnt = hi - lo
        lines = _ranges(lo, cnt)
        owner = np.repeat(np.arange(len(pos)), cnt)
        sku, qty = bo.sku[lines], bo.qty[lines]
        e_lo = inv.sku_ptr[sku]
        ecnt = inv.sku_ptr[sku + 1] - e_lo
        ents = _ranges(e_lo, ecnt)
        ok = avail[ents] >= np.repeat(qty, ecnt)
        hits = np.zeros(len(pos) * n_nodes, np.int64)
        np.add.at(hits, np.repeat(owner, ecnt)[ok] * n_nodes + inv.node[ents[ok]], 1)
        whole = (hits.reshape(len(pos), n_nodes) == cnt[:, None]).sum(axis=1)
        units = prep.order_units[pos]
        return pos[np.lexsort((np.arange(len(pos)), -units, whole, whole == 0))]

    def reoptimize(self, batch: OrderBatch, res: BatchResult) -> BatchResult:
        """Re-plan the wave jointly; the router swaps the reservations only when the plan is better."""
        net = self.prep.network
        left = capacity_left(self.router, net)
        alloc = res.allocations
        node = codes(alloc["node_id"].to_numpy(dtype=object), net.node_index)
        order = codes(alloc["order_id"].to_numpy(dtype=object),
                      {str(o): i for i, o in enumerate(batch.order_id.tolist())})
        # the wave's own use counts as free for its re-plan
        parcels = np.unique(order * net.n_nodes + node) % net.n_nodes
        used_o = np.bincount(parcels, minlength=net.n_nodes)
        used_u = np.bincount(node, weights=alloc["qty"].to_numpy(np.float64), minlength=net.n_nodes)
        cap_o = np.where(self._limited, left[:, 0] + used_o, UNLIMITED)
        cap_u = np.where(net.capacity_units < UNLIMITED, left[:, 1] + used_u.astype(np.int64), UNLIMITED)
        r = self.opt.reoptimize(self.router, [str(o) for o in batch.order_id], self.prep.config.wave_time_limit,
                                orders=batch, node_capacity_orders=cap_o, node_capacity_units=cap_u)
        if not r.applied or r.plan is None:
            return res
        return BatchResult(r.plan.allocations, r.plan.orders)


class DualPrices:
    """Dual prices of the ``dual`` strategy, refreshed at most every ``dual_refresh_minutes``.

    Parameters
    ----------
    prep : Prepared
    router : Router
        Gets the prices (:meth:`Router.set_dual_prices`).
    stock : StockLedger
        Its free stock prices scarcity when the optimizer is unavailable.
    policy : Policy
        The replayed policy (the LP and the proxy price a shipment with it).
    opt : module, optional
        ``sourcewise.engine.optimize`` (see :func:`optimizer`).
    """

    def __init__(self, prep: Prepared, router: Router, stock: StockLedger, policy: Policy,
                 opt: ModuleType | None):
        self.prep = prep
        self.cfg = prep.config
        self.router = router
        self.stock = stock
        self.policy = policy
        self.opt = opt
        self._limited = prep.network.capacity_orders < UNLIMITED
        self._next = 0
        #: Price computations ``dual_prices`` was asked for, and how many it refused.
        self.asked = 0
        self.refused = 0
        #: The reason of the last refusal (its problems on one line), or ``None``.
        self.last_refusal: str | None = None
        #: Fixed prices (a prices table or a forecast) are set once by :meth:`start` and never refreshed.
        self.fixed = prep.dual_fixed is not None or prep.dual_forecast is not None

    def start(self) -> None:
        """Set the fixed prices, if the replay has any (the router starts with zero prices otherwise)."""
        prep = self.prep
        if prep.dual_fixed is not None:
            self.router.set_dual_prices(prep.dual_fixed)
        elif prep.dual_forecast is not None and self.opt is not None:
            # the forecast prices the starting stock: the replay's own orders have not taken any yet
            self._priced(lambda: self.opt.dual_prices(prep.dual_forecast, prep.network, self.router.snapshot(),
                                                      self.policy, self.cfg.dual_forecast_time_limit))

    def _priced(self, compute) -> None:
        """Set the prices ``compute()`` returns; on a refusal keep the current ones, counted and logged."""
        self.asked += 1
        try:
            prices = compute()
        except ValidationError as exc:
            self.refused += 1
            self.last_refusal = "; ".join(str(p) for p in exc.problems[:3]) + (
                f" (and {len(exc.problems) - 3} more)" if len(exc.problems) > 3 else "")
            log.warning("dual_prices refused the prices (%d of %d so far); the previous prices stay: %s",
                        self.refused, self.asked, self.last_refusal)
            return
        self.router.set_dual_prices(np.nan_to_num(np.maximum(prices, 0.0)))

    def note(self, name: str) -> str | None:
        """The strategy's note about refusals, or ``None`` when there was none."""
        if not self.refused:
            return None
        what = "the forecast's prices" if self.fixed else f"{self.refused:,} of {self.asked:,} price refreshes"
        kept = "zero prices (myopic cost routing)" if self.fixed else \
            "the previous prices (zero before the first accepted one)"
        return (f"{name}: sourcewise.engine.optimize.dual_prices refused {what}; routed with {kept}. "
                f"Last reason: {self.last_refusal}")

    def refresh(self, a: int, d: int, t: int) -> None:
        """Prices from the orders of the last interval, at most every ``dual_refresh_minutes``.

        Nothing is refreshed when the prices are fixed (see :meth:`start`).
        """
        if self.fixed:
            return
        now = d * MINUTES_PER_DAY + t
        if now < self._next:
            return
        self._next = now + self.cfg.dual_refresh_minutes
        prep = self.prep
        stamp = prep.day * MINUTES_PER_DAY + prep.minute
        first = max(int(np.searchsorted(stamp, now - self.cfg.dual_refresh_minutes)), a - self.cfg.dual_max_orders)
        if a <= first:
            return
        recent = np.arange(first, a)
        if self.opt is not None:
            batch = take_orders(prep.orders, recent)
            # the LP only prices stock; fresh ids keep it clear of the router's real orders
            batch = dataclasses.replace(batch, order_id=np.array([f"~dual-{i}" for i in range(len(recent))],
                                                                 dtype=object))
            left = capacity_left(self.router, prep.network)
            self._priced(lambda: self.opt.dual_prices(
                batch, prep.network, self.router.snapshot(), self.policy, self.cfg.dual_time_limit,
                node_capacity_orders=np.where(self._limited, left[:, 0], UNLIMITED)))
        else:
            self.router.set_dual_prices(np.nan_to_num(np.maximum(self._scarcity(recent), 0.0)))

    def _scarcity(self, recent: np.ndarray) -> np.ndarray:
        """Fallback dual prices: each entry's local scarcity.

        Recent demand is assigned to the own node nearest each customer; an
        entry's price is ``per_shipment * d / (d + avail)``, so stock that
        its neighbourhood is about to need costs more to send far away.
        """
        prep, net = self.prep, self.prep.network
        bo = prep.orders
        own = np.flatnonzero(net.usable & (net.kind != _VENDOR))
        prices = np.zeros(prep.inventory.nnz)
        if not len(own) or not len(recent):
            return prices
        xyz = unit_vectors(bo.lat[recent], bo.lon[recent]).reshape(len(recent), 3)
        nearest = own[np.argmax(xyz @ net.xyz[own].T, axis=1)]
        cnt = bo.line_ptr[recent + 1] - bo.line_ptr[recent]
        lines = _ranges(bo.line_ptr[recent], cnt)
        ent = prep.entry_of(np.repeat(nearest, cnt), bo.sku[lines])
        ok = ent >= 0
        demand = np.bincount(ent[ok], weights=bo.qty[lines][ok], minlength=len(prices))
        avail = np.maximum(self.stock.free(), 0)
        hit = demand > 0
        prices[hit] = self.policy.cost.per_shipment * demand[hit] / (demand[hit] + avail[hit])
        return prices


__all__ = ["BatchWaves", "DualPrices", "capacity_left", "optimizer"]
