"""Production history a planner can replay: a durable ledger exported as a scenario folder.

:func:`export_journal` reads a ledger through the :class:`~sourcewise.engine.ledger.Store`
protocol only (``setup()`` and ``entries()``; a SQLite ledger is opened read
only, so a running router may go on writing) and writes a *journal folder*:
the scenario the router was built with, every order in the order it arrived,
every other change in ledger order, and the decisions the router recorded.
``sourcewise simulate`` recognises the folder by its ``events`` table and
replays exactly those events (:mod:`sourcewise.engine.simulate.journal`).

The folder
----------
``nodes``, ``skus``, ``inventory`` (starting stock), ``walkin`` and
``vendor_offers`` (when the router had them) and ``policy.toml``: the
router's set-up, as :func:`sourcewise.engine.scenario.load_scenario` reads
it. Then, as CSV or Parquet like the rest:

``orders``
    One row per line of every order routed, in ledger order: ``seq`` and
    ``at`` (the entry that routed it and when it was written, UTC), then the
    scenario's order columns. An id released and routed again appears once
    per routing, each under its own ``seq``.
``events``
    One row per event (several for an event about many orders, stock
    entries or nodes), in ledger order; see :data:`EVENT_COLUMNS` and the
    README for what each kind uses. Row ``seq`` 0 is the business day the
    ledger started on.
``recorded_orders``, ``recorded_allocations``
    Every decision the ledger recorded (a routing, one order of a batch, a
    re-route, a swapped plan), in the columns of ``route``'s ``orders`` and
    ``allocations`` tables, keyed by ``seq`` and ``order_id``;
    ``recorded_orders.decision`` holds the whole decision as JSON for the
    decisions made one order at a time (empty for the orders of a compiled
    batch, whose decision is exactly their table rows).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from sourcewise.engine.batch import decisions_to_tables
from sourcewise.engine.ledger import Entry
from sourcewise.engine.ledger import Store
from sourcewise.engine.ledger import StoreError
from sourcewise.engine.ledger import array
from sourcewise.engine.ledger import decode_body
from sourcewise.engine.ledger import open_store
from sourcewise.engine.ledger import stored_setup
from sourcewise.models.decision import Decision
from sourcewise.models.errors import Collector
from sourcewise.models.network import Network
from sourcewise.models.node import NodeKind
from sourcewise.models.order import Order
from sourcewise.models.policy import dump_policy
from sourcewise.models.tables import OrderBatch
from sourcewise.models.tables import orders_from_frame

#: Event kinds, as the ledger names its entries (plus ``day`` at ``seq`` 0 for the starting day).
EVENT_KINDS: tuple[str, ...] = ("day", "route", "batch", "release", "commit", "commit_many", "reroute", "adjust",
                                "capacity", "prices", "swap")

#: Columns of the ``events`` table.
EVENT_COLUMNS: tuple[str, ...] = ("seq", "at", "kind", "order_id", "node_id", "sku", "qty", "price", "cap_orders",
                                  "cap_units", "day", "strategy", "batch_columns", "why")

#: Columns of the ``orders`` table of a journal: ``seq`` and ``at``, then the scenario's order columns.
ORDER_COLUMNS: tuple[str, ...] = ("seq", "at", "order_id", "line_id", "sku", "qty", "lat", "lon", "allow_split",
                                  "max_shipments", "method", "pickup_node", "service_level", "channel",
                                  "placed_at", "allow_substitutes")

#: Columns of ``recorded_orders``: ``seq`` and the kind of decision, then ``route``'s orders table, then the JSON.
RECORDED_ORDER_COLUMNS: tuple[str, ...] = ("seq", "kind", "order_id", "status", "shipments", "units", "unfilled",
                                           "cost", "shipping", "handling", "vendor_fees", "split_penalty",
                                           "penalties", "distance_km", "promised_days", "flags", "decision")

#: Columns of ``recorded_allocations``: ``seq``, then ``route``'s allocations table.
RECORDED_ALLOCATION_COLUMNS: tuple[str, ...] = ("seq", "order_id", "line_id", "sku", "node_id", "qty", "tier")

#: The tables a journal adds to a scenario; ``events`` is what marks a folder as a journal.
JOURNAL_TABLES: tuple[str, ...] = ("events", "recorded_orders", "recorded_allocations")

#: Optional columns of an order batch, in :class:`OrderBatch` order; a ``batch`` event lists those its batch had.
OPTIONAL_ORDER_COLUMNS: tuple[str, ...] = ("method", "pickup_node", "service_level", "channel", "placed_at",
                                           "allow_substitutes")

_INT_COLUMNS = ("seq", "qty", "cap_orders", "cap_units", "shipments", "units", "unfilled", "max_shipments")
_TEXT_COLUMNS = ("at", "kind", "order_id", "node_id", "sku", "day", "strategy", "batch_columns", "why", "line_id",
                 "status", "flags", "decision", "tier")
_REROUTED = re.compile(r"^re-routed after (.+) rejected \d+ unit\(s\)$")
# the entries of a batch route_many routed order by order (Router._route_many_slow) end so
_OF_A_BATCH = re.compile(r"; order (\d+) of (\d+) of a batch$")

_encode_json = msgspec.json.Encoder().encode
# Decision.explanation is a live object the ledger never keeps: it reads back as None
_decode_decision = msgspec.json.Decoder(Decision, dec_hook=lambda type_, obj: None).decode


class ExportError(RuntimeError):
    """The export cannot run: the ledger holds nothing to replay, or the output folder is not new."""


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`export_journal` wrote.

    Attributes
    ----------
    folder : Path
    entries : int
        Ledger entries read.
    last_seq : int
        ``seq`` of the last entry.
    orders : int
        Orders routed (each routing of an id counts).
    events : int
        Events written (one per entry, plus the starting day).
    days : int
        Business days the history covers.
    files : tuple of Path
    """

    folder: Path
    entries: int
    last_seq: int
    orders: int
    events: int
    days: int
    files: tuple[Path, ...] = field(default_factory=tuple)


def decision_json(decision: Decision) -> str:
    """A decision (without its explanation) as the JSON text ``recorded_orders.decision`` holds."""
    return _encode_json(decision).decode()


def decision_from_json(text: str) -> Decision:
    """The :class:`Decision` :func:`decision_json` wrote."""
    return _decode_decision(text)


def is_journal(scenario: Any) -> bool:
    """Whether a loaded scenario is a journal folder (it has an ``events`` table)."""
    return "events" in getattr(scenario, "tables", {})


def is_journal_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds a journal (an ``events`` table), before anything is loaded."""
    f = Path(folder)
    return (f / "events.csv").is_file() or (f / "events.parquet").is_file()


def journal_refused(folder: str | Path, command: str) -> str | None:
    """Why ``command``, which routes a scenario's orders from its starting stock, refuses ``folder``:
    a journal's orders are only meaningful with the events they met (``None`` for any other folder)."""
    if not is_journal_folder(folder):
        return None
    return (f"{folder} is a journal (sourcewise journal export): its orders come with the events they met, "
            f"which {command} would ignore; replay it with sourcewise simulate")


def open_for_reading(store: str | Store) -> Store:
    """A store to read history from: a URL opened read only (no lock, nothing created), a
    :class:`Store` as it is."""
    return open_store(store, readonly=True)


# ----------------------------------------------------------------------------- tables of rows


class _Rows:
    """A table built row by row or from arrays, in order; one DataFrame at the end."""

    def __init__(self, columns: tuple[str, ...]):
        self.columns = columns
        self.data: dict[str, list] = {c: [] for c in columns}
        self.n = 0

    def add(self, **values: Any) -> None:
        for c in self.columns:
            self.data[c].append(values.get(c))
        self.n += 1

    def extend(self, n: int, **columns: Any) -> None:
        """``n`` rows: each value is a sequence of ``n`` or one value repeated."""
        for c in self.columns:
            v = columns.get(c)
            if isinstance(v, np.ndarray | list | tuple | pd.Series | pd.api.extensions.ExtensionArray):
                v = v.tolist() if hasattr(v, "tolist") else list(v)
                if len(v) != n:
                    raise AssertionError(f"column {c}: {len(v)} values for {n} rows")
                self.data[c].extend(v)
            else:
                self.data[c].extend([v] * n)
        self.n += n

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.data, columns=list(self.columns))
        for c in self.columns:
            if c in _INT_COLUMNS:
                df[c] = df[c].astype("Int64")
        return df


def _iso(ts: Any) -> str | None:
    """A timestamp as ISO text (``None`` stays ``None``); an aware one as the wall-clock time it shows."""
    if ts is None:
        return None
    if isinstance(ts, datetime) and ts.tzinfo is not None:
        ts = ts.replace(tzinfo=None)
    return ts.isoformat()


# ----------------------------------------------------------------------------- reading a ledger


class _Export:
    """Turns ledger entries, in order, into the journal's tables."""

    def __init__(self, setup: dict[str, Any]):
        self.setup = setup
        net: Network = setup["network"]
        inv = setup["inventory"]
        self.network = net
        self.node_ids = np.array([n.node_id for n in net.nodes], dtype=object)
        self.sku_ids = np.array([s.sku for s in net.skus], dtype=object)
        self.entry_node = np.asarray(inv.node, np.int64)
        self.entry_sku = np.repeat(np.arange(net.n_skus, dtype=np.int64), np.diff(inv.sku_ptr))
        # today's capacity counters, as the router kept them: the entries hold them as deltas
        self.cap_orders = np.array(net.capacity_orders, np.int64)
        self.cap_units = np.array(net.capacity_units, np.int64)
        # open orders routed one at a time: their latest decision, to read what a re-route rejected
        self.open: dict[str, Decision] = {}
        self.events = _Rows(EVENT_COLUMNS)
        self.orders = _Rows(ORDER_COLUMNS)
        self.rec_orders = _Rows(RECORDED_ORDER_COLUMNS)
        self.rec_allocs = _Rows(RECORDED_ALLOCATION_COLUMNS)
        # single orders and decisions wait here and are turned into rows in bulk, before the next batch's
        self._orders: list[tuple[int, str, Order]] = []
        self._decisions: list[tuple[int, str, Decision]] = []
        # a batch route_many routed order by order, until its last entry is read
        self._slow: list[tuple[Order, Decision]] = []
        self._slow_head: dict[str, Any] = {}
        self.entries = 0
        self.last_seq = 0
        self.arrivals = 0
        self.days = 1
        self.events.add(seq=0, kind="day", day=setup["business_day"].isoformat(),
                        why="the business day the ledger started on")

    # -- one entry
    def add(self, entry: Entry) -> None:
        body = decode_body(entry.body)
        ch = body.changes
        if ch.nodes:
            n = np.asarray(ch.nodes, np.int64)
            self.cap_orders[n] += np.asarray(ch.cap_orders, np.int64)
            self.cap_units[n] += np.asarray(ch.cap_units, np.int64)
        self.entries += 1
        self.last_seq = entry.seq
        kind, oid = entry.kind, entry.order_id
        base = {"seq": entry.seq, "at": entry.at.isoformat(), "kind": kind, "why": entry.why}
        part = _OF_A_BATCH.search(entry.why) if kind == "route" else None
        if self._slow and (part is None or int(part.group(1)) == 1):
            self._end_slow()  # a batch cut short (the process died while writing it)
        if part is not None:
            self._slow_order(base, body, int(part.group(1)), int(part.group(2)))
        elif kind == "route":
            d = body.decision
            self.events.add(**base, order_id=d.order_id, strategy=d.strategy)
            self._orders.append((entry.seq, base["at"], body.order))
            self._decisions.append((entry.seq, "route", d))
            self.open[d.order_id] = d
            self.arrivals += 1
        elif kind == "batch":
            self._batch(base, body.batch)
        elif kind in ("release", "commit", "expire"):
            # an expired hold gives its stock back as a release does (its reason says it expired)
            self.events.add(**{**base, "kind": "release" if kind == "expire" else kind}, order_id=oid)
            self.open.pop(oid, None)
        elif kind in ("confirm", "extend"):
            pass  # a hold confirmed or extended: no stock moves (its end is a release, expire or commit)
        elif kind == "commit_many":
            self.events.extend(len(body.order_ids), **base, order_id=body.order_ids)
            for x in body.order_ids:
                self.open.pop(x, None)
        elif kind == "reroute":
            self._reroute(base, oid, body, entry.why)
        elif kind == "adjust":
            e = np.asarray(ch.entries, np.int64)
            self.events.extend(len(e), **base, node_id=self.node_ids[self.entry_node[e]],
                               sku=self.sku_ids[self.entry_sku[e]], qty=np.asarray(ch.on_hand, np.int64))
        elif kind == "day":
            self.events.add(**base, day=body.day.isoformat())
            self.days += 1
        elif kind == "capacity":
            n = len(self.node_ids)
            self.events.extend(n, **base, node_id=self.node_ids, cap_orders=self.cap_orders.copy(),
                               cap_units=self.cap_units.copy())
        elif kind == "prices":
            p = array(body.prices)
            hit = np.flatnonzero(p)
            if not len(hit):
                self.events.add(**base)  # every price back to zero
            else:
                self.events.extend(len(hit), **base, node_id=self.node_ids[self.entry_node[hit]],
                                   sku=self.sku_ids[self.entry_sku[hit]], price=p[hit])
        elif kind == "swap":
            for d, rec in zip(body.decisions, body.helds, strict=True):
                e = np.asarray(rec.entries, np.int64)
                if not len(e):
                    self.events.add(**base, order_id=d.order_id)  # its new plan holds nothing
                self.events.extend(len(e), **base, order_id=d.order_id, node_id=self.node_ids[self.entry_node[e]],
                                   sku=self.sku_ids[self.entry_sku[e]], qty=np.asarray(rec.qty, np.int64))
                self._decisions.append((entry.seq, "swap", d))
                self.open[d.order_id] = d
        else:
            raise ExportError(f"ledger entry {entry.seq} has unknown kind {kind!r}")

    def _batch(self, base: dict, rec) -> None:
        """A ``route_many`` batch: its orders, and its decisions as the tables the router returned."""
        self._flush()
        cols = {f: array(c) for f, c in rec.orders.items()}
        batch = OrderBatch(**cols)
        present = [f for f in OPTIONAL_ORDER_COLUMNS if cols.get(f) is not None]
        self.events.add(**base, strategy=rec.strategy, batch_columns=";".join(present))
        self._batch_rows(base["seq"], base["at"], batch)
        self.arrivals += batch.n_orders
        o = {c: array(v) for c, v in rec.decisions.items()}
        n = len(o["order_id"])
        o.setdefault("flags", np.full(n, "", dtype=object))
        self.rec_orders.extend(n, seq=base["seq"], kind="batch", decision="",
                               **{c: o[c] for c in RECORDED_ORDER_COLUMNS[2:-1]})
        a = {c: array(v) for c, v in rec.allocations.items()}
        self.rec_allocs.extend(len(a["order_id"]), seq=base["seq"], **{c: a[c] for c in RECORDED_ALLOCATION_COLUMNS[1:]})

    def _slow_order(self, base: dict, body, k: int, n: int) -> None:
        """Order ``k`` of ``n`` of a batch ``route_many`` routed order by order (its entries follow each
        other): the batch becomes one ``batch`` event under its first entry's ``seq`` once complete."""
        if k == 1:
            self._flush()
            self._slow_head = {**base, "kind": "batch", "strategy": body.decision.strategy,
                               "why": f"batch of {n} order(s) routed order by order ({body.decision.strategy})"}
        self._slow.append((body.order, body.decision))
        self.open[body.decision.order_id] = body.decision
        if k == n:
            self._end_slow()

    def _end_slow(self) -> None:
        """Write the batch routed order by order gathered so far."""
        head, slow = self._slow_head, self._slow
        self._slow = []
        self.events.add(**head, batch_columns=";".join(OPTIONAL_ORDER_COLUMNS))
        for order, d in slow:
            self._orders.append((head["seq"], head["at"], order))
            self._decisions.append((head["seq"], "batch", d))
        self.arrivals += len(slow)

    def _reroute(self, base: dict, oid: str, body, why: str) -> None:
        """A re-route: the node that rejected, each SKU it rejected and the units its stock was corrected by."""
        new, old = body.decision, self.open.get(oid)
        at_new: dict[str, set[str]] = {}
        for a in new.allocations:
            at_new.setdefault(a.node_id, set()).add(a.sku)
        at_old: dict[str, set[str]] = {}
        for a in (old.allocations if old is not None else ()):
            at_old.setdefault(a.node_id, set()).add(a.sku)
        # the rejecting node loses the SKUs it rejected (the re-route never uses it for them again)
        lost = {n: skus - at_new.get(n, set()) for n, skus in at_old.items()}
        nodes = [n for n, skus in lost.items() if skus]
        m = _REROUTED.match(why)
        node = nodes[0] if len(nodes) == 1 else (m.group(1) if m else None)
        if node is None or node not in self.setup["network"].node_index:
            raise ExportError(f"ledger entry {base['seq']}: cannot tell which node rejected order {oid!r}")
        n = self.setup["network"].node_index[node]
        skus = sorted(lost.get(node) or at_old.get(node, set()))
        # the stock correction at the node, per SKU: what the entry took off on-hand
        ch = body.changes
        short: dict[str, int] = {}
        for e, oh in zip(ch.entries, ch.on_hand, strict=True):
            if self.entry_node[e] == n and oh:
                s = self.sku_ids[self.entry_sku[e]]
                short[s] = short.get(s, 0) - int(oh)
        for s in sorted(set(short) - set(skus)):
            skus.append(s)
        self.events.extend(len(skus), **base, order_id=oid, node_id=node, sku=skus,
                           qty=[short.get(s, 0) for s in skus])
        self._decisions.append((base["seq"], "reroute", new))
        self.open[oid] = new

    # -- rows in bulk
    def _batch_rows(self, seq: int, at: str, batch: OrderBatch) -> None:
        """The line rows of a batch's orders (one ``seq``)."""
        owner = np.repeat(np.arange(batch.n_orders), np.diff(batch.line_ptr))
        n = len(owner)

        def per_order(x, default):
            return default if x is None else np.asarray(x)[owner]

        def per_line(x, default):
            return default if x is None else np.asarray(x)

        pickup = None
        if batch.pickup_node is not None:
            p = np.asarray(batch.pickup_node, np.int64)
            pickup = np.where(p >= 0, self.node_ids[np.maximum(p, 0)], "")
        placed = None
        if batch.placed_at is not None:
            ts = pd.DatetimeIndex(np.asarray(batch.placed_at)[owner])
            placed = np.where(ts.isna(), None, ts.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object))
        maxs = np.asarray(batch.max_shipments, np.int64)[owner]
        self.orders.extend(
            n, seq=seq, at=at, order_id=batch.order_id[owner], line_id=batch.line_id,
            sku=self.sku_ids[np.asarray(batch.sku, np.int64)], qty=np.asarray(batch.qty, np.int64),
            lat=np.asarray(batch.lat)[owner], lon=np.asarray(batch.lon)[owner],
            allow_split=np.asarray(batch.allow_split, bool)[owner],
            max_shipments=[None if x <= 0 else x for x in maxs.tolist()],
            method=per_line(batch.method, "ship"), pickup_node=per_line(pickup, ""),
            service_level=per_order(batch.service_level, "standard"), channel=per_order(batch.channel, "web"),
            placed_at=placed, allow_substitutes=per_order(batch.allow_substitutes, True))

    def _flush(self) -> None:
        """Rows of the single orders and decisions waiting, in ledger order."""
        for seq, at, o in self._orders:
            for ln in o.lines:
                self.orders.add(seq=seq, at=at, order_id=o.order_id, line_id=ln.line_id, sku=ln.sku, qty=ln.qty,
                                lat=o.lat, lon=o.lon, allow_split=o.allow_split, max_shipments=o.max_shipments,
                                method=ln.method, pickup_node=ln.pickup_node or "", service_level=o.service_level,
                                channel=o.channel, placed_at=_iso(o.placed_at),
                                allow_substitutes=o.allow_substitutes)
        self._orders.clear()
        if self._decisions:
            decisions = [d for _, _, d in self._decisions]
            t = decisions_to_tables(decisions)
            n = len(decisions)
            self.rec_orders.extend(n, seq=[s for s, _, _ in self._decisions], kind=[k for _, k, _ in self._decisions],
                                   decision=[decision_json(d) for d in decisions],
                                   **{c: t.orders[c].to_numpy() for c in RECORDED_ORDER_COLUMNS[2:-1]})
            counts = [len(d.allocations) for d in decisions]
            seqs = np.repeat(np.array([s for s, _, _ in self._decisions], np.int64), counts)
            self.rec_allocs.extend(len(seqs), seq=seqs,
                                   **{c: t.allocations[c].to_numpy() for c in RECORDED_ALLOCATION_COLUMNS[1:]})
            self._decisions.clear()

    # -- the folder's tables
    def tables(self) -> dict[str, pd.DataFrame]:
        if self._slow:
            self._end_slow()
        self._flush()
        s = self.setup
        net, inv = self.network, s["inventory"]
        out = {"nodes": nodes_frame(net), "skus": skus_frame(net, s.get("substitutes")),
               "inventory": pd.DataFrame({"node_id": self.node_ids[inv.node], "sku": self.sku_ids[self.entry_sku],
                                          "on_hand": inv.on_hand, "safety_stock": inv.safety_stock,
                                          "reserved": inv.reserved})}
        walkin = s.get("walkin")
        if walkin is not None and len(walkin):
            out["walkin"] = walkin[["node_id", "sku", "walkin_daily_demand"]].reset_index(drop=True)
        offers = s.get("vendor_offers")
        if offers is not None and len(offers):
            out["vendor_offers"] = pd.DataFrame({
                "node_id": self.node_ids[offers.node], "sku": self.sku_ids[offers.sku], "price": offers.price,
                "fee_rate": offers.fee_rate, "lead_days": offers.lead_days, "reliability": offers.reliability})
        out["orders"] = self.orders.frame()
        # a text column no row uses is left out (the loader's default is the same), not written empty
        for table, name in (("nodes", "region"), ("orders", "pickup_node")):
            if not out[table][name].astype(bool).any():
                out[table] = out[table].drop(columns=name)
        out["events"] = self.events.frame()
        out["recorded_orders"] = self.rec_orders.frame()
        out["recorded_allocations"] = self.rec_allocs.frame()
        return out


def nodes_frame(network: Network) -> pd.DataFrame:
    """The ``nodes`` table a network reads back from: every attribute of every node, in network order."""
    rows = [{"node_id": n.node_id, "kind": NodeKind(n.kind).value,
             "lat": n.lat, "lon": n.lon, "priority": n.priority, "ships": n.ships, "pickup": n.pickup,
             "handling_per_shipment": n.handling_per_shipment, "handling_per_unit": n.handling_per_unit,
             "processing_days": n.processing_days, "fee_rate": n.fee_rate, "enabled": n.enabled, "region": n.region,
             "cutoff_hour": n.cutoff_hour, "capacity_orders": n.capacity_orders, "capacity_units": n.capacity_units,
             "protect_units": n.protect_units} for n in network.nodes]
    df = pd.DataFrame(rows)
    for c in ("capacity_orders", "capacity_units", "protect_units"):
        df[c] = df[c].astype("Int64")
    return df


def skus_frame(network: Network, substitutes=None) -> pd.DataFrame:
    """The ``skus`` table: weight and price, plus the substitute attributes (category, brand, tags,
    explicit substitutes) of a :class:`~sourcewise.engine.substitutes.SubstituteIndex` when the router had one."""
    df = pd.DataFrame({"sku": [s.sku for s in network.skus], "weight_kg": network.weight_kg,
                       "price": network.price})
    if substitutes is None:
        return df
    sx = substitutes
    ids = df["sku"].tolist()

    def named(codes: np.ndarray, vocab: tuple[str, ...]) -> list[str]:
        return [vocab[c] if c >= 0 else "" for c in np.asarray(codes).tolist()]

    df["category"] = named(sx.category, sx.categories)
    df["brand"] = named(sx.brand, sx.brands)
    tags: list[str] = []
    for s in range(network.n_skus):
        if len(sx.tag_bits):
            bits = int(sx.tag_bits[s])
            codes = [c for c in range(len(sx.tags)) if bits >> c & 1]
        else:
            codes = sx.tag_codes[sx.tag_ptr[s]:sx.tag_ptr[s + 1]].tolist()
        tags.append(";".join(sx.tags[c] for c in codes))
    df["tags"] = tags
    df["substitutes"] = [";".join(ids[t] for t in sx.explicit_of(s).tolist()) for s in range(network.n_skus)]
    return df


# ----------------------------------------------------------------------------- the export


def _check_out(out: Path) -> None:
    """Refuse an output that is not a new or empty folder (nothing is ever merged into one)."""
    if out.exists():
        if not out.is_dir():
            raise ExportError(f"--out {out} exists and is not a folder")
        if any(out.iterdir()):
            raise ExportError(f"--out {out} is not empty: export into a new or empty folder")
    parent = next((q for q in out.parents if q.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ExportError(f"--out {out}: {parent} is not a folder")


def _write_folder(out: Path, tables: dict[str, pd.DataFrame], policy_text: str, fmt: str) -> list[Path]:
    """Write every file into a scratch folder beside ``out`` and rename it into place: all or nothing."""
    made = [q for q in [out.parent, *out.parent.parents] if not q.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        for name, df in tables.items():
            if fmt == "csv":
                df.to_csv(stage / f"{name}.csv", index=False)
            else:
                df.to_parquet(stage / f"{name}.parquet", index=False)
        (stage / "policy.toml").write_text(policy_text, encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty: checked before the ledger was read
        stage.rename(out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for q in made:
            try:
                q.rmdir()
            except OSError:
                pass
        raise
    return sorted(out.iterdir())


def export_journal(store: str | Store, out: str | Path, fmt: str = "csv",
                   progress: Callable[[int], None] | None = None) -> ExportSummary:
    """Write the history a ledger recorded as a journal folder that ``simulate`` replays.

    Parameters
    ----------
    store : str or Store
        A ledger URL (``sqlite:///...``, opened read only) or an open store;
        only :meth:`Store.setup` and :meth:`Store.entries` are used. A store
        passed in is left open.
    out : path
        A new or empty folder; it appears only when every file is written.
    fmt : {"csv", "parquet"}
    progress : callable, optional
        Called with the number of entries read since the last call.

    Returns
    -------
    ExportSummary

    Raises
    ------
    StoreError
        For a bad URL or a store that cannot be read.
    ExportError
        When the ledger holds no set-up or no entry, or ``out`` exists and
        is not an empty folder; nothing is written.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, got {fmt!r}")
    out = Path(out)
    _check_out(out)
    tick = progress or (lambda n: None)
    st = open_for_reading(store)
    try:
        setup = stored_setup(st, "holds no ledger: no router was ever built on it", ExportError)
        ex = _Export(setup)
        for entry in st.entries():
            ex.add(entry)
            if ex.entries % 1000 == 0:
                tick(1000)
        if ex.entries % 1000:
            tick(ex.entries % 1000)
        if ex.entries == 0:
            raise ExportError(f"{st.url} holds a set-up but no entry yet: nothing to replay")
        tables = ex.tables()
    finally:
        if st is not store:
            st.close()
    files = _write_folder(out, tables, dump_policy(setup["policy"]), fmt)
    return ExportSummary(out, ex.entries, ex.last_seq, ex.arrivals, int(tables["events"]["seq"].nunique()), ex.days,
                         tuple(files))


# ----------------------------------------------------------------------------- reading a journal back


def journal_orders(network: Network, frame: pd.DataFrame) -> OrderBatch:
    """The orders of a journal's ``orders`` table, one per routing (``seq``), in table order.

    Validated as the scenario's orders are, with each routing as an order of
    its own: an id routed twice (released in between) is two orders.

    Raises
    ------
    ValidationError
        Listing every bad row.
    """
    col = Collector()
    if "seq" not in frame.columns:
        col.add("orders", None, "seq", "required column of a journal is missing")
        col.raise_if_any()
    key = frame["seq"].astype(str) + "/" + frame["order_id"].astype(str)
    batch = orders_from_frame(network, frame.assign(order_id=key))
    starts = batch.line_ptr[:-1]
    ids = frame["order_id"].astype(str).to_numpy(dtype=object)[starts]
    return dataclasses.replace(batch, order_id=ids)


def journal_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The journal's tables with their types settled: integer columns as nullable integers and
    text columns as text, empty cells as ``""`` (CSV gives both back as floats and NaN)."""
    out = dict(tables)
    for name in JOURNAL_TABLES:
        df = tables.get(name)
        if df is None:
            continue
        df = df.copy()
        for c in df.columns:
            if c in _INT_COLUMNS:
                df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
            elif c in _TEXT_COLUMNS:
                df[c] = df[c].astype(object).where(df[c].notna(), "").astype(str)
        out[name] = df
    return out


__all__ = ["EVENT_COLUMNS", "EVENT_KINDS", "JOURNAL_TABLES", "OPTIONAL_ORDER_COLUMNS", "ORDER_COLUMNS",
           "RECORDED_ALLOCATION_COLUMNS", "RECORDED_ORDER_COLUMNS", "ExportError", "ExportSummary",
           "StoreError", "decision_from_json", "decision_json", "export_journal", "is_journal", "is_journal_folder",
           "journal_orders", "journal_refused",
           "journal_tables", "nodes_frame", "open_for_reading", "skus_frame"]
