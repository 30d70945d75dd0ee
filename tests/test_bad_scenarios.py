"""A corpus of malformed scenarios fed to the CLI (issue #21: one report of every error, no traceback).

Every case starts from a copy of ``data/sample``, plants one or more
problems (a bad cell, a bad file, a bad policy key, a bad command-line
value) and runs the CLI in-process. Each must end with status 2, one
message on stderr that names every planted problem with its file and line
(as a spreadsheet counts it: the header is line 1) and, for a row, its ids,
no traceback, and nothing written to ``--out``. A few runs go through a real
subprocess to prove the same end to end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pandas as pd
import pytest

from sourcewise import cli
from tests.conftest import REPO
from tests.conftest import SAMPLE

TABLES = ("nodes", "skus", "inventory", "orders", "walkin", "replenishment", "vendor_offers")
# the sample as written: every cell a string, nothing turned into NaN
RAW = {t: pd.read_csv(SAMPLE / f"{t}.csv", dtype=str, keep_default_na=False) for t in TABLES}
# ids that name a row of each table in messages
ROW_IDS = {"orders": (("order_id", "order"), ("line_id", "line")), "nodes": (("node_id", "node"),),
           "skus": (("sku", "sku"),)}


@dataclass
class Case:
    """One malformed scenario: how to plant its problems and what the message must say.

    ``expect`` holds, for each planted problem, the pieces that must all
    appear on one line of stderr; ``{folder}`` in ``args`` is the scenario folder.
    """

    id: str
    plant: Callable[[Path], None]
    expect: list[tuple[str, ...]]
    command: str = "route"
    args: list[str] = field(default_factory=list)


def write(folder: Path, table: str, df: pd.DataFrame) -> None:
    df.to_csv(folder / f"{table}.csv", index=False)


def ids(table: str, row: int, skip: str = "") -> tuple[str, ...]:
    """How the message names row ``row`` of the sample's ``table`` (all id columns but ``skip``)."""
    pairs = ROW_IDS.get(table, (("node_id", "node"), ("sku", "sku")))
    return tuple(f"{label} {RAW[table].at[row, c]!r}" for c, label in pairs if c != skip)


def at(table: str, row: int | None) -> str:
    """``orders.csv:5: `` for data row 3; ``orders.csv:1: `` (the header) for ``None``."""
    return f"{table}.csv:{1 if row is None else row + 2}: "


def cells(table: str, *changes: tuple[int, str, str]) -> Callable[[Path], None]:
    """A planter that sets ``(row, column, value)`` cells of ``table``."""
    def plant(folder: Path) -> None:
        df = RAW[table].copy()
        for row, column, value in changes:
            df.at[row, column] = value
        write(folder, table, df)
    return plant


def cell(table: str, row: int, column: str, value: str, *words: str, case_id: str = "") -> Case:
    """One bad cell; the message must name its file and line, the column, the row's ids and ``words``."""
    return Case(case_id or f"{table}.{column}={value!r}@{row}", cells(table, (row, column, value)),
                [(at(table, row), f"{column}: ", *ids(table, row, skip=column), *words)])


def columns(table: str, rename: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> Callable[[Path], None]:
    """A planter that renames or drops columns of ``table``."""
    def plant(folder: Path) -> None:
        write(folder, table, RAW[table].drop(columns=list(drop)).rename(columns=rename or {}))
    return plant


def added(table: str, **new: tuple[str, dict[int, str]]) -> Callable[[Path], None]:
    """A planter that adds columns to ``table``, each given as ``name=(default, {row: value})``."""
    def plant(folder: Path) -> None:
        df = RAW[table].copy()
        for name, (default, values) in new.items():
            df[name] = [values.get(i, default) for i in range(len(df))]
        write(folder, table, df)
    return plant


def text(name: str, content: str | bytes) -> Callable[[Path], None]:
    """A planter that writes file ``name`` as given."""
    def plant(folder: Path) -> None:
        p = folder / name
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return plant


def policy(content: str | bytes) -> Callable[[Path], None]:
    """A planter that writes ``policy.toml``."""
    return text("policy.toml", content)


def all_of(*planters: Callable[[Path], None]) -> Callable[[Path], None]:
    """A planter that runs ``planters`` in turn."""
    def plant(folder: Path) -> None:
        for p in planters:
            p(folder)
    return plant


def parquet(table: str, *changes: tuple[int, str, object]) -> Callable[[Path], None]:
    """``table`` as Parquet (typed as pandas reads the CSV), with ``changes`` applied."""
    def plant(folder: Path) -> None:
        df = pd.read_csv(SAMPLE / f"{table}.csv")
        for row, column, value in changes:
            if not isinstance(value, str):
                df[column] = df[column].astype("float64")
            df.at[row, column] = value
        (folder / f"{table}.csv").unlink()
        df.to_parquet(folder / f"{table}.parquet", index=False)
    return plant


def _parquet_with_repeated_column(folder: Path, table: str) -> None:
    """``table`` as a Parquet file whose first column appears twice (pandas cannot write one)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.read_csv(SAMPLE / f"{table}.csv")
    (folder / f"{table}.csv").unlink()
    arrays = [pa.array(df[c]) for c in df.columns]
    pq.write_table(pa.table([arrays[0], *arrays], names=[df.columns[0], *df.columns]), folder / f"{table}.parquet")


def header(table: str) -> str:
    return ",".join(RAW[table].columns)


BIG = str(2**63 - 1)
TOO_MANY = str((1 << 40) + 1)

CASES: list[Case] = [
    # ---------------------------------------------------------------- orders: cells
    cell("orders", 3, "qty", "-2", "must be > 0"),
    cell("orders", 0, "qty", "0", "must be > 0"),
    cell("orders", 4, "qty", "1.5", "integer"),
    cell("orders", 5, "qty", "two", "must be a number"),
    cell("orders", 6, "qty", "", "must be a number"),
    cell("orders", 7, "qty", "1e19", "must be <= 1099511627776"),
    cell("orders", 8, "qty", TOO_MANY, "must be <= 1099511627776"),
    cell("orders", 9, "qty", "nan", "must be a number"),
    cell("orders", 10, "qty", "inf", "must be a number"),
    cell("orders", 0, "lat", "91", "must be <= 90"),
    cell("orders", 0, "lat", "north", "must be a number"),
    cell("orders", 5, "lon", "-181", "must be >= -180"),
    cell("orders", 0, "lon", "", "must be a number"),
    cell("orders", 11, "sku", "NOT-A-SKU", "unknown sku 'NOT-A-SKU'"),
    cell("orders", 12, "sku", "", "must not be empty"),
    cell("orders", 0, "order_id", "", "must not be empty"),
    cell("orders", 0, "line_id", "  ", "must not be empty"),
    cell("orders", 2, "line_id", "O-000002-1", "duplicate line_id 'O-000002-1'"),
    cell("orders", 0, "allow_split", "maybe", "true or false"),
    cell("orders", 0, "max_shipments", "0", "must be > 0"),
    cell("orders", 0, "max_shipments", "1.5", "integer"),
    cell("orders", 0, "max_shipments", BIG, "must be <= 1000000"),
    cell("orders", 0, "created_at", "yesterday", "timestamp"),
    cell("orders", 0, "service_level", "overnight", "standard, express, next_day"),
    cell("orders", 2, "service_level", "express", "differs from the first line of order 'O-000002'"),
    cell("orders", 3, "created_at", "2024-03-05T09:00:00", "differs from the first line of order 'O-000002'"),
    cell("orders", 2, "allow_split", "False", "differs from the first line"),
    cell("orders", 3, "max_shipments", "2", "differs from the first line"),
    cell("orders", 2, "lat", "37.7", "differs from the first line"),
    Case("orders.channel-disagrees", added("orders", channel=("web", {2: "store"})),
         [(at("orders", 2), "channel: ", "differs from the first line of order 'O-000002'", *ids("orders", 2))]),
    Case("orders.allow_substitutes-disagrees", added("orders", allow_substitutes=("true", {3: "false"})),
         [(at("orders", 3), "allow_substitutes: ", "differs from the first line of order 'O-000002'",
           *ids("orders", 3))]),
    Case("orders.allow_substitutes-perhaps", added("orders", allow_substitutes=("", {5: "perhaps"})),
         [(at("orders", 5), "allow_substitutes: ", "true or false", *ids("orders", 5))]),
    Case("orders.method-drone", added("orders", method=("ship", {4: "drone"})),
         [(at("orders", 4), "method: ", "'drone'", *ids("orders", 4))]),
    Case("orders.pickup-without-store-column", added("orders", method=("", {0: "pickup"})),
         [(at("orders", 0), "pickup_node: ", "must name the store", *ids("orders", 0))]),
    Case("orders.pickup-node-unknown", added("orders", method=("ship", {0: "pickup"}),
                                             pickup_node=("", {0: "ST-NOWHERE"})),
         [(at("orders", 0), "pickup_node: ", "unknown node 'ST-NOWHERE'", *ids("orders", 0))]),
    Case("orders.pickup-node-on-ship-line", added("orders", pickup_node=("", {6: "ST-0010-MANHATTAN"})),
         [(at("orders", 6), "pickup_node: ", "only pickup lines name a store", *ids("orders", 6))]),
    Case("orders.not-contiguous", cells("orders", (5, "order_id", "O-000001"), (5, "line_id", "O-000001-9")),
         [(at("orders", 5), "order_id: ", "must be contiguous")]),
    Case("orders.order-over-max-units", cells("orders", (1, "qty", str(1 << 40)), (2, "qty", str(1 << 40))),
         [(at("orders", 1), "qty: ", "add up to", "more than 1099511627776")]),
    # ---------------------------------------------------------------- orders: columns and files
    Case("orders.missing-qty", columns("orders", drop=("qty",)),
         [(at("orders", None), "qty: ", "required column is missing")]),
    Case("orders.misspelt-qtty", columns("orders", rename={"qty": "qtty"}),
         [(at("orders", None), "qtty: ", "did you mean 'qty'?"), (at("orders", None), "qty: ", "missing")]),
    Case("orders.capitalised-Qty", columns("orders", rename={"qty": "Qty"}),
         [(at("orders", None), "Qty: ", "did you mean 'qty'?")]),
    Case("orders.misspelt-optional-column", columns("orders", rename={"service_level": "servicelevel"}),
         [(at("orders", None), "servicelevel: ", "did you mean 'service_level'?")]),
    Case("orders.duplicate-column", text("orders.csv", "order_id,line_id,sku,qty,qty,lat,lon\n"
                                                       "O-1,L-1,SKU-00001,1,2,40,-74\n"),
         [("orders.csv:1: ", "column 'qty' appears more than once")]),
    Case("orders.empty-file", text("orders.csv", ""), [("orders.csv: ", "is empty")]),
    Case("orders.blank-file", text("orders.csv", "\n \n"), [("orders.csv: ", "is empty")]),
    Case("orders.header-only", text("orders.csv", header("orders") + "\n"), [("orders.csv: ", "has no rows")]),
    Case("orders.row-longer-than-header", text("orders.csv", header("orders") + "\n" + ",".join(
        RAW["orders"].iloc[0]) + ",extra\n"), [("orders.csv:2: ", "has 13 cells but the header names 12 columns")]),
    Case("orders.not-utf8", lambda f: (f / "orders.csv").write_bytes(
        (SAMPLE / "orders.csv").read_bytes().replace(b"Fremont", b"Fr\xe9mont", 1)),
         [("orders.csv:3: ", "is not UTF-8")]),
    Case("orders.latin1-header", text("orders.csv", b"order_id,line_id,sku,qty,lat,lon,ann\xe9e\n"),
         [("orders.csv:1: ", "is not UTF-8")]),
    Case("orders.mixed-time-zones", cells("orders", (0, "created_at", "2024-03-04T00:20:20+02:00")),
         [(at("orders", 1), "created_at: ", "written differently", *ids("orders", 1))]),
    Case("orders.unterminated-quote", lambda f: (f / "orders.csv").write_text(
        (SAMPLE / "orders.csv").read_text().replace("O-000003,O-000003-1,", 'O-000003,"O-000003-1,', 1)),
         [("orders.csv:6: ", "a quote opened on this line is never closed")]),
    Case("orders.parquet-bad-qty", parquet("orders", (3, "qty", -2.0)),
         [("orders.parquet row 4: ", "qty: ", "must be > 0", *ids("orders", 3))]),
    Case("orders.garbage-parquet", all_of(lambda f: (f / "orders.csv").unlink(), text("orders.parquet", b"PAR1 junk")),
         [("orders.parquet: ", "not a readable Parquet file")]),
    Case("orders.csv-and-parquet", lambda f: pd.read_csv(f / "orders.csv").to_parquet(f / "orders.parquet"),
         [("both orders.csv and orders.parquet exist",)]),
    Case("orders.missing-table", lambda f: (f / "orders.csv").unlink(), [("has no table orders",)]),
    Case("orders.misspelt-table", lambda f: (f / "orders.csv").rename(f / "order.csv"),
         [("has no table orders", "did you mean 'order.csv'?")]),
    Case("orders.folder-named-like-a-table", lambda f: ((f / "orders.csv").unlink(), (f / "orders.csv").mkdir()),
         [("orders.csv: ", "is a folder")]),
    # ---------------------------------------------------------------- nodes
    cell("nodes", 0, "kind", "depot", "warehouse, store or vendor"),
    cell("nodes", 1, "lat", "200", "must be <= 90"),
    cell("nodes", 0, "priority", "1e20", "must be <= 1000000000"),
    cell("nodes", 2, "priority", "1.5", "integer"),
    cell("nodes", 0, "capacity_units", "1e20", "must be <= 1099511627776"),
    cell("nodes", 0, "capacity_orders", "-1", "must be >= 0"),
    cell("nodes", 3, "processing_days", "1000000", "must be <= 3650"),
    cell("nodes", 0, "fee_rate", "1.5", "must be <= 0.999999"),
    cell("nodes", 0, "cutoff_hour", "25", "must be <= 24"),
    cell("nodes", 0, "ships", "maybe", "true or false"),
    cell("nodes", 0, "handling_per_unit", "-1", "must be >= 0"),
    cell("nodes", 1, "node_id", "WH-PHILADELPHIA", "duplicate node_id 'WH-PHILADELPHIA'"),
    cell("nodes", 0, "node_id", "", "must not be empty"),
    Case("nodes.protect_units-too-many", added("nodes", protect_units=("", {4: TOO_MANY})),
         [(at("nodes", 4), "protect_units: ", "must be <= 1099511627776", *ids("nodes", 4))]),
    Case("nodes.missing-kind", columns("nodes", drop=("kind",)), [(at("nodes", None), "kind: ", "missing")]),
    Case("nodes.misspelt-kind", columns("nodes", rename={"kind": "Kind "}), [(at("nodes", None), "did you mean 'kind'?")]),
    Case("nodes.header-only", text("nodes.csv", header("nodes") + "\n"), [("nodes.csv: ", "has no rows")]),
    Case("nodes.empty-file", text("nodes.csv", ""), [("nodes.csv: ", "is empty")]),
    Case("nodes.parquet-priority", parquet("nodes", (0, "priority", 1e20)),
         [("nodes.parquet row 1: ", "priority: ", "must be <= 1000000000", "node 'WH-PHILADELPHIA'")]),
    # ---------------------------------------------------------------- skus
    cell("skus", 1, "sku", "SKU-00001", "duplicate sku 'SKU-00001'"),
    cell("skus", 0, "sku", "", "must not be empty"),
    cell("skus", 0, "weight_kg", "-1", "must be >= 0"),
    cell("skus", 2, "price", "free", "must be a number"),
    Case("skus.substitute-unknown", added("skus", substitutes=("", {3: "SKU-NOPE"})),
         [(at("skus", 3), "substitutes: ", "unknown sku 'SKU-NOPE'", *ids("skus", 3))]),
    Case("skus.substitute-itself", added("skus", substitutes=("", {0: "SKU-00001"})),
         [(at("skus", 0), "substitutes: ", "lists itself")]),
    Case("skus.missing-sku-column", columns("skus", rename={"sku": "item"}), [(at("skus", None), "sku: ", "missing")]),
    Case("skus.header-only", text("skus.csv", header("skus") + "\n"), [("skus.csv: ", "has no rows")]),
    # ---------------------------------------------------------------- inventory
    cell("inventory", 0, "on_hand", "-1", "must be >= 0"),
    cell("inventory", 1, "on_hand", "1.5", "integer"),
    cell("inventory", 2, "on_hand", str(2**53 + 1), "must be <= 1099511627776"),
    cell("inventory", 3, "on_hand", "1e19", "must be <= 1099511627776"),
    cell("inventory", 3, "on_hand", "99999999999999999999999", "must be <= 1099511627776"),
    cell("inventory", 3, "on_hand", "1e400", "must be a number"),
    cell("inventory", 4, "safety_stock", "lots", "must be a number"),
    cell("inventory", 5, "node_id", "WH-NOWHERE", "unknown node 'WH-NOWHERE'"),
    cell("inventory", 6, "sku", "SKU-NOPE", "unknown sku 'SKU-NOPE'"),
    cell("inventory", 1, "sku", "SKU-00002", "duplicate row for node 'WH-PHILADELPHIA' and sku 'SKU-00002'",
         case_id="inventory.duplicate-pair"),
    Case("inventory.reserved-above-on-hand", added("inventory", reserved=("0", {7: "5"})),
         [(at("inventory", 7), "reserved: ", "more than", "on hand", *ids("inventory", 7))]),
    Case("inventory.misspelt-onhand", columns("inventory", rename={"on_hand": "onhand"}),
         [(at("inventory", None), "onhand: ", "did you mean 'on_hand'?"),
          (at("inventory", None), "on_hand: ", "required column is missing")]),
    Case("inventory.misspelt-safety", columns("inventory", rename={"safety_stock": "safety_stok"}),
         [(at("inventory", None), "safety_stok: ", "did you mean 'safety_stock'?")]),
    Case("inventory.empty-file", text("inventory.csv", ""), [("inventory.csv: ", "is empty")]),
    # ---------------------------------------------------------------- walkin, replenishment, vendor_offers
    Case("walkin.parquet-repeated-column", lambda f: _parquet_with_repeated_column(f, "walkin"),
         [("walkin.parquet: ", "not a readable Parquet file")]),
    cell("walkin", 0, "walkin_daily_demand", "-1", "must be >= 0"),
    cell("walkin", 1, "walkin_daily_demand", "busy", "must be a number"),
    cell("walkin", 2, "node_id", "ST-NOWHERE", "unknown node 'ST-NOWHERE'"),
    cell("walkin", 1, "sku", "SKU-00001", "duplicate row", case_id="walkin.duplicate-pair"),
    Case("walkin.missing-demand", columns("walkin", drop=("walkin_daily_demand",)),
         [(at("walkin", None), "walkin_daily_demand: ", "missing")]),
    cell("replenishment", 0, "day", "-1", "must be >= 0"),
    cell("replenishment", 1, "day", "1.5", "integer"),
    cell("replenishment", 2, "day", "100000", "must be <= 3650"),
    cell("replenishment", 3, "qty", "-3", "must be >= 0"),
    cell("replenishment", 4, "qty", "1e19", "must be <= 1099511627776"),
    cell("replenishment", 5, "sku", "SKU-NOPE", "unknown sku 'SKU-NOPE'"),
    cell("vendor_offers", 0, "fee_rate", "1.5", "[0, 1)"),
    cell("vendor_offers", 1, "lead_days", "1000000", "[0, 3650]"),
    cell("vendor_offers", 2, "node_id", "WH-PHILADELPHIA", "not a vendor"),
    cell("vendor_offers", 3, "price", "-1", "must be >= 0"),
    cell("vendor_offers", 4, "reliability", "0", "(0, 1]"),
    cell("vendor_offers", 5, "lead_days", "soon", "must be"),
    # ---------------------------------------------------------------- stray files do not hide real problems
    Case("stray-csv-is-ignored", all_of(text("notes.csv", b"\x00\xff,,,\n\"\n"), cells("orders", (3, "qty", "-2"))),
         [(at("orders", 3), "qty: ")]),
    Case("stray-parquet-is-ignored", all_of(text("old.parquet", b"junk"), cells("nodes", (0, "lat", "x"))),
         [(at("nodes", 0), "lat: ")]),
    # ---------------------------------------------------------------- policy.toml
    Case("policy.syntax", policy('strategy = "cost"\nmax_shipments = \n'), [("policy.toml:2: ", "not valid TOML")]),
    Case("policy.unclosed-table", policy('[cost\nper_unit = 1\n'), [("policy.toml:1: ", "not valid TOML")]),
    Case("policy.not-utf8", policy(b'strategy = "c\xf6st"\n'), [("policy.toml:1: ", "not UTF-8")]),
    Case("policy.unknown-key", policy("split_penalti = 1.0\n"),
         [("policy.toml:1: ", "split_penalti: ", "did you mean 'split_penalty'?")]),
    Case("policy.unknown-section-key", policy("[service]\nexpres_days = 2\n"),
         [("policy.toml:2: ", "service.expres_days: ", "did you mean 'express_days'?")]),
    Case("policy.strategy", policy('strategy = "fastest"\n'), [("policy.toml:1: ", "strategy: ", "'fastest'")]),
    Case("policy.max_shipments-0", policy("max_shipments = 0\n"), [("policy.toml:1: ", "max_shipments: ")]),
    Case("policy.split_candidates-huge", policy(f"split_candidates = {BIG}\n"),
         [("policy.toml:1: ", "split_candidates: ", "[3, 1000000]")]),
    Case("policy.split_candidates-text", policy('split_candidates = "many"\n'),
         [("policy.toml:1: ", "split_candidates: ")]),
    Case("policy.split_penalty-negative", policy("\n\nsplit_penalty = -1\n"), [("policy.toml:3: ", "split_penalty: ")]),
    Case("policy.currency", policy('currency = "usd"\n'), [("policy.toml:1: ", "currency: ", "ISO 4217")]),
    Case("policy.transit-band-text", policy('[service]\ntransit_bands = [["x", 1]]\n'),
         [("policy.toml:2: ", "service.transit_bands: ")]),
    Case("policy.transit-bands-descending", policy("[service]\ntransit_bands = [[500, 1], [300, 2]]\n"),
         [("policy.toml:2: ", "service.transit_bands: ", "ascend")]),
    Case("policy.standard_days-soon", policy('[service]\nstandard_days = "soon"\n'),
         [("policy.toml:2: ", "service.standard_days: ", "'soon'")]),
    Case("policy.standard_days-nan", policy("[service]\nstandard_days = nan\n"),
         [("policy.toml:2: ", "service.standard_days: ", "nan")]),
    Case("policy.express_days-inf", policy("[service]\nexpress_days = inf\n"),
         [("policy.toml:2: ", "service.express_days: ")]),
    Case("policy.late", policy('[service]\nlate = "sometimes"\n'), [("policy.toml:2: ", "service.late: ")]),
    Case("policy.substitutes-enabled-no", policy('[substitutes]\nenabled = "no"\n'),
         [("policy.toml:2: ", "substitutes.enabled: ", "true or false")]),
    Case("policy.max_proposals", policy("[substitutes]\nmax_proposals = -1\n"),
         [("policy.toml:2: ", "substitutes.max_proposals: ")]),
    Case("policy.cost-negative", policy("[cost]\nper_unit = -1\n"), [("policy.toml:2: ", "cost.per_unit: ")]),
    Case("policy.cost-not-a-table", policy("cost = 5\n"), [("policy.toml:1: ", "cost: ", "must be a table")]),
    Case("policy.protect_units-fraction", policy("[stores]\nprotect_units = 1.5\n"),
         [("policy.toml:2: ", "stores.protect_units: ")]),
    Case("policy.pickup_transfer-yes", policy('[methods]\npickup_transfer = "yes"\n'),
         [("policy.toml:2: ", "methods.pickup_transfer: ")]),
    Case("policy.gateway-timeout", policy("[vendors]\ngateway_timeout_s = -1\n"),
         [("policy.toml:2: ", "vendors.gateway_timeout_s: ")]),
    Case("policy.tier-kinds", policy('[[tiers]]\nname = "a"\nkinds = ["depot"]\n'),
         [("policy.toml:3: ", "tiers[0].kinds: ")]),
    Case("policy.tier-without-name", policy('[[tiers]]\nname = "a"\n[[tiers]]\nkinds = ["store"]\n'),
         [("policy.toml:3: ", "tiers[1].name: ", "needs a name")]),
    Case("policy.tier-names-repeat", policy('[[tiers]]\nname = "a"\n[[tiers]]\nname = "a"\n'),
         [("policy.toml:1: ", "tiers: ", "unique")]),
    Case("policy.is-a-folder", lambda f: ((f / "policy.toml").unlink(), (f / "policy.toml").mkdir()),
         [("policy.toml: ", "cannot be read")]),
    Case("policy.simulate", policy('strategy = "fastest"\n'), [("policy.toml:1: ", "strategy: ")],
         command="simulate"),
    Case("policy.optimize", policy("[service]\nstandard_days = nan\n"), [("policy.toml:2: ", "standard_days")],
         command="optimize"),
    Case("policy.simulate-syntax", policy("strategy = = 1\n"), [("policy.toml:1: ", "not valid TOML")],
         command="simulate"),
    Case("policy.optimize-syntax", policy("[cost]]\n"), [("policy.toml:1: ", "not valid TOML")],
         command="optimize"),
    # ---------------------------------------------------------------- command line
    Case("cli.optimize-time-limit", lambda f: None, [("--time-limit", "positive")], command="optimize",
         args=["--time-limit", "0"]),
    Case("cli.simulate-settings-and-table", cells("orders", (3, "qty", "-2")),
         [("pick_reject_rate",), (at("orders", 3), "qty: ")], command="simulate", args=["--pick-reject-rate", "2"]),
    Case("cli.sweep-grid-policy-and-flags", all_of(
        text("grid.toml", '[grid]\n"stores.protect_unit" = [0, 1]\n'), policy('strategy = "fastest"\n')),
         [("--workers", "must be 1..2"), ("policy.toml:1: ", "strategy: "), ("grid.toml", "stores.protect_unit")],
         command="sweep", args=["--grid", "{folder}/grid.toml", "--workers", "9"]),
    # ---------------------------------------------------------------- every table and the policy at once
    Case("all-at-once", all_of(
        cells("nodes", (0, "lat", "x")), cells("skus", (2, "price", "free")), cells("inventory", (0, "on_hand", "-1")),
        cells("orders", (3, "qty", "-2"), (7, "sku", "NOPE")), cells("walkin", (0, "walkin_daily_demand", "-1")),
        cells("replenishment", (3, "qty", "-3")), cells("vendor_offers", (0, "fee_rate", "2")),
        policy('strategy = "x"\n[service]\nstandard_days = "soon"\n')),
         [(at("nodes", 0), "lat: "), (at("skus", 2), "price: "), (at("inventory", 0), "on_hand: "),
          (at("orders", 3), "qty: "), (at("orders", 7), "sku: "), (at("walkin", 0), "walkin_daily_demand: "),
          (at("replenishment", 3), "qty: "), (at("vendor_offers", 0), "fee_rate: "),
          ("policy.toml:1: ", "strategy: "), ("policy.toml:3: ", "service.standard_days: ")]),
    Case("unreadable-nodes-do-not-hide-orders", all_of(text("nodes.csv", ""), cells("orders", (3, "qty", "-2")),
                                                     cells("inventory", (2, "on_hand", "x"))),
         [("nodes.csv: ", "is empty"), (at("orders", 3), "qty: "), (at("inventory", 2), "on_hand: ")]),
    Case("bad-skus-do-not-hide-inventory", all_of(cells("skus", (1, "sku", "SKU-00001")),
                                                cells("inventory", (5, "sku", "SKU-NOPE"))),
         [(at("skus", 1), "sku: ", "duplicate"), (at("inventory", 5), "sku: ", "unknown sku 'SKU-NOPE'")]),
    Case("spreadsheet-lines-count-blank-and-multiline-records", lambda f: (f / "orders.csv").write_text(
        header("orders") + "\n" + ",".join(RAW["orders"].iloc[0]) + "\n\n"
        + ",".join(f'"{v}\n"' if c == "city" else v for c, v in RAW["orders"].iloc[1].items()) + "\n"
        + ",".join("-2" if c == "qty" else v for c, v in RAW["orders"].iloc[4].items()) + "\n"),
         [("orders.csv:5: ", "qty: ", *ids("orders", 4))]),
]


def run_cli(argv: list[str]) -> int:
    """``sourcewise ARGV`` in this process; its exit status."""
    try:
        return cli.main(argv)
    except SystemExit as exc:  # argparse
        return int(exc.code or 0)


def test_the_corpus_is_large_and_its_names_unique():
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_malformed_scenario_gets_one_report_of_every_problem(case: Case, tmp_path, capsys):
    folder = tmp_path / "scenario"
    shutil.copytree(SAMPLE, folder)
    case.plant(folder)
    out = tmp_path / "out"
    args = [a.format(folder=folder) for a in case.args]
    status = run_cli([case.command, "--scenario", str(folder), "--out", str(out), *args])
    got = capsys.readouterr()
    assert status == 2, got.err
    assert "Traceback" not in got.err + got.out
    lines = got.err.splitlines()
    assert lines and lines[0].startswith("error: ") and sum(x.startswith("error") for x in lines) == 1, got.err
    for want in case.expect:
        assert any(all(w in line for w in want) for line in lines), f"{want} not in\n{got.err}"
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name not in ("scenario", "out")]  # no stage left behind


def test_out_naming_a_file_is_refused_before_routing(tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("keep me")
    assert run_cli(["route", "--scenario", str(SAMPLE), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: exists and is not a folder" in err and "Traceback" not in err
    assert out.read_text() == "keep me"


def test_misspelt_strategy_flag_is_a_usage_error(tmp_path, capsys):
    assert run_cli(["route", "--scenario", str(SAMPLE), "--out", str(tmp_path / "o"), "--strategy", "fastest"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_generate_reports_its_settings_and_out_together(tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("keep me")
    assert run_cli(["generate", "--out", str(out), "--skus", "0"]) == 2
    err = capsys.readouterr().err
    assert "exists and is not a folder" in err and "n_skus" in err and "Traceback" not in err
    assert out.read_text() == "keep me"


def test_bench_refuses_an_out_file_before_measuring(tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("keep me")
    assert run_cli(["bench", "--quick", "--out", str(out)]) == 2
    assert f"--out {out}: exists and is not a folder" in capsys.readouterr().err


def test_missing_scenario_folder(tmp_path, capsys):
    assert run_cli(["route", "--scenario", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "nope: does not exist" in capsys.readouterr().err


# ------------------------------------------------------------------ accepted, as documented
def test_utf8_bom_and_na_ids_and_stray_files_are_accepted(tmp_path):
    folder = tmp_path / "scenario"
    shutil.copytree(SAMPLE, folder)
    orders = RAW["orders"].copy()
    first = orders["order_id"] == "O-000001"
    orders.loc[first, "order_id"] = "NA"
    orders.loc[orders["order_id"] == "O-000003", "order_id"] = "None"
    (folder / "orders.csv").write_bytes(b"\xef\xbb\xbf" + orders.to_csv(index=False).encode())
    (folder / "notes.csv").write_bytes(b"\x00\xff junk")
    (folder / "README.txt").write_text("not a table")
    from sourcewise.engine.scenario import load_scenario

    sc = load_scenario(folder)
    assert {"NA", "None"} <= set(sc.orders.order_id) and sc.orders.n_orders == 300
    assert set(sc.ignored) == {"notes.csv", "README.txt"}


def test_header_only_inventory_is_a_scenario_without_stock(tmp_path):
    from sourcewise.engine.scenario import load_scenario

    folder = tmp_path / "scenario"
    shutil.copytree(SAMPLE, folder)
    (folder / "inventory.csv").write_text(header("inventory") + "\n")
    assert load_scenario(folder).inventory.nnz == 0


# ------------------------------------------------------------------ outputs: all or nothing
def test_a_folder_in_the_way_leaves_the_old_output_intact(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "allocations.csv").write_text("old allocations\n")
    (out / "orders.csv").mkdir()
    assert run_cli(["route", "--scenario", str(SAMPLE), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "orders.csv: is a folder in the way" in err and "Traceback" not in err
    assert (out / "allocations.csv").read_text() == "old allocations\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in out.iterdir()) == ["allocations.csv", "orders.csv"]


def test_a_failed_move_puts_every_old_file_back(tmp_path, monkeypatch):
    from sourcewise.engine.scenario import OutputError
    from sourcewise.engine.scenario import write_tables

    out = tmp_path / "out"
    out.mkdir()
    (out / "allocations.csv").write_text("old a\n")
    (out / "orders.csv").write_text("old o\n")
    target = tmp_path / "target"
    target.write_text("not mine\n")
    (out / "extra.csv").symlink_to(target)
    real, calls = os.replace, []

    def failing(src, dst, *a, **kw):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", failing)
    frame = pd.DataFrame({"x": [1]})
    with pytest.raises(OutputError, match="No space left"):
        write_tables(out, {"allocations": frame, "extra": frame, "orders": frame})
    monkeypatch.setattr(os, "replace", real)
    assert (out / "allocations.csv").read_text() == "old a\n" and (out / "orders.csv").read_text() == "old o\n"
    assert (out / "extra.csv").is_symlink() and target.read_text() == "not mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "target"]
    # and without the failure the symbolic link itself is replaced, its target left alone
    write_tables(out, {"allocations": frame, "extra": frame, "orders": frame})
    assert not (out / "extra.csv").is_symlink() and target.read_text() == "not mine\n"


def test_a_failing_writer_leaves_nothing(tmp_path):
    from sourcewise.engine.scenario import staged_output

    out = tmp_path / "a" / "b" / "out"
    with pytest.raises(RuntimeError), staged_output(out) as (stage, _):
        (stage / "half.csv").write_text("x")
        raise RuntimeError("writer failed")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ end to end, in a real process
def test_subprocess_bad_scenario_is_one_message_without_traceback(tmp_path):
    folder = tmp_path / "scenario"
    shutil.copytree(SAMPLE, folder)
    cells("orders", (3, "qty", "1e19"))(folder)
    policy('[service]\nstandard_days = "soon"\n')(folder)
    proc = subprocess.run([sys.executable, str(REPO / "cli.py"), "route", "--scenario", str(folder),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stdout == ""
    assert "orders.csv:5: qty" in proc.stderr and "policy.toml:2: service.standard_days" in proc.stderr


def test_subprocess_output_piped_into_a_closed_reader_exits_quietly(tmp_path):
    out = tmp_path / "gen"
    proc = subprocess.Popen([sys.executable, str(REPO / "cli.py"), "generate", "--out", str(out), "--nodes", "1",
                             "--stores", "1", "--vendors", "0", "--skus", "5", "--orders-per-day", "5", "--days", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head` that has stopped reading
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert (out / "orders.csv").is_file()
