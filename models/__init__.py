"""Immutable, validated domain values and their columnar form."""

from models.decision import (
    Allocation,
    CandidateNote,
    CostBreakdown,
    Decision,
    Explanation,
    Shipment,
    Status,
    TierNote,
)
from models.errors import Problem, ValidationError
from models.inventory import Inventory, StockRecord
from models.network import Network
from models.node import Node, NodeKind
from models.order import Order, OrderLine
from models.policy import (
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
from models.sku import Sku

__all__ = [
    "Allocation", "CandidateNote", "CostBreakdown", "CostModel", "Decision", "Explanation",
    "Inventory", "Network", "Node", "NodeKind", "Order", "OrderLine", "Policy", "Problem",
    "STRATEGIES", "Shipment", "Sku", "Status", "StockRecord", "ValidationError", "load_policy",
    "MethodPolicy", "ServicePolicy", "StorePolicy", "SubstitutePolicy", "Tier", "TierNote", "VendorPolicy",
]
