"""Stock-keeping units."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sourcewise.models.errors import Collector


@dataclass(frozen=True, slots=True)
class Sku:
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

    def __post_init__(self) -> None:
        col = Collector()
        self.validate_into(col)
        col.raise_if_any()

    def validate_into(self, col: Collector) -> None:
        """Append every problem with this SKU to ``col``."""
        row = self.sku if isinstance(self.sku, str) and self.sku else "?"
        if not isinstance(self.sku, str) or not self.sku.strip():
            col.add("skus", row, "sku", "must be a non-empty string")
        for name in ("weight_kg", "price"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                col.add("skus", row, name, f"must be a finite number >= 0, got {v!r}")
