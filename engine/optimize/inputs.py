"""The caller's inputs, checked and converted: capacities, parameters, the batch, routers.

Every problem with the inputs is collected and raised together
(:class:`~sourcewise.models.errors.ValidationError`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sourcewise.engine.batch import batch_from_orders
from sourcewise.engine.router import Router
from sourcewise.models.errors import Collector
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import UNLIMITED_FROM
from sourcewise.models.network import Network
from sourcewise.models.order import Order
from sourcewise.models.policy import Policy
from sourcewise.models.tables import OrderBatch

INF_CAPACITY = 1 << 62
"""A node capacity at or above this is unlimited (the router's ``UNLIMITED_FROM`` mapped here)."""


def capacity(value: object, network: Network, name: str, col: Collector, default: np.ndarray) -> np.ndarray:
    """Capacity per node as int64 (``INF_CAPACITY`` where unlimited).

    ``value`` is ``None`` (use ``default``), an array with one entry per node
    (``inf`` or >= 2**59 meaning unlimited) or a dict ``{node_id: limit}``
    overriding ``default`` for the nodes it names (``None`` lifts a limit).
    """
    out = np.where(default >= UNLIMITED_FROM, INF_CAPACITY, default).astype(np.int64)
    if value is None:
        return out
    if isinstance(value, Mapping):
        for node_id, v in value.items():
            n = network.node_index.get(node_id)
            if n is None:
                col.add(name, str(node_id), "node_id", f"unknown node {node_id!r}")
                continue
            if v is None or (isinstance(v, float) and math.isinf(v) and v > 0):
                out[n] = INF_CAPACITY
                continue
            if isinstance(v, bool) or not isinstance(v, int | np.integer | float) or v < 0 or v != int(v):
                col.add(name, str(node_id), "capacity", f"must be an integer >= 0, got {v!r}")
                continue
            out[n] = INF_CAPACITY if v >= UNLIMITED_FROM else int(v)
        return out
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (network.n_nodes,):
        col.add(name, None, "shape", f"must be ({network.n_nodes},) (one per node), got {arr.shape}")
        return out
    bad = np.isnan(arr) | (arr < 0) | (np.isfinite(arr) & (arr != np.round(arr)))
    for i in np.flatnonzero(bad)[:100]:
        col.add(name, network.nodes[i].node_id, "capacity", f"must be an integer >= 0, got {arr[i]!r}")
    ok = ~bad
    out[ok] = np.where(np.isfinite(arr[ok]) & (arr[ok] < UNLIMITED_FROM), arr[ok], INF_CAPACITY).astype(np.int64)
    return out


def check_common(col: Collector, time_limit: object, solver: object, unfilled_penalty: object) -> None:
    """Add to ``col`` what is wrong with the parameters every entry point takes."""
    if isinstance(time_limit, bool) or not isinstance(time_limit, int | float) or not (
            math.isfinite(time_limit) and time_limit > 0):
        col.add("optimize", None, "time_limit", f"must be a finite number of seconds > 0, got {time_limit!r}")
    if solver not in ("highs", "cpsat"):
        col.add("optimize", None, "solver", f"must be 'highs' or 'cpsat', got {solver!r}")
    if unfilled_penalty is not None and (
            isinstance(unfilled_penalty, bool) or not isinstance(unfilled_penalty, int | float)
            or not math.isfinite(unfilled_penalty) or unfilled_penalty <= 0):
        col.add("optimize", None, "unfilled_penalty", f"must be a finite number > 0, got {unfilled_penalty!r}")


def check_methods(batch: OrderBatch, col: Collector) -> None:
    """Add to ``col`` every line that is not shipped (the optimizer plans parcels only)."""
    if batch.method is not None:
        for i in np.flatnonzero(np.asarray(batch.method, dtype=object) != "ship")[:100]:
            col.add("orders", int(i), "method",
                    f"optimize plans shipped lines only; route {batch.method[i]!r} lines with Router.route")


def prepare(orders: OrderBatch | Iterable[Order], network: Network, inventory: Inventory, policy: Policy | None,
            time_limit: object, solver: object, unfilled_penalty: object, node_capacity_orders: object,
            node_capacity_units: object) -> tuple[OrderBatch, Policy, np.ndarray, np.ndarray]:
    """Check the arguments of :func:`~sourcewise.engine.optimize.optimize` and convert them.

    Returns
    -------
    batch : OrderBatch
    policy : Policy
        ``policy`` or the default one.
    cap_o, cap_u : ndarray of int64
        Parcels and units per node (``INF_CAPACITY`` where unlimited).

    Raises
    ------
    ValidationError
        Everything wrong, listed together.
    ValueError
        ``inventory`` belongs to another network.
    """
    if inventory.network is not network:
        raise ValueError("inventory was built for a different network")
    batch = orders if isinstance(orders, OrderBatch) else batch_from_orders(network, orders)
    col = Collector()
    check_common(col, time_limit, solver, unfilled_penalty)
    for i in np.flatnonzero(pd.Series(batch.order_id).duplicated().to_numpy()):
        col.add("orders", str(batch.order_id[i]), "order_id", "duplicate order_id in batch")
    check_methods(batch, col)
    cap_o = capacity(node_capacity_orders, network, "node_capacity_orders", col, network.capacity_orders)
    cap_u = capacity(node_capacity_units, network, "node_capacity_units", col, network.capacity_units)
    col.raise_if_any()
    return batch, policy or Policy(), cap_o, cap_u


def new_router(network: Network, inventory: Inventory, policy: Policy, walkin: pd.DataFrame | None,
               vendor_offers: object) -> Router:
    """A router on ``inventory``: its costs, eligibility and greedy plans are the optimizer's reference."""
    return Router(network, inventory, policy, walkin=walkin, vendor_offers=vendor_offers)
