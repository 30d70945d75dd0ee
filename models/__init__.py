"""Immutable, validated domain values and their columnar form."""

from sourcewise.models.decision import Allocation
from sourcewise.models.decision import CandidateNote
from sourcewise.models.decision import CostBreakdown
from sourcewise.models.decision import Decision
from sourcewise.models.decision import Explanation
from sourcewise.models.decision import LineReason
from sourcewise.models.decision import Shipment
from sourcewise.models.decision import Status
from sourcewise.models.decision import TierNote
from sourcewise.models.errors import OrderConflict
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError
from sourcewise.models.inventory import Inventory
from sourcewise.models.inventory import StockRecord
from sourcewise.models.network import Network
from sourcewise.models.node import Node
from sourcewise.models.node import NodeKind
from sourcewise.models.order import Order
from sourcewise.models.order import OrderLine
from sourcewise.models.policy import STRATEGIES
from sourcewise.models.policy import CostModel
from sourcewise.models.policy import MethodPolicy
from sourcewise.models.policy import Policy
from sourcewise.models.policy import ServicePolicy
from sourcewise.models.policy import StorePolicy
from sourcewise.models.policy import SubstitutePolicy
from sourcewise.models.policy import Tier
from sourcewise.models.policy import VendorPolicy
from sourcewise.models.policy import load_policy
from sourcewise.models.promise import PickupOption
from sourcewise.models.promise import Promise
from sourcewise.models.promise import SameDayOption
from sourcewise.models.promise import StoreStock
from sourcewise.models.sku import Sku

__all__ = [
    "Allocation", "CandidateNote", "CostBreakdown", "CostModel", "Decision", "Explanation", "LineReason",
    "Inventory", "Network", "Node", "NodeKind", "Order", "OrderConflict", "OrderLine", "Policy", "Problem",
    "STRATEGIES", "Shipment", "Sku", "Status", "StockRecord", "ValidationError", "load_policy",
    "MethodPolicy", "ServicePolicy", "StorePolicy", "SubstitutePolicy", "Tier", "TierNote", "VendorPolicy",
    "PickupOption", "Promise", "SameDayOption", "StoreStock",
]
