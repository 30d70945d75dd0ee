"""Scenario folders: CSV or Parquet tables plus an optional ``policy.toml``.

:func:`load_scenario` reads every table and the policy and checks them all
before it gives up, so that one :class:`~sourcewise.models.errors.ValidationError`
lists every problem of the folder, each located where a person finds it:
``orders.csv:3`` is the third line as a spreadsheet shows it (the header is
line 1), ``orders.parquet row 2`` the second row of a Parquet file, and
``policy.toml:7`` the line of the key.

:func:`staged_output` and :func:`write_tables` write outputs all or nothing.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar

import pandas as pd

from sourcewise.models.errors import Collector
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError
from sourcewise.models.errors import suggest
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.node import Node
from sourcewise.models.node import NodeKind
from sourcewise.models.policy import Policy
from sourcewise.models.policy import load_policy
from sourcewise.models.sku import Sku
from sourcewise.models.tables import PAIR_TABLES
from sourcewise.models.tables import OrderBatch
from sourcewise.models.tables import check_pair_table
from sourcewise.models.tables import inventory_from_frame
from sourcewise.models.tables import network_from_frames
from sourcewise.models.tables import orders_from_frame

if TYPE_CHECKING:
    from sourcewise.engine.substitutes import SubstituteIndex
    from sourcewise.engine.vendors import VendorOffers

T = TypeVar("T")

REQUIRED = ("nodes", "skus", "inventory", "orders")
OPTIONAL = ("walkin", "replenishment", "vendor_offers")

#: The tables only a journal folder has (``sourcewise journal export``; see :mod:`sourcewise.engine.journal`):
#: ``events`` marks a folder as a journal.
JOURNAL_TABLES = ("events", "recorded_orders", "recorded_allocations")

#: The columns a table of each name may have; other columns are kept but unused (a
#: column that looks like a misspelling of an absent one is an error).
COLUMNS: dict[str, tuple[str, ...]] = {
    "nodes": ("node_id", "kind", "lat", "lon", "priority", "ships", "pickup", "handling_per_shipment",
              "handling_per_unit", "processing_days", "fee_rate", "enabled", "region", "cutoff_hour",
              "capacity_orders", "capacity_units", "protect_units"),
    "skus": ("sku", "weight_kg", "price", "category", "brand", "tags", "substitutes"),
    "inventory": ("node_id", "sku", "on_hand", "safety_stock", "reserved"),
    "orders": ("order_id", "line_id", "sku", "qty", "lat", "lon", "allow_split", "max_shipments", "method",
               "pickup_node", "service_level", "channel", "created_at", "placed_at", "allow_substitutes", "day"),
    "walkin": ("node_id", "sku", *PAIR_TABLES["walkin"]),
    "replenishment": ("node_id", "sku", *PAIR_TABLES["replenishment"]),
    "vendor_offers": ("node_id", "sku", "price", "fee_rate", "lead_days", "reliability"),
}

# Ids are read exactly as written: "NA", "None" and "null" are ids like any other.
ID_COLUMNS = ("node_id", "sku", "order_id", "line_id", "pickup_node")
# Text columns: only an empty cell is missing ("NA" may be a region, a channel or a brand).
TEXT_COLUMNS = ("kind", "region", "method", "service_level", "channel", "category", "brand", "tags",
                "substitutes", "created_at", "placed_at")
# What other (numeric and true/false) columns read as missing, as pandas does by default.
NA_STRINGS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
              "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
# Which ids name a row of each table in a message
_ROW_IDS = {"orders": ("order_id", "line_id"), "nodes": ("node_id",), "skus": ("sku",)}
_ID_LABEL = {"order_id": "order", "line_id": "line", "node_id": "node", "sku": "sku"}
# Tables without rows that make no scenario (inventory may be empty: everything is backordered)
_NEED_ROWS = ("nodes", "skus", "orders")


class OutputError(ValidationError):
    """Outputs could not be written; nothing of them was left behind and the old files are intact."""


@dataclass(frozen=True, eq=False)
class Scenario:
    """A validated scenario: network, starting stock, orders and policy.

    ``tables`` keeps every table read, including optional ones (``walkin``,
    ``replenishment``, ``vendor_offers``) that later stages use;
    ``vendor_offers`` and ``substitutes`` are those tables already validated
    (``None`` when the scenario was built in memory); ``files`` says where
    each table came from, for :meth:`locate`; ``ignored`` names files of the
    folder that are not scenario tables.
    """

    network: Network
    inventory: Inventory
    orders: OrderBatch
    policy: Policy
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    path: Path | None = None
    vendor_offers: VendorOffers | None = None
    substitutes: SubstituteIndex | None = None
    files: dict[str, TableFile] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()

    def locate(self, exc: ValidationError) -> ValidationError:
        """``exc`` with each problem about a row of a table of this scenario's folder located in its file."""
        if not self.files:
            return exc
        return ValidationError(locate_problems(exc.problems, self.files, self.tables), title=f"scenario {self.path}")


class TableFile:
    """One table's file, and where each of its rows is as a person counts them.

    Parameters
    ----------
    path : Path
        ``NAME.csv`` or ``NAME.parquet``.
    """

    def __init__(self, path: Path):
        self.path = path
        self.csv = path.suffix == ".csv"
        self._lines: list[int] | None = None

    def where(self, row: int | None, *, header: bool = False) -> str:
        """``path:line`` of data row ``row`` (0-based) of a CSV file, ``path row N`` of a Parquet file.

        ``row=None`` names the file, or its header line with ``header=True``.
        """
        if row is None:
            return f"{self.path}:1" if header and self.csv else str(self.path)
        return f"{self.path}:{self.number(row)}" if self.csv else f"{self.path} row {self.number(row)}"

    def number(self, row: int) -> int:
        """The line (CSV) or 1-based row (Parquet) of data row ``row`` (0-based)."""
        if not self.csv:
            return row + 1
        if self._lines is None:
            self._lines = _record_lines(self.path)
        return self._lines[row] if row < len(self._lines) else row + 2

    def read(self, col: Collector) -> pd.DataFrame | None:
        """The table, or ``None`` with the reasons it cannot be read in ``col``."""
        try:
            return self._read_csv(col) if self.csv else self._read_parquet(col)
        except OSError as exc:
            self._add(col, None, f"cannot be read ({exc.strerror or exc})")
            return None

    def _add(self, col: Collector, line: int | None, reason: str) -> None:
        col.extend([Problem("scenario", None, "", reason,
                            where=str(self.path) if line is None else f"{self.path}:{line}")])

    def _read_parquet(self, col: Collector) -> pd.DataFrame | None:
        import pyarrow as pa

        try:
            return pd.read_parquet(self.path)
        except (ValueError, pa.ArrowException) as exc:
            self._add(col, None, f"is not a readable Parquet file ({_one_line(exc)})")
            return None

    def _read_csv(self, col: Collector) -> pd.DataFrame | None:
        path = self.path
        with path.open("rb") as fh:
            start = fh.read(4096)
        if len(start) < 4096 and not start.strip(b"\xef\xbb\xbf \t\r\n"):
            self._add(col, None, "is empty: its first line must name the columns")
            return None
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                header = next(csv.reader(fh), [])
        except UnicodeDecodeError:
            self._not_utf8(col)
            return None
        except csv.Error as exc:
            self._add(col, 1, f"the header cannot be read ({_one_line(exc)})")
            return None
        if not any(h.strip() for h in header):
            self._add(col, 1, "line 1 is blank: it must name the columns")
            return None
        repeated = sorted({h for h in header if header.count(h) > 1})
        for h in repeated:
            self._add(col, 1, f"column {h!r} appears more than once")
        if repeated:
            return None
        na = {h: [] if h in ID_COLUMNS else [""] if h in TEXT_COLUMNS else list(NA_STRINGS) for h in header}
        text = {h: str for h in header if h in ID_COLUMNS or h in TEXT_COLUMNS}
        try:
            with warnings.catch_warnings():
                # a row longer than the header would otherwise shift into an index or lose cells
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(path, encoding="utf-8-sig", dtype=text, keep_default_na=False, na_values=na,
                                   index_col=False)
        except UnicodeDecodeError:
            self._not_utf8(col)
        except (pd.errors.ParserWarning, pd.errors.ParserError, ValueError) as exc:
            if not self._long_rows(col, len(header)):
                # pandas counts "line N" from 1 but "row N" from 0 (the header being row 0)
                m = re.search(r"\b(line|row) (\d+)", str(exc))
                line = None if m is None else int(m.group(2)) + (m.group(1) == "row")
                self._add(col, line, "a quote opened on this line is never closed" if "EOF inside string" in str(exc)
                          else f"cannot be parsed as CSV ({_one_line(exc)})")
        return None

    def _not_utf8(self, col: Collector) -> None:
        raw = self.path.read_bytes()
        try:
            raw.decode("utf-8")
            self._add(col, None, "is not UTF-8 text")
        except UnicodeDecodeError as exc:
            self._add(col, raw[:exc.start].count(b"\n") + 1,
                      f"is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")

    def _long_rows(self, col: Collector, width: int) -> bool:
        """Report every row with more cells than the header has columns; whether there was one."""
        found = False
        with self.path.open(encoding="utf-8-sig", newline="") as fh:
            try:
                for n, rec in enumerate(csv.reader(fh), 1):
                    if len(rec) > width:
                        self._add(col, n, f"has {len(rec)} cells but the header names {width} columns")
                        found = True
            except csv.Error:
                pass  # pandas' own message is reported instead
        return found


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, at most ``limit`` characters: one problem, one line."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _record_lines(path: Path) -> list[int]:
    """Spreadsheet line of each data row pandas reads from a CSV file.

    A record is one line as a spreadsheet shows it: a quoted cell may span
    physical lines, and blank lines count but hold no data row (pandas
    skips them).
    """
    lines: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        try:
            for n, rec in enumerate(csv.reader(fh), 1):
                if n > 1 and rec and not (len(rec) == 1 and not rec[0].strip()):
                    lines.append(n)
        except csv.Error:
            pass  # a record the csv module refuses (pandas read it): later rows count as one line each
    return lines


def _table_files(folder: Path, col: Collector) -> tuple[dict[str, Path], set[str], tuple[str, ...]]:
    """The table files of ``folder`` by table name, every table name it holds, and the files that are none.

    A table given both as CSV and as Parquet is ambiguous: a problem, and neither is read.
    """
    by_name: dict[str, list[Path]] = {}
    ignored = []
    for p in sorted(folder.iterdir()):
        if p.suffix in (".csv", ".parquet") and (p.stem in COLUMNS or p.stem in JOURNAL_TABLES):
            by_name.setdefault(p.stem, []).append(p)
        elif p.name != "policy.toml":
            ignored.append(p.name)
    files = {}
    for name, paths in by_name.items():
        if len(paths) > 1:
            col.extend([Problem("scenario", None, "", f"both {paths[0].name} and {paths[1].name} exist: "
                                                      "keep one, the other would be ignored", where=str(folder))])
        elif not paths[0].is_file():
            col.extend([Problem("scenario", None, "", "is a folder, not a table", where=str(paths[0]))])
        else:
            files[name] = paths[0]
    return files, set(by_name), tuple(ignored)


def _ids_of(df: pd.DataFrame, table: str, row: int) -> str | None:
    """``order 'O-1', line 'O-1-2'`` for a row of the orders table (``node`` and ``sku`` elsewhere)."""
    if row >= len(df):
        return None
    parts = []
    for c in _ROW_IDS.get(table, ("node_id", "sku")):
        if c in df.columns:
            v = df[c].iloc[row]
            if not pd.isna(v) and str(v).strip():
                parts.append(f"{_ID_LABEL[c]} {str(v)!r}")
    return ", ".join(parts) or None


def locate_problems(problems: Iterable[Problem], files: dict[str, TableFile],
            frames: dict[str, pd.DataFrame | None]) -> list[Problem]:
    """Problems about table rows and columns, each with its file, line and ids; sorted by file and line.

    The same problem on many rows (one unknown id referred to throughout a
    table, a column left blank) is listed once, at its first row, with the
    numbers of the others.
    """
    keyed = []
    repeats: dict[tuple[str, str, str], list[int]] = {}
    for k, p in enumerate(problems):
        src = files.get(p.table) if p.where is None else None
        if src is not None and isinstance(p.row, int):
            same = repeats.setdefault((p.table, p.field, p.reason), [])
            same.append(p.row)
            if len(same) > 1:
                continue
        keyed.append((str(src.path) if src is not None else p.where or "", p.row if src else -1, k, p))
    keyed.sort(key=lambda x: (x[0], x[1] if isinstance(x[1], int) else -1, x[2]))
    out = []
    for _, row, _, p in keyed:
        src = files.get(p.table) if p.where is None else None
        if src is not None:
            if isinstance(row, int):
                reason = p.reason
                others = sorted(r for r in repeats[(p.table, p.field, p.reason)] if r != row)
                if others:
                    shown = ", ".join(str(src.number(r)) for r in others[:10])
                    reason += (f"; the same on {len(others)} more {'line' if src.csv else 'row'}"
                               f"{'s' if len(others) > 1 else ''}: {shown}{', ...' if len(others) > 10 else ''}")
                df = frames.get(p.table)
                p = replace(p.located(src.where(row), _ids_of(df, p.table, row) if df is not None else None),
                            reason=reason)
            else:
                p = p.located(src.where(None, header=p.row is None and bool(p.field)))
        out.append(p)
    return out


def misspelt_columns(frames: dict[str, pd.DataFrame | None], out: list[Problem],
                      columns: dict[str, tuple[str, ...]] | None = None) -> None:
    """A problem for each column that looks like a misspelling of a column its table lacks.

    ``columns`` names each table's columns (default :data:`COLUMNS`), for tables
    that are read outside a scenario folder (a prices table).
    """
    for name, df in frames.items():
        if df is None:
            continue
        known = (columns or COLUMNS).get(name)
        if known is None:
            continue  # a journal's own tables: engine.journal checks them
        absent = [c for c in known if c not in df.columns]
        for c in df.columns:
            if c not in known and (hint := suggest(str(c), absent)):
                out.append(Problem(name, None, str(c), f"is not a column of {name}{hint}"))


def _stand_in(frames: dict[str, pd.DataFrame | None]) -> Network:
    """A network of the node and SKU ids the tables name, to check the other tables while ``nodes`` or ``skus`` is bad.

    Ids come from the ``nodes`` and ``skus`` tables when they can be read
    and have rows, else from every table that refers to them (so that no
    reference is reported against a table that could not be used). Kinds are taken from
    ``nodes`` where valid; any other node stands in as a vendor.
    """
    def ids(table: str, column: str, kinds: str | None = None) -> dict[str, str] | None:
        df = frames.get(table)
        if df is None or column not in df.columns or not len(df):
            return None
        kind = (df[kinds].astype(str).str.strip().str.lower() if kinds and kinds in df.columns
                else pd.Series(["vendor"] * len(df), index=df.index))
        out: dict[str, str] = {}
        for v, k in zip(df[column].tolist(), kind.tolist(), strict=True):
            if not pd.isna(v) and str(v).strip():
                out.setdefault(str(v), k if k in {x.value for x in NodeKind} else "vendor")
        return out

    def referenced(column: str, tables: tuple[str, ...]) -> dict[str, str]:
        out: dict[str, str] = {}
        for t in tables:
            out.update(ids(t, column) or {})
        return out

    nodes = ids("nodes", "node_id", "kind")
    if nodes is None:
        nodes = referenced("node_id", ("inventory", *OPTIONAL)) | referenced("pickup_node", ("orders",))
    skus = ids("skus", "sku")
    if skus is None:
        skus = referenced("sku", ("inventory", "orders", *OPTIONAL))
    return Network.build([Node(i, k, 0.0, 0.0) for i, k in nodes.items()], [Sku(s) for s in skus])


def _check(out: list[Problem], fn: Callable[..., T], *args: Any,
           keep: Callable[[Problem], bool] | None = None) -> T | None:
    """``fn(*args)``, or ``None`` with its problems (those ``keep`` accepts) added to ``out``; ``None`` for a missing table."""
    if any(a is None for a in args):
        return None
    try:
        return fn(*args)
    except ValidationError as exc:
        out.extend(p for p in exc.problems if keep is None or keep(p))
        return None


def load_scenario(folder: str | Path, *, orders: bool = True) -> Scenario:
    """Read and validate a scenario folder.

    Every table and the policy are checked, each as far as it can be, before
    anything is refused: a bad node does not hide a bad order line, and a bad
    policy does not hide either. While ``nodes`` or ``skus`` is bad, the other
    tables are checked against the ids it does list.

    A folder with an ``events`` table is a journal (``sourcewise journal
    export``): its orders are read one per routing (``seq``), so an id routed
    again after a release is a second order (see :mod:`sourcewise.engine.journal`).

    Files other than the tables (``nodes``, ``skus``, ``inventory``,
    ``orders``, ``walkin``, ``replenishment``, ``vendor_offers``, a journal's
    ``events``, ``recorded_orders`` and ``recorded_allocations``, as ``.csv``
    or ``.parquet``) and ``policy.toml`` are ignored and listed in
    :attr:`Scenario.ignored`. CSV files are UTF-8 (a byte-order mark is
    accepted); ids are read exactly as written (``NA`` and ``None`` are ids).

    Raises
    ------
    ValidationError
        Titled ``scenario FOLDER``, listing every problem: missing, ambiguous
        (both ``.csv`` and ``.parquet``), unreadable or empty tables, missing
        or misspelt columns, every bad row of every table (located as
        ``file:line`` with its ids, see :class:`TableFile`) and every problem
        of ``policy.toml`` (with its line).
    """
    from sourcewise.engine.substitutes import SubstituteIndex
    from sourcewise.engine.vendors import VendorOffers

    folder = Path(folder)
    title = f"scenario {folder}"
    col = Collector()
    if not folder.is_dir():
        reason = "is not a folder" if folder.exists() else "does not exist"
        raise ValidationError([Problem("scenario", None, "", reason, where=str(folder))], title=title)
    try:
        paths, named, ignored = _table_files(folder, col)
    except OSError as exc:
        raise ValidationError([Problem("scenario", None, "", f"cannot be listed ({exc.strerror or exc})",
                                       where=str(folder))], title=title) from None
    files = {name: TableFile(p) for name, p in paths.items()}
    frames = {name: f.read(col) for name, f in files.items()}
    journal = frames.get("events") is not None
    if journal:
        # a journal folder: each routing of an order is an order of its own, and its tables typed
        from sourcewise.engine.journal import journal_orders
        from sourcewise.engine.journal import journal_tables

        frames = journal_tables(frames)
    for name in REQUIRED if orders else REQUIRED[:3]:
        if name not in named:
            col.extend([Problem("scenario", None, "", f"has no table {name} ({name}.csv or {name}.parquet)"
                                + suggest(name, [n for n in ignored if n.endswith((".csv", ".parquet"))]),
                                where=str(folder))])
    for name, df in frames.items():
        if df is not None and not len(df) and name in _NEED_ROWS and (orders or name != "orders"):
            col.extend([Problem("scenario", None, "", "has no rows", where=str(files[name].path))])
    policy = _check(col.problems, load_policy, folder / "policy.toml")
    found: list[Problem] = []
    misspelt_columns(frames, found)
    nodes, skus = frames.get("nodes"), frames.get("skus")
    # without rows (reported above) the tables make no network: references to them are not checked
    network = _check(found, network_from_frames, nodes, skus) if all(
        df is not None and len(df) for df in (nodes, skus)) else None
    ref = network if network is not None else _stand_in(frames)
    inventory = _check(found, inventory_from_frame, ref, frames.get("inventory"))
    batch = _check(found, journal_orders if journal else orders_from_frame, ref,
                   frames.get("orders")) if orders else None
    for name in PAIR_TABLES:
        _check(found, check_pair_table, ref, frames.get(name), name)
    offers = _check(found, VendorOffers.from_frame, ref, frames.get("vendor_offers"))
    # a bad skus table has had its empty, repeated and unknown ids and bad prices reported already
    subs = _check(found, SubstituteIndex.from_frame, ref, skus,
                  keep=None if network is not None else lambda p: p.field not in ("sku", "price"))
    problems = col.problems + locate_problems(found, files, frames)
    if problems:
        raise ValidationError(problems, title=title)
    tables = {name: df for name, df in frames.items() if df is not None}
    return Scenario(network, inventory, batch, policy, tables, folder, vendor_offers=offers, substitutes=subs,
                    files=files, ignored=ignored)


def load_orders(path: str | Path, network: Network) -> OrderBatch:
    """An orders table outside a scenario folder (a demand forecast), checked as a scenario's ``orders``.

    The file has the columns of a scenario's ``orders`` table and is CSV or
    Parquet by its extension.

    Raises
    ------
    ValidationError
        Titled ``orders PATH``, listing every problem as :func:`load_scenario`
        does: a missing or unreadable file, no rows, missing or misspelt
        columns, and every bad row (``PATH:LINE`` with its order and line ids).
    """
    path = Path(path)
    title = f"orders {path}"

    def refuse(reason: str) -> ValidationError:
        return ValidationError([Problem("orders", None, "", reason, where=str(path))], title=title)

    if path.suffix.lower() not in (".csv", ".parquet"):
        raise refuse(f"must end in .csv or .parquet, got {path.name!r}")
    if not path.is_file():
        raise refuse("is a folder, not a table" if path.is_dir() else "does not exist")
    tf = TableFile(path)
    col = Collector()
    df = tf.read(col)
    if df is None:
        raise ValidationError(col.problems, title=title)
    if not len(df):
        raise refuse("has no rows")
    found: list[Problem] = []
    misspelt_columns({"orders": df}, found)
    batch = _check(found, orders_from_frame, network, df)
    if found or batch is None:
        raise ValidationError(locate_problems(found, {"orders": tf}, {"orders": df}), title=title)
    return batch


def flag_problem(flag: str, reason: str) -> Problem:
    """A problem with a command-line value, shown as ``--flag: reason``."""
    return Problem("command line", None, "", reason, where=flag)


def load_for_command(folder: str | Path, *, out: str | Path | None = None, problems: Iterable[Problem] = (),
                     orders: bool = True) -> Scenario:
    """:func:`load_scenario` for a command: the scenario's problems and the command line's in one error.

    Parameters
    ----------
    folder : path
        The scenario folder.
    out : path, optional
        The output folder, checked with :func:`output_problem` before anything runs.
    problems : iterable of Problem
        What the command found wrong with its other arguments (see :func:`flag_problem`).
    orders : bool
        Whether the scenario needs its orders table.

    Raises
    ------
    ValidationError
        Titled ``scenario FOLDER``, listing the command-line problems first.
    """
    found = list(problems)
    if out is not None and (reason := output_problem(out)) is not None:
        found.append(flag_problem(f"--out {out}", reason))
    sc = None
    try:
        sc = load_scenario(folder, orders=orders)
    except ValidationError as exc:
        found.extend(exc.problems)
    if found or sc is None:
        raise ValidationError(found, title=f"scenario {folder}")
    return sc


def read_table(folder: Path, name: str) -> pd.DataFrame | None:
    """Table ``name`` of ``folder`` (``name.csv`` or ``name.parquet``), ``None`` when there is none.

    Read as :func:`load_scenario` reads it (ids as written, UTF-8).

    Raises
    ------
    ValidationError
        When both files exist, or the one there cannot be read.
    """
    col = Collector()
    candidates = [p for p in (folder / f"{name}.csv", folder / f"{name}.parquet") if p.exists()]
    if len(candidates) > 1:
        col.extend([Problem("scenario", None, "", f"both {name}.csv and {name}.parquet exist: keep one",
                            where=str(folder))])
    df = TableFile(candidates[0]).read(col) if len(candidates) == 1 else None
    col.raise_if_any()
    return df


# --------------------------------------------------------------------------- outputs
def output_problem(out: str | Path) -> str | None:
    """Why ``out`` cannot be an output folder, or ``None``.

    It must be a folder or not exist yet, with no file among the folders
    above it, and the process must be allowed to write there.
    """
    p = Path(out)
    if p.exists() and not p.is_dir():
        return "exists and is not a folder"
    if p.is_symlink() and not p.exists():
        return "is a broken symbolic link"
    parent = next((q for q in [p.absolute(), *p.absolute().parents] if q.exists()), None)
    if parent is not None and not parent.is_dir():
        return f"{parent} is not a folder"
    if parent is not None and not os.access(parent, os.W_OK | os.X_OK):
        return f"{parent} is not writable"
    return None


def _output_error(out: Path, reason: str, where: Path | None = None) -> OutputError:
    return OutputError([Problem("output", None, "", reason, where=str(where or out))], title=f"output {out}")


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    else:
        p.unlink()


def _publish(stage: Path, out: Path, old: Path, remove: Iterable[str]) -> list[Path]:
    """Move everything in ``stage`` into ``out``; on any failure put ``out`` back as it was.

    A missing ``out`` is ``stage`` renamed: the folder appears whole. Into an
    existing one each file replaces its namesake in one rename (the old file
    is kept as a hard link in ``old``, or moved there where links are not
    possible) and the names in ``remove`` move to ``old``; a failure part way
    undoes every step in reverse.
    """
    entries = sorted(stage.iterdir())
    if not out.exists():
        os.rename(stage, out)
        return [out / e.name for e in entries]
    for e in entries:
        d = out / e.name
        if d.exists() and not d.is_symlink() and d.is_dir() != e.is_dir():
            what = "folder" if d.is_dir() else "file"
            raise _output_error(out, f"is a {what} in the way of the new {'folder' if e.is_dir() else 'file'}; "
                                     "move it away", d)
    old.mkdir()
    done: list[tuple[Path, Path | None, bool, bool]] = []  # (target, backup, backup is a link, new placed)
    try:
        for e in entries:
            d = out / e.name
            backup, linked = None, False
            if d.exists() or d.is_symlink():
                backup = old / e.name
                try:
                    if e.is_dir():
                        raise OSError("folders are moved, not linked")
                    os.link(d, backup, follow_symlinks=False)
                    linked = True
                except OSError:
                    os.rename(d, backup)
            done.append((d, backup, linked, False))
            os.replace(e, d)
            done[-1] = (d, backup, linked, True)
        for name in remove:
            d = out / name
            if (d.exists() or d.is_symlink()) and not (stage / name).exists():
                done.append((d, old / name, False, False))
                os.rename(d, old / name)
    except BaseException:
        for d, backup, linked, placed in reversed(done):
            if placed and not (linked and backup is not None):
                _remove(d)
            if backup is not None and (placed or not linked) and (backup.exists() or backup.is_symlink()):
                os.replace(backup, d)
        raise
    return [out / e.name for e in entries]


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, outermost first."""
    missing = [q for q in [folder, *folder.parents] if not q.exists()][::-1]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


@contextmanager
def staged_output(out: str | Path, prefix: str = ".stage-", *,
                  remove: Iterable[str] = ()) -> Iterator[tuple[Path, list[Path]]]:
    """A new scratch folder beside ``out`` whose files move into ``out`` only when the block succeeds.

    Yields ``(stage, written)``: write every output file into ``stage``. When
    the block ends normally they all move into ``out`` (replacing namesakes;
    the names in ``remove`` are taken away too) and ``written`` lists their
    final paths. If anything fails (the block, or a move) ``out`` is left
    exactly as it was, folders this call created are removed, and the error
    propagates; a failure to write is an :class:`OutputError`. The stage is a
    fresh folder with a random name (``tempfile.mkdtemp``), so no file or
    symbolic link planted at a predictable temporary path is ever followed.

    Parameters
    ----------
    out : path
        The output folder; created (with its parents) when missing.
    prefix : str
        Start of the stage folder's name (after ``.NAME``), for the curious.
    remove : iterable of str
        Names in ``out`` the new output supersedes (e.g. the tables of another format).

    Raises
    ------
    OutputError
        ``out`` is not a folder, cannot be written, or a file of the output
        cannot be written or moved into place.
    """
    out = Path(out)
    if (reason := output_problem(out)) is not None:
        raise _output_error(out, reason)
    parent = out.absolute().parent
    made: list[Path] = []
    try:
        made = _make_folders(parent)
        try:
            box = Path(tempfile.mkdtemp(prefix=f".{out.name or 'out'}{prefix}", dir=parent))
        except PermissionError:
            if not out.is_dir():
                raise
            box = Path(tempfile.mkdtemp(prefix=f".{out.name or 'out'}{prefix}", dir=out))
    except OSError as exc:
        for q in reversed(made):
            q.rmdir()
        raise _output_error(out, f"cannot be created ({exc.strerror or exc})") from None
    stage = box / "new"
    stage.mkdir()
    written: list[Path] = []
    done = False
    try:
        try:
            yield stage, written
            written.extend(_publish(stage, out, box / "old", remove))
        except OSError as exc:
            raise _output_error(out, f"cannot be written ({exc.strerror or exc})") from exc
        done = True
    finally:
        shutil.rmtree(box, ignore_errors=True)
        if not done:
            for q in reversed(made):
                try:
                    q.rmdir()
                except OSError:
                    break


def write_tables(out: str | Path, tables: dict[str, pd.DataFrame], fmt: str = "csv") -> list[Path]:
    """Write ``NAME.fmt`` for each table into ``out``, all or nothing (see :func:`staged_output`).

    Returns
    -------
    list of Path
        The files written.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    with staged_output(out, ".tables-") as (stage, written):
        for name, df in tables.items():
            if fmt == "csv":
                df.to_csv(stage / f"{name}.csv", index=False)
            else:
                df.to_parquet(stage / f"{name}.parquet", index=False)
    return written


def build_router(scenario: Scenario, policy: Policy | None = None, **kwargs):
    """A :class:`~sourcewise.engine.router.Router` with everything the scenario carries.

    Walk-in demand (``walkin``), vendor offers (``vendor_offers``) and SKU
    attributes for substitutes (``skus``) are wired in when present.
    Keyword arguments go to the Router (e.g. ``gateway``, ``business_day``).

    Raises
    ------
    ValidationError
        Listing every bad row of the optional tables together (for a
        scenario :func:`load_scenario` did not check).
    """
    from sourcewise.engine.router import Router
    from sourcewise.engine.substitutes import SubstituteIndex
    from sourcewise.engine.vendors import VendorOffers

    problems: list[Problem] = []
    offers, subs = scenario.vendor_offers, scenario.substitutes
    if offers is None:
        offers = _check(problems, VendorOffers.from_frame, scenario.network, scenario.tables.get("vendor_offers"))
    if subs is None:
        subs = _check(problems, SubstituteIndex.from_frame, scenario.network, scenario.tables.get("skus"))
    if problems:
        raise scenario.locate(ValidationError(problems))
    return Router(scenario.network, scenario.inventory, policy or scenario.policy,
                  walkin=scenario.tables.get("walkin"), vendor_offers=offers, substitutes=subs, **kwargs)
