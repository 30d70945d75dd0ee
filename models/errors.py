"""Validation errors that carry every failing row, not only the first."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace

# How many problems a message lists before it says how many more there are.
SHOWN = 1000


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
    where : str or None
        Where a person finds the value, e.g. ``data/x/orders.csv:3`` (the line a
        spreadsheet shows) or ``data/x/orders.parquet, row 2``; set when the
        value came from a file (see :func:`sourcewise.engine.scenario.load_scenario`).
    ids : str or None
        The record's identifiers, e.g. ``order 'O-1', line 'O-1-2'``.
    """

    table: str
    row: int | str | None
    field: str
    reason: str
    where: str | None = None
    ids: str | None = None

    def __str__(self) -> str:
        ids = f" ({self.ids})" if self.ids else ""
        if self.where is not None:
            field = f"{self.field}: " if self.field else ""
            return f"{self.where}: {field}{self.reason}{ids}"
        where = self.table if self.row is None else f"{self.table}[{self.row}]"
        return f"{where}.{self.field}: {self.reason}{ids}"

    def located(self, where: str, ids: str | None = None) -> Problem:
        """This problem, found at ``where`` (a file and line) in the record ``ids``."""
        return replace(self, where=where, ids=ids if ids is not None else self.ids)


def suggest(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when ``name`` looks like a misspelling of one of ``candidates``, else ``""``.

    Case and surrounding blanks are ignored (``" Qty"`` suggests ``qty``).
    """
    pool = {str(c).strip().lower(): str(c) for c in candidates}
    close = difflib.get_close_matches(str(name).strip().lower(), list(pool), n=1, cutoff=0.75)
    return f"; did you mean {pool[close[0]]!r}?" if close else ""


class ValidationError(ValueError):
    """Raised once per bad batch, listing every problem found.

    Parameters
    ----------
    problems : iterable of Problem
        All failed checks. Never empty.
    title : str, optional
        What was checked (``"scenario data/x"``); the message then reads
        ``"scenario data/x: 3 problems"`` followed by one line per problem.
    """

    def __init__(self, problems: Iterable[Problem], *, title: str | None = None):
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("ValidationError needs at least one problem")
        self.title = title
        n = len(self.problems)
        s = "s" if n != 1 else ""
        head = f"{title}: {n} problem{s}" if title else f"{n} invalid value{s}"
        shown = "\n".join(f"  - {p}" for p in self.problems[:SHOWN])
        more = f"\n  ... and {n - SHOWN} more" if n > SHOWN else ""
        super().__init__(f"{head}:\n{shown}{more}")


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


class SelfChecking:
    """Base of the frozen dataclass records that check themselves when made.

    :meth:`validate_into` adds every problem of the record to a collector, so
    a loader can check many rows and report them all at once; making one
    record directly raises its problems together.
    """

    __slots__ = ()

    def __post_init__(self) -> None:
        col = Collector()
        self.validate_into(col)
        col.raise_if_any()

    def validate_into(self, col: Collector) -> None:
        """Append every problem of this record to ``col``."""
        raise NotImplementedError


def checked_id(col: Collector, table: str, field: str, value: object) -> str:
    """The row label of a record whose id is ``value``, reporting an id that is not a non-empty string.

    The label is the id itself, or ``"?"`` when there is none to show.
    """
    if not isinstance(value, str) or not value.strip():
        col.add(table, value if isinstance(value, str) and value else "?", field, "must be a non-empty string")
    return value if isinstance(value, str) and value else "?"


def check_non_negative_fields(obj: object, col: Collector, table: str, row: str | None,
                              numbers: tuple[type, ...] = (int, float)) -> None:
    """Report every field of the dataclass ``obj`` that is not a finite number >= 0.

    ``numbers`` are the types that count as numbers; ``bool`` never does,
    though it is an ``int``: ``true`` for a rate is a mistake, not 1.
    """
    for f in fields(obj):
        v = getattr(obj, f.name)
        if not isinstance(v, numbers) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
            col.add(table, row, f.name, f"must be a finite number >= 0, got {v!r}")


class OrderConflict(ValidationError):
    """Raised when an order id that already holds a decision is routed again with different content.

    Routing the same id with the same content is idempotent (the existing
    decision comes back and nothing more is reserved); different content
    means a different order under a reused id, or a retried request that was
    changed, and the router cannot tell which: it refuses and changes nothing.
    Subclasses :class:`ValidationError`, so code that handles bad input
    handles this too; ``problems`` name the order and the fields that differ.
    """
