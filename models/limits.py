"""Bounds on the numbers a scenario, a policy or an order may hold.

Every integer read from a file is checked against one of these before it is
stored in an int64 array, so that no value wraps, rounds or overflows on the
way in: a value past a bound is reported as a problem instead.
"""

from __future__ import annotations

# Most units one order may ask for, over all its lines (2**40, about 1.1e12). Far above any real
# order, and low enough that the router's int64 books cannot overflow: group totals, batch sums
# (float64, exact to 2**53) and reservations all stay exact. Stock figures of a scenario table
# (on hand, safety stock, reserved, capacities, protected and replenished units) share the bound.
MAX_QTY: int = 1 << 40

# Largest node priority in either direction (priorities only rank nodes).
MAX_PRIORITY: int = 10**9

# Longest span in days a scenario or policy may name (processing, lead and transit days,
# deadlines, protection cover, replenishment days): ten years.
MAX_DAYS: int = 3650

# Largest count a policy key may hold (split limits, candidate pools, explanation and
# substitute lists).
MAX_COUNT: int = 1_000_000
