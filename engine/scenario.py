"""Scenario folders: CSV or Parquet tables plus an optional ``policy.toml``."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pandas as pd

from sourcewise.models.errors import Collector
from sourcewise.models.errors import Problem
from sourcewise.models.errors import ValidationError
from sourcewise.models.inventory import Inventory
from sourcewise.models.network import Network
from sourcewise.models.policy import Policy
from sourcewise.models.policy import load_policy
from sourcewise.models.tables import OrderBatch
from sourcewise.models.tables import inventory_from_frame
from sourcewise.models.tables import network_from_frames
from sourcewise.models.tables import orders_from_frame

REQUIRED = ("nodes", "skus", "inventory", "orders")


@dataclass(frozen=True, eq=False)
class Scenario:
    """A validated scenario: network, starting stock, orders and policy.

    ``tables`` keeps every table read, including optional ones (``walkin``,
    ``replenishment``, ``vendor_offers``) that later stages use.
    """

    network: Network
    inventory: Inventory
    orders: OrderBatch
    policy: Policy
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    path: Path | None = None


def read_table(folder: Path, name: str) -> pd.DataFrame | None:
    """``name.parquet`` if present, else ``name.csv``, else ``None``."""
    pq = folder / f"{name}.parquet"
    if pq.exists():
        return pd.read_parquet(pq)
    csv = folder / f"{name}.csv"
    if csv.exists():
        return pd.read_csv(csv, dtype={"node_id": str, "sku": str, "order_id": str, "line_id": str},
                           keep_default_na=True)
    return None


def load_scenario(folder: str | Path, *, orders: bool = True) -> Scenario:
    """Read and validate a scenario folder.

    A folder with an ``events`` table is a journal (``sourcewise journal
    export``): its orders are read one per routing (``seq``), so an id routed
    again after a release is a second order (see :mod:`sourcewise.engine.journal`).

    Raises
    ------
    ValidationError
        Listing every missing table and every bad row of every table.
    """
    folder = Path(folder)
    col = Collector()
    if not folder.is_dir():
        col.add("scenario", str(folder), "path", "not a folder")
        col.raise_if_any()
    tables: dict[str, pd.DataFrame] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix in (".csv", ".parquet") and p.stem not in tables:
            df = read_table(folder, p.stem)
            if df is not None:
                tables[p.stem] = df
    needed = REQUIRED if orders else REQUIRED[:3]
    for name in needed:
        if name not in tables:
            col.add("scenario", str(folder), name, f"missing table {name}.csv or {name}.parquet")
    col.raise_if_any()
    policy = load_policy(folder / "policy.toml")
    network = network_from_frames(tables["nodes"], tables["skus"])
    problems: list[Problem] = []
    inventory = batch = None
    journal = "events" in tables
    if journal:
        # a journal folder (sourcewise journal export): each routing of an order is an order of its own
        from sourcewise.engine.journal import journal_orders
        from sourcewise.engine.journal import journal_tables

        tables = journal_tables(tables)
    try:
        inventory = inventory_from_frame(network, tables["inventory"])
    except ValidationError as exc:
        problems.extend(exc.problems)
    if orders:
        try:
            batch = (journal_orders if journal else orders_from_frame)(network, tables["orders"])
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return Scenario(network, inventory, batch, policy, tables, folder)


def write_tables(out: str | Path, tables: dict[str, pd.DataFrame], fmt: str = "csv") -> list[Path]:
    """Write tables atomically: all files land, or none are changed.

    Each table goes to a temporary file first; only when every one is
    written are they renamed into place.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, df in tables.items():
            final = out / f"{name}.{fmt}"
            tmp = out / f".{name}.{fmt}.tmp"
            if fmt == "csv":
                df.to_csv(tmp, index=False)
            else:
                df.to_parquet(tmp, index=False)
            staged.append((tmp, final))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        tmp.replace(final)
    return [final for _, final in staged]


@contextmanager
def staged_output(out: str | Path, prefix: str) -> Iterator[tuple[Path, list[Path]]]:
    """A scratch folder inside ``out`` whose files move into ``out`` only when the block succeeds.

    Yields ``(stage, written)``; on success every file written to ``stage``
    replaces its namesake in ``out`` and ``written`` lists the final paths.
    On failure ``out`` keeps what it had. The stage is removed either way.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=prefix, dir=out))
    written: list[Path] = []
    try:
        yield stage, written
        for f in sorted(stage.iterdir()):
            f.replace(out / f.name)
            written.append(out / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def build_router(scenario: Scenario, policy: Policy | None = None, **kwargs):
    """A :class:`~sourcewise.engine.router.Router` with everything the scenario carries.

    Walk-in demand (``walkin``), vendor offers (``vendor_offers``) and SKU
    attributes for substitutes (``skus``) are wired in when present.
    Keyword arguments go to the Router (e.g. ``gateway``, ``business_day``).

    Raises
    ------
    ValidationError
        Listing every bad row of the optional tables together.
    """
    from sourcewise.engine.router import Router
    from sourcewise.engine.substitutes import SubstituteIndex
    from sourcewise.engine.vendors import VendorOffers

    problems: list[Problem] = []
    offers = subs = None
    try:
        offers = (VendorOffers.from_frame(scenario.network, scenario.tables["vendor_offers"])
                  if "vendor_offers" in scenario.tables else None)
    except ValidationError as exc:
        problems.extend(exc.problems)
    try:
        subs = SubstituteIndex.from_frame(scenario.network, scenario.tables["skus"])
    except ValidationError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return Router(scenario.network, scenario.inventory, policy or scenario.policy,
                  walkin=scenario.tables.get("walkin"), vendor_offers=offers, substitutes=subs, **kwargs)
