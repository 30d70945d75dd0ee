"""Prices tables: the ``dual`` strategy's price of one unit at each inventory entry, as a file.

A prices table has the columns ``node_id, sku, price`` and is CSV or
Parquet by its extension (``.csv``, ``.parquet``). ``cli.py optimize
--write-prices`` writes one (every inventory entry, zeros included);
``cli.py route --strategy dual --prices`` and ``cli.py simulate
--dual-prices`` read one back. A table may list only some entries: those it
leaves out cost nothing extra (price 0), as they do under the ``cost``
strategy.

:func:`read_prices` checks the whole file before it refuses it, as
:func:`~sourcewise.engine.scenario.load_scenario` checks a scenario: one
:class:`~sourcewise.models.errors.ValidationError` lists every bad row, each
located as ``FILE:LINE`` (``FILE row N`` for Parquet) with its node and SKU.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from sourcewise.engine.scenario import TableFile
from sourcewise.engine.scenario import locate_problems
from sourcewise.engine.scenario import misspelt_columns
from sourcewise.models.errors import Collector
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.tables import node_sku_pairs
from sourcewise.models.tables import numeric_column
from sourcewise.models.tables import repeated_pairs
from sourcewise.models.tables import require_columns

__all__ = ["COLUMNS", "SUFFIXES", "read_prices", "write_prices"]

#: The columns of a prices table, in the order they are written.
COLUMNS = ("node_id", "sku", "price")
#: The file formats, by extension.
SUFFIXES = (".csv", ".parquet")
# the table's name in problems: locate_problems finds its file under this key
_TABLE = "prices"


def suffix_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot name a prices table (its extension), or ``None``."""
    suffix = Path(path).suffix.lower()
    return None if suffix in SUFFIXES else f"must end in .csv or .parquet, got {Path(path).name!r}"


def _entry_keys(network: Network, inventory: Inventory) -> np.ndarray:
    """``sku * n_nodes + node`` of every inventory entry: sorted, as the entries are (by SKU, then node)."""
    sku_of = np.repeat(np.arange(network.n_skus, dtype=np.int64), np.diff(inventory.sku_ptr))
    return sku_of * network.n_nodes + inventory.node.astype(np.int64)


def write_prices(path: str | Path, network: Network, inventory: Inventory, prices: np.ndarray) -> Path:
    """Write one row per inventory entry, ``node_id, sku, price``, to ``path`` (CSV or Parquet).

    The file appears whole or not at all: it is written beside ``path`` and
    renamed over it. CSV keeps every float exactly (shortest repr), so
    :func:`read_prices` gives back the same array.

    Parameters
    ----------
    path : path
        ``*.csv`` or ``*.parquet``; its folder must exist.
    network, inventory : Network, Inventory
        Whose entries the prices are aligned with.
    prices : ndarray of float, shape (inventory.nnz,)
        Finite and ``>= 0``.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValidationError
        For a bad extension, or prices of the wrong shape or not finite and ``>= 0``
        (nothing is written).
    """
    path = Path(path)
    p = np.asarray(prices, dtype=np.float64)
    col = Collector()
    if (reason := suffix_problem(path)) is not None:
        col.extend([Problem(_TABLE, None, "", reason, where=str(path))])
    if p.shape != (inventory.nnz,):
        col.add(_TABLE, None, "price", f"must have one price per inventory entry ({inventory.nnz}), got {p.shape}")
    else:
        for i in np.flatnonzero(~np.isfinite(p) | (p < 0))[:100]:
            col.add(_TABLE, int(i), "price", f"must be finite and >= 0, got {p[i]!r}")
    if col:
        raise ValidationError(col.problems, title=f"prices {path}")
    sku_of = np.repeat(np.arange(network.n_skus), np.diff(inventory.sku_ptr))
    node_ids = np.array([n.node_id for n in network.nodes], dtype=object)
    skus = np.array([s.sku for s in network.skus], dtype=object)
    df = pd.DataFrame({"node_id": node_ids[inventory.node], "sku": skus[sku_of], "price": p})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent or ".")
    os.close(fd)
    try:
        if path.suffix.lower() == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_prices(path: str | Path, network: Network, inventory: Inventory) -> np.ndarray:
    """The prices of a prices table, one per inventory entry (aligned with ``inventory``'s entries).

    Entries the table does not list get price 0.

    Parameters
    ----------
    path : path
        ``*.csv`` or ``*.parquet`` with columns ``node_id, sku, price``
        (other columns are ignored; one that looks like a misspelling of
        these is an error).
    network, inventory : Network, Inventory
        The scenario the prices are for.

    Returns
    -------
    ndarray of float, shape (inventory.nnz,)
        Finite and ``>= 0``.

    Raises
    ------
    ValidationError
        Titled ``prices PATH``, listing every problem at once: a missing,
        unreadable or misnamed file, missing or misspelt columns, unknown
        nodes and SKUs, a (node, SKU) pair with no inventory entry, a price
        that is not a finite number ``>= 0``, and repeated pairs; each row's
        problem located as ``PATH:LINE`` with its node and SKU.
    """
    path = Path(path)
    title = f"prices {path}"
    if (reason := suffix_problem(path)) is not None:
        raise ValidationError([Problem(_TABLE, None, "", reason, where=str(path))], title=title)
    if not path.is_file():
        reason = "is a folder, not a table" if path.is_dir() else "does not exist"
        raise ValidationError([Problem(_TABLE, None, "", reason, where=str(path))], title=title)
    tf = TableFile(path)
    read = Collector()
    df = tf.read(read)
    if df is None:
        raise ValidationError(read.problems, title=title)
    found: list[Problem] = []
    misspelt_columns({_TABLE: df}, found, {_TABLE: COLUMNS})
    col = Collector()
    if require_columns(df, _TABLE, COLUMNS, col):
        node, sku = node_sku_pairs(network, df, _TABLE, col)
        repeated_pairs(network, node, sku, _TABLE, col)
        price = numeric_column(df, _TABLE, "price", col, lo=0)
        keys = _entry_keys(network, inventory)
        known = (node >= 0) & (sku >= 0)
        want = sku * network.n_nodes + node
        at = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
        held = known & (len(keys) > 0)
        held[held] = keys[at[held]] == want[held]
        for i in np.flatnonzero(known & ~held):
            col.add(_TABLE, int(i), "node_id/sku", f"node {network.nodes[node[i]].node_id!r} holds no "
                                                   f"inventory entry for sku {network.skus[sku[i]].sku!r}")
    found.extend(col.problems)
    if found:
        raise ValidationError(locate_problems(found, {_TABLE: tf}, {_TABLE: df}), title=title)
    out = np.zeros(inventory.nnz, dtype=np.float64)
    out[at] = price
    return out
