"""Sourcewise: order routing and inventory sourcing.

The front door. Everything a library user needs for the common case is here;
the rest lives in the sub-packages (:mod:`sourcewise.models` for the domain
values, :mod:`sourcewise.engine` for routing, optimisation, simulation and the
OMS adapters)::

    from sourcewise import Inventory, Network, Node, Order, OrderLine, Policy, Router, Sku, StockRecord

Names are imported on first use, so ``import sourcewise`` (and the
``sourcewise --version`` command) does not load numba and the kernels.
"""

from __future__ import annotations

import importlib
from importlib import metadata as _metadata
from typing import TYPE_CHECKING
from typing import Any

try:
    __version__ = _metadata.version("sourcewise")
except _metadata.PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"

# public name -> module that defines it
_FRONT_DOOR = {
    "Router": "sourcewise.engine.router",
    "ReservationError": "sourcewise.engine.router",
    "StoreError": "sourcewise.engine.ledger",
    "optimize": "sourcewise.engine.optimize",
    "reoptimize": "sourcewise.engine.optimize",
    "dual_prices": "sourcewise.engine.optimize",
    "load_scenario": "sourcewise.engine.scenario",
    "warm_up": "sourcewise.engine.warm",
    "Session": "sourcewise.engine.adapters",
    "AdapterError": "sourcewise.engine.adapters",
    "Allocation": "sourcewise.models",
    "CostBreakdown": "sourcewise.models",
    "Decision": "sourcewise.models",
    "Inventory": "sourcewise.models",
    "LineReason": "sourcewise.models",
    "Network": "sourcewise.models",
    "Node": "sourcewise.models",
    "Order": "sourcewise.models",
    "OrderConflict": "sourcewise.models",
    "OrderLine": "sourcewise.models",
    "Policy": "sourcewise.models",
    "Promise": "sourcewise.models",
    "Shipment": "sourcewise.models",
    "Sku": "sourcewise.models",
    "Status": "sourcewise.models",
    "StockRecord": "sourcewise.models",
    "ValidationError": "sourcewise.models",
    "load_policy": "sourcewise.models",
}

__all__ = [
    "__version__",
    "AdapterError",
    "Allocation",
    "CostBreakdown",
    "Decision",
    "Inventory",
    "LineReason",
    "Network",
    "Node",
    "Order",
    "OrderConflict",
    "OrderLine",
    "Policy",
    "Promise",
    "ReservationError",
    "Router",
    "Session",
    "Shipment",
    "Sku",
    "Status",
    "StockRecord",
    "StoreError",
    "ValidationError",
    "dual_prices",
    "load_policy",
    "load_scenario",
    "optimize",
    "reoptimize",
    "warm_up",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from sourcewise.engine.adapters import AdapterError
    from sourcewise.engine.adapters import Session
    from sourcewise.engine.ledger import StoreError
    from sourcewise.engine.optimize import dual_prices
    from sourcewise.engine.optimize import optimize
    from sourcewise.engine.optimize import reoptimize
    from sourcewise.engine.router import ReservationError
    from sourcewise.engine.router import Router
    from sourcewise.engine.scenario import load_scenario
    from sourcewise.engine.warm import warm_up
    from sourcewise.models import Allocation
    from sourcewise.models import CostBreakdown
    from sourcewise.models import Decision
    from sourcewise.models import Inventory
    from sourcewise.models import Network
    from sourcewise.models import Node
    from sourcewise.models import Order
    from sourcewise.models import OrderConflict
    from sourcewise.models import OrderLine
    from sourcewise.models import Policy
    from sourcewise.models import Promise
    from sourcewise.models import Shipment
    from sourcewise.models import Sku
    from sourcewise.models import Status
    from sourcewise.models import StockRecord
    from sourcewise.models import ValidationError
    from sourcewise.models import load_policy


def __getattr__(name: str) -> Any:
    try:
        module = _FRONT_DOOR[name]
    except KeyError:
        raise AttributeError(f"module 'sourcewise' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FRONT_DOOR))
