"""Validation errors that carry every failing row, not only the first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One failed check.

    Parameters
    ----------
    table : str
        Which table or object the value came from (``"nodes"``, ``"orders"``, ...).
    row : int or str or None
        Row number (0-based) or identifier of the offending record, ``None`` for the table.
    field : str
        Column or attribute name.
    reason : str
        Why the value was rejected.
    """

    table: str
    row: int | str | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = self.table if self.row is None else f"{self.table}[{self.row}]"
        return f"{where}.{self.field}: {self.reason}"


class ValidationError(ValueError):
    """Raised once per bad batch, listing every problem found.

    Parameters
    ----------
    problems : iterable of Problem
        All failed checks. Never empty.
    """

    def __init__(self, problems: Iterable[Problem]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("ValidationError needs at least one problem")
        n = len(self.problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = f"\n  ... and {n - 50} more" if n > 50 else ""
        super().__init__(f"{n} invalid value{'s' if n != 1 else ''}:\n{shown}{more}")


class Collector:
    """Accumulates problems and raises them together.

    Used by every validator so that a batch fails once, with all its rows.
    """

    __slots__ = ("problems",)

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, table: str, row: int | str | None, field: str, reason: str) -> None:
        self.problems.append(Problem(table, row, field, reason))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ValidationError(self.problems)


class OrderConflict(ValidationError):
    """Raised when an order id that already holds a decision is routed again with different content.

    Routing the same id with the same content is idempotent (the existing
    decision comes back and nothing more is reserved); different content
    means a different order under a reused id, or a retried request that was
    changed, and the router cannot tell which: it refuses and changes nothing.
    Subclasses :class:`ValidationError`, so code that handles bad input
    handles this too; ``problems`` name the order and the fields that differ.
    """
