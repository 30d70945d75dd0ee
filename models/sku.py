"""Stock-keeping units."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sourcewise.models.errors import Collector
from sourcewise.models.errors import SelfChecking
from sourcewise.models.errors import checked_id


@dataclass(frozen=True, slots=True)
class Sku(SelfChecking):
    """A sellable item.

    Parameters
    ----------
    sku : str
        Unique identifier.
    weight_kg : float
        Shipping weight, >= 0.
    price : float
        Selling price, >= 0; vendor fees are a fraction of it.
    """

    sku: str
    weight_kg: float = 0.0
    price: float = 0.0

    def validate_into(self, col: Collector) -> None:
        """Append every problem with this SKU to ``col``."""
        row = checked_id(col, "skus", "sku", self.sku)
        for name in ("weight_kg", "price"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                col.add("skus", row, name, f"must be a finite number >= 0, got {v!r}")
