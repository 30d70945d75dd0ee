"""Immutable, validated domain values and their columnar form."""

from sourcewise.models.decision import (
    Allocation,
    CandidateNote,
    CostBreakdown,
    Decision,
    Explanation,
    Shipment,
    Status,
    TierNote,
)
from sourcewise.models.errors import Problem, ValidationError
from sourcewise.models.inventory import Inventory, StockRecord
from sourcewise.models.network import Network
from sourcewise.models.node import Node, NodeKind
from sourcewise.models.order import Order, OrderLine
from sourcewise.models.policy import (
    STRATEGIES,
    CostModel,
    MethodPolicy,
    Policy,
    ServicePolicy,
    StorePolicy,
    SubstitutePolicy,
    Tier,
    VendorPolicy,
    load_policy,
)
from sourcewise.models.sku import Sku

__all__ = [
    "Allocation", "CandidateNote", "CostBreakdown", "CostModel", "Decision", "Explanation",
    "Inventory", "Network", "Node", "NodeKind", "Order", "OrderLine", "Policy", "Problem",
    "STRATEGIES", "Shipment", "Sku", "Status", "StockRecord", "ValidationError", "load_policy",
    "MethodPolicy", "ServicePolicy", "StorePolicy", "SubstitutePolicy", "Tier", "TierNote", "VendorPolicy",
]
