"""The router's side of the durable ledger: what each change writes, and replaying it.

A mixin of :class:`~sourcewise.engine.router.Router`, as
:class:`~sourcewise.engine.passes.TierPasses` is: its state is the router's.
Every state-changing router method calls :meth:`Durable._record` under the
router's lock once its effects are made, and :meth:`Durable._durable` before
it returns; :meth:`Durable.recover` builds a router from a store's set-up and
replays its entries with :meth:`Durable._replay`. Without a store both are a
single attribute test.
"""

from __future__ import annotations

from itertools import islice
from itertools import repeat
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from sourcewise.engine.batch import BatchResult
from sourcewise.engine.batch import orders_from_batch
from sourcewise.engine.holds import Held
from sourcewise.engine.holds import Piece
from sourcewise.engine.holds import held_from_batch
from sourcewise.engine.ledger import BatchRecord
from sourcewise.engine.ledger import Body
from sourcewise.engine.ledger import Changes
from sourcewise.engine.ledger import Entry
from sourcewise.engine.ledger import HeldRecord
from sourcewise.engine.ledger import IdFilter
from sourcewise.engine.ledger import Store
from sourcewise.engine.ledger import StoreError
from sourcewise.engine.ledger import array
from sourcewise.engine.ledger import column
from sourcewise.engine.ledger import decode_body
from sourcewise.engine.ledger import dump_setup
from sourcewise.engine.ledger import encode_body
from sourcewise.engine.ledger import open_store
from sourcewise.engine.ledger import stored_setup
from sourcewise.engine.ledger import str_list
from sourcewise.models.decision import Decision
from sourcewise.models.errors import Collector
from sourcewise.models.order import Order
from sourcewise.models.tables import OrderBatch

_BATCH_FIELDS = ("order_id", "line_ptr", "line_id", "sku", "qty", "lat", "lon", "allow_split", "max_shipments",
                 "method", "pickup_node", "service_level", "channel", "placed_at", "allow_substitutes")


CLOSED = "the router's store is closed"


class LedgerEntry(msgspec.Struct, frozen=True):
    """One ledger entry, readable: see :meth:`Durable.history`.

    ``stock`` lists ``(node_id, sku, on_hand change, reserved change)`` and
    ``capacity`` ``(node_id, parcels change, units change)`` of today's
    remaining capacity; ``decision`` is the order's decision after the entry,
    where the entry made one.
    """

    seq: int
    at: Any
    kind: str
    order_id: str | None
    why: str
    stock: tuple[tuple[str, str, int, int], ...]
    capacity: tuple[tuple[str, int, int], ...]
    decision: Decision | None = None


def bare(decision: Decision) -> Decision:
    """``decision`` without its explanation (a live object the ledger does not keep)."""
    return decision if decision.explanation is None else msgspec.structs.replace(decision, explanation=None)


class Turns:
    """The router's lock when its store is shared by several processes (PostgreSQL).

    Each outermost hold is a *turn* (see :mod:`sourcewise.engine.pgstore`):
    it waits for the ledger's head, replays the other processes' entries onto
    this router, and on leaving commits the entries the call appended, or
    rolls them back when the call raised (its effects in memory are then
    already undone: a call that raises changes nothing). Nested holds (a
    method calling another) belong to the outermost turn.
    """

    __slots__ = ("_router", "_lock", "_depth")

    def __init__(self, router: Durable, lock) -> None:
        self._router = router
        self._lock = lock
        self._depth = 0

    def __enter__(self):
        self._lock.acquire()
        if self._depth == 0:
            try:
                self._router._begin_turn()
            except BaseException:
                self._lock.release()
                raise
        self._depth += 1
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._depth -= 1
        try:
            if self._depth == 0:
                self._router._end_turn(exc_type is None)
        finally:
            self._lock.release()
        return False


class Looks:
    """The router's lock for reads when its store is shared: the other processes' committed
    entries are applied first, without taking the turn (a read decides nothing)."""

    __slots__ = ("_turns",)

    def __init__(self, turns: Turns) -> None:
        self._turns = turns

    def __enter__(self):
        t = self._turns
        t._lock.acquire()
        try:
            if t._depth == 0:
                t._router._catch_up()
        except BaseException:
            t._lock.release()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self._turns._lock.release()
        return False


class Durable:
    """The ledger-writing and recovery methods of :class:`~sourcewise.engine.router.Router` (a mixin)."""

    _store: Store | None = None
    _broken: str | None = None
    _last_seq: int = 0
    _seen: IdFilter | None = None
    _turn_head: int | None = None  # the ledger's head when this process's open turn began
    _contended: bool = False  # the last turn found other processes' entries

    def close(self) -> None:
        """Let go of the store and its lock, so that another process may recover from it.

        Nothing is lost: every acknowledged change is already in the store.
        The router then refuses changes, and answers for open orders only.
        """
        self._stop_reaper()
        if self._store is not None and self._broken != CLOSED:
            self._broken = CLOSED
            self._store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def ledger_seq(self) -> int:
        """Seq of the last ledger entry this router wrote or applied (0 without a store)."""
        return self._last_seq

    @property
    def ledger_refusal(self) -> str | None:
        """Why the router refuses changes (closed, or a store write failed), or ``None`` when it takes them."""
        return self._broken

    def ledger_entries(self, after: int = 0) -> list[Entry]:
        """The ledger's entries after ``after``, in order (empty without a store).

        A service that keeps its own records beside the ledger (answers to
        retried requests) reads them to find what a call cut short by a crash did.
        """
        return [] if self._store is None else list(self._store.entries(after))

    # ----------------------------------------------------------------- writing
    def _attach_store(self, store: str | Store, setup: dict[str, Any] | None) -> None:
        """Write to ``store`` from now on; a new ledger starts with ``setup``."""
        st = open_store(store)
        try:
            if setup is not None:
                if st.setup() is not None:
                    raise StoreError(f"{st.url} already holds a ledger; use Router.recover() to continue it")
                st.write_setup(dump_setup(setup))
        except BaseException:
            st.close()
            raise
        self._seen = IdFilter()
        self._use_store(st)

    def _use_store(self, st: Store) -> None:
        """Write to ``st`` from now on; a shared store makes every hold of the lock a turn."""
        self._store = st
        if getattr(st, "shared", False):
            self._lock = Turns(self, self._lock)
            self._read_lock = Looks(self._lock)

    def _begin_turn(self) -> None:
        """Start a turn (under the router's lock): wait for the head, apply the others' entries."""
        if self._broken is not None:
            return  # closed or broken: reads answer from memory, changes are refused (_usable)
        # when others are writing, most of their entries are replayed before the head is locked:
        # the turn, which holds up every process, then applies only those that arrived meanwhile
        # (alone, that read would only cost a round trip)
        if self._contended:
            self._catch_up()
        try:
            entries = self._store.begin(self._last_seq)
            self._contended = bool(entries)
            self._apply(entries)
        except BaseException as exc:
            # an entry half-applied, or the database gone: memory may now differ from the ledger
            self._store.end(False)
            if self._broken is None:
                self._broken = str(exc)
            raise
        self._turn_head = self._last_seq

    def _look(self) -> None:
        """Before a read outside the lock: with a shared store, see the other processes' changes."""
        lock = self._read_lock
        if type(lock) is Looks:
            with lock:
                pass

    def _catch_up(self) -> None:
        if self._broken is not None:
            return
        try:
            self._apply(self._store.catch_up(self._last_seq))
        except BaseException as exc:
            if self._broken is None:
                self._broken = str(exc)
            raise

    def _end_turn(self, ok: bool) -> None:
        """End the turn: commit what the call appended, or roll it back when the call raised."""
        head = self._turn_head
        if head is None:
            return
        self._turn_head = None
        if not ok:
            self._store.end(False)
            self._last_seq = head  # the appended entries are gone; the next turn reads from here
            return
        try:
            self._store.end(True)
        except BaseException as exc:
            self._last_seq = head
            self._broken = str(exc)
            raise

    def _usable(self) -> None:
        """Refuse every change once a write failed: memory may then hold what the ledger lacks."""
        if self._broken is not None:
            raise StoreError(f"the ledger could not be written ({self._broken}); recover the router from the store")

    def _record(self, kind: str, order_id: str | None, why: str, body: Body, order_ids=()) -> int:
        """Append one entry (under the router's lock, after its effects); 0 without a store."""
        try:
            seq = self._last_seq = self._store.append(kind, order_id, why, encode_body(body), order_ids)
            return seq
        except BaseException as exc:
            self._broken = str(exc)
            raise

    def _durable(self, seq: int) -> None:
        """Return once entry ``seq`` is durable (outside the router's lock: others append meanwhile)."""
        if seq:
            try:
                self._store.sync(seq)
            except BaseException as exc:
                self._broken = str(exc)
                raise

    def _caps(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Today's capacity counters, to diff after a change (only with a store)."""
        if self._store is None:
            return None
        return self._cap_orders.copy(), self._cap_units.copy()

    def _changes(self, caps, entries=None, reserved=None, on_hand=None, nodes=None) -> Changes:
        """The deltas of one change: per entry, and per node where capacity moved since ``caps``
        (looking only at ``nodes`` when the caller knows capacity can have moved nowhere else).

        Plain lists and ints where the change is small: this runs once per routed order.
        """
        out = Changes()
        if entries is not None and len(entries):
            e = entries.tolist() if isinstance(entries, np.ndarray) else list(entries)
            n = len(e)
            out.entries = e
            out.reserved = [0] * n if reserved is None else np.asarray(reserved, np.int64).tolist()
            out.on_hand = [0] * n if on_hand is None else np.asarray(on_hand, np.int64).tolist()
        if caps is not None:
            co, cu = self._cap_orders, self._cap_units
            if nodes is None:
                moved = np.flatnonzero((caps[0] != co) | (caps[1] != cu)).tolist()
            else:
                moved = sorted(n for n in nodes if caps[0][n] != co[n] or caps[1][n] != cu[n])
            for n in moved:
                out.nodes.append(n)
                out.cap_orders.append(int(co[n] - caps[0][n]))
                out.cap_units.append(int(cu[n] - caps[1][n]))
        return out

    @staticmethod
    def _storable_order(order: Order) -> None:
        """:meth:`_storable` for one order, with a fast look first (``route`` calls it per order):
        ASCII text is always UTF-8, and CPython knows a string is ASCII without reading it."""
        oid = order.order_id
        if oid.isascii() and "\x00" not in oid and all(
                ln.line_id.isascii() and "\x00" not in ln.line_id for ln in order.lines):
            return
        Durable._storable([order])

    @staticmethod
    def _storable(orders: list[Order] | None = None, batch: OrderBatch | None = None) -> None:
        """Refuse, before anything changes, text the ledger cannot keep: lone surrogates (not
        Unicode, so not UTF-8) and NUL characters (which PostgreSQL's text refuses) in ids."""
        # one look at all the text first (a batch has 10^5 ids); the (order, text, field)
        # triples that name a problem are only made when there is one
        parts: list[str] = []
        if orders is not None:
            for o in orders:
                parts.append(o.order_id)
                parts += [ln.line_id for ln in o.lines]
        if batch is not None:
            parts += batch.order_id.tolist()
            parts += batch.line_id.tolist()
        joined = "".join(map(str, parts))
        try:
            joined.encode("utf-8")
            if "\x00" not in joined:
                return
        except UnicodeEncodeError:
            pass
        texts = []
        if orders is not None:
            for o in orders:
                texts.append((o.order_id, o.order_id, "order_id"))
                texts += [(o.order_id, ln.line_id, "line_id") for ln in o.lines]
        if batch is not None:
            texts += [(x, x, "order_id") for x in batch.order_id.tolist()]
            owner = np.repeat(batch.order_id, np.diff(batch.line_ptr))
            texts += [(o, x, "line_id") for o, x in zip(owner.tolist(), batch.line_id.tolist(), strict=True)]
        col = Collector()
        for oid, text, field in texts:
            t = str(text)
            try:
                t.encode("utf-8")
            except UnicodeEncodeError:
                col.add("orders", repr(oid), field, f"{t!r} is not valid Unicode (a lone surrogate): "
                        "the ledger cannot keep it")
                continue
            if "\x00" in t:
                col.add("orders", repr(oid), field, f"{t!r} holds a NUL character: the ledger cannot keep it")
        col.raise_if_any()

    @staticmethod
    def _ship_nodes(held: Held):
        """The nodes an order ships from, read without building its pieces when it has none yet."""
        whole = held.whole
        if whole is not None:
            # (node, lead, km, tier) of one node, or (rows, floats, tier) of a split: see Held
            return (whole[0],) if len(whole) == 4 else set(whole[0][0::4])
        pieces = held.piece_list()
        return None if pieces is None else {p.node for p in pieces}

    @staticmethod
    def _held_record(held: Held) -> HeldRecord:
        entries, qty = held.rows()
        whole = held.whole
        # the one-call paths' compact form when there is one (their pieces are built from it on use)
        pieces = None if whole is not None else held.piece_list()
        return HeldRecord(
            entries.tolist(), qty.tolist(), held.day,
            None if held.cap_nodes is None else np.asarray(held.cap_nodes).tolist(),
            None if held.cap_units is None else np.asarray(held.cap_units).tolist(),
            None if pieces is None else [(p.group, p.node, p.entry, p.qty, p.lead, p.km, p.tier, p.method, p.free)
                                         for p in pieces],
            None if held.batch_tiers is None else np.asarray(held.batch_tiers).tolist(),
            None if whole is None else list(whole))

    @staticmethod
    def _held_of(rec: HeldRecord, decision: Decision, order: Order | None) -> Held:
        pieces = None if rec.pieces is None else [Piece(*p) for p in rec.pieces]
        return Held(decision, np.array(rec.entries, np.int64), np.array(rec.qty, np.int64), None, rec.day,
                    None if rec.cap_nodes is None else np.array(rec.cap_nodes, np.int64),
                    None if rec.cap_units is None else np.array(rec.cap_units, np.int64).reshape(2, -1),
                    pieces, order, None if rec.whole is None else tuple(rec.whole),
                    batch_tiers=None if rec.batch_tiers is None else np.array(rec.batch_tiers, np.int64))

    def _record_held(self, kind: str, held: Held, order: Order | None, caps, why: str,
                     reserved_before: tuple[np.ndarray, np.ndarray] | None = None, on_hand=None,
                     changes: Changes | None = None) -> int:
        """The entry of an order that now holds ``held`` (routed or re-routed); ``changes``
        when the caller took them already (:meth:`_held_changes`)."""
        if changes is None:
            changes = self._held_changes(held, caps, reserved_before, on_hand)
        d = held.get()
        # a hold's expiry goes with its route entry (see Holds.hold), and stays through re-routes
        expires = self._hold_expiry if kind == "route" else self._holds.get(d.order_id)
        return self._record(kind, d.order_id, why, Body(changes, order, bare(d), self._held_record(held),
                                                       expires=expires))

    def _held_changes(self, held: Held, caps, reserved_before=None, on_hand=None) -> Changes:
        """What routing (or re-routing) ``held`` changed since ``caps``: reservations moved, the
        on-hand corrections ``on_hand`` = (entries, deltas), capacity taken."""
        entries, qty = held.rows()
        nodes = None
        if reserved_before is not None:
            # re-routed: the reservation moved from the old rows to the new ones
            entries = np.concatenate([reserved_before[0], entries])
            qty = np.concatenate([-reserved_before[1], qty])
        else:
            # a new order takes capacity only where it ships (vendor pieces included)
            nodes = self._ship_nodes(held)
        changes = self._changes(caps, entries, qty, nodes=nodes)
        if caps is None and reserved_before is None and held.whole is not None:
            # the one-call path (route_one): one parcel and the units at each node it ships from,
            # exactly what its reservation took (reserve_whole, reserve_rows), with no copy of the counters
            whole = held.whole
            if len(whole) == 4:
                changes.nodes, changes.cap_orders, changes.cap_units = [whole[0]], [-1], [-int(held.qty.sum())]
            else:
                units: dict[int, int] = {}
                rows = whole[0]
                for j in range(0, len(rows), 4):
                    units[rows[j]] = units.get(rows[j], 0) - rows[j + 2]
                changes.nodes = sorted(units)
                changes.cap_orders = [-1] * len(units)
                changes.cap_units = [units[n] for n in changes.nodes]
        if on_hand is not None:
            e, d = on_hand
            changes.entries += np.asarray(e, np.int64).tolist()
            changes.reserved += [0] * len(e)
            changes.on_hand = [0] * (len(changes.entries) - len(e)) + np.asarray(d, np.int64).tolist()
        return changes

    def _record_batch(self, batch: OrderBatch, result: BatchResult, name: str, rows, al, bl, caps) -> int:
        """The entry of a batch ``route_many`` routed in one compiled call."""
        out_e, out_q, out_t = rows
        record = BatchRecord(
            name, self.business_day, str_list(batch.order_id),
            {f: column(getattr(batch, f)) for f in _BATCH_FIELDS},
            {c: column(result.allocations[c].to_numpy()) for c in result.allocations.columns},
            {c: column(result.orders[c].to_numpy()) for c in result.orders.columns},
            (column(out_e), column(out_q), column(out_t)), row_bounds=column(np.asarray(bl, np.int64)),
            alloc_bounds=column(np.asarray(al, np.int64)),
            unfilled=None if result.unfilled is None else
            {c: column(result.unfilled[c].to_numpy()) for c in result.unfilled.columns})
        changes = self._changes(caps, out_e, out_q)
        why = f"batch of {batch.n_orders} order(s) routed ({name})"
        return self._record("batch", None, why, Body(changes, batch=record), record.order_ids)

    def _spent(self, ids: list[str]) -> list[str]:
        """Of ``ids`` (none open), those the ledger holds as committed: they cannot be routed again."""
        maybe = self._seen.maybe(ids)
        return [x for x, m in zip(ids, maybe.tolist(), strict=True)
                if m and (last := self._store.last(x)) is not None and last.kind in ("commit", "commit_many")]

    # ----------------------------------------------------------------- reading back
    def _entry_decision(self, entry: Entry, order_id: str) -> tuple[Decision | None, Order | None]:
        """The decision and order an entry recorded for ``order_id`` (None where it made none)."""
        body = decode_body(entry.body)
        if body.decision is not None and body.decision.order_id == order_id:
            return body.decision, body.order
        for d in body.decisions:
            if d.order_id == order_id:
                return d, None
        if body.batch is not None:
            result, info, batch = self._batch_of(body.batch)
            o = body.batch.order_ids.index(order_id)
            al, bl = info[1], info[2]
            held = held_from_batch((info[0], o, al[o], al[o + 1], bl[o], bl[o + 1]))
            return bare(held.get()), orders_from_batch(self.network, batch.take(np.array([o])))[0]
        return None, None

    def _stored(self, order_id: str) -> tuple[str, Decision | None, Order | None] | None:
        """What the ledger says of an order that is not open: its last entry's kind, its last
        decision and the order as routed (None when the ledger never saw it)."""
        if self._store is None or self._broken == CLOSED:
            return None
        last = self._store.last(order_id)
        if last is None:
            return None
        decision = order = None
        for entry in reversed(self._store.history(order_id)):
            d, o = self._entry_decision(entry, order_id)
            if decision is None:
                decision = d
            if o is not None:
                # the order as routed is in its route (or re-route, or batch) entry; an optimizer's
                # swap after it records a new decision but not the order
                order = o
                break
        return last.kind, decision, order

    def history(self, order_id: str) -> list[LedgerEntry]:
        """Every ledger entry about ``order_id``, oldest first (empty without a store).

        Each says when, what kind of change, why, the stock and capacity it
        moved (node and SKU ids), and the order's decision where it made one.
        """
        if self._store is None or self._broken == CLOSED:
            return []
        out = []
        nodes, skus = self._node_ids, self._sku_ids
        for entry in self._store.history(order_id):
            body = decode_body(entry.body)
            ch = body.changes
            ents = np.asarray(ch.entries, np.int64)
            stock = tuple((nodes[n], skus[s], int(oh), int(r)) for n, s, oh, r in zip(
                self._inv.node[ents].tolist(), self._sku_of_entry[ents].tolist(), ch.on_hand, ch.reserved,
                strict=True))
            capacity = tuple((nodes[n], int(o), int(u))
                             for n, o, u in zip(ch.nodes, ch.cap_orders, ch.cap_units, strict=True))
            d, _ = self._entry_decision(entry, order_id)
            out.append(LedgerEntry(entry.seq, entry.at, entry.kind, entry.order_id, entry.why, stock, capacity, d))
        return out

    # ----------------------------------------------------------------- recovery
    @classmethod
    def recover(cls, store: str | Store, *, gateway=None, clock=None):
        """The router a store's ledger describes: its set-up with every entry replayed.

        Stock on hand, reservations (which order holds which units at which
        node), open orders and their decisions, capacity used today, the
        business day and dual prices are as they were after the last
        acknowledged change; committed orders answer :meth:`decision` from the
        ledger. The router goes on writing to the same store.

        Parameters
        ----------
        store : str or Store
            ``sqlite:///path`` (see :func:`sourcewise.engine.ledger.parse_url`) or an open store.
        gateway : VendorGateway, optional
            The live vendor gateway, which the ledger does not keep.
        clock : Clock, optional
            The clock holds expire by (:mod:`sourcewise.engine.clock`); the wall clock by default.
            Holds keep their recorded expiry: those due while no process ran are given back at once.

        Raises
        ------
        StoreError
            When the store holds no ledger, another process writes to it, or it is unreadable.
        """
        st = open_store(store)
        try:
            router = cls(**stored_setup(st, "holds no ledger to recover"), gateway=gateway, clock=clock)
            router._seen = IdFilter()
            router._apply(st.entries())
        except BaseException:
            st.close()
            raise
        router._use_store(st)
        if router._holds:
            router._wake_reaper()
        return router

    def _batch_of(self, rec: BatchRecord) -> tuple[BatchResult, tuple, OrderBatch]:
        """A batch entry's result tables, its records' shared part with bounds, and its orders."""
        result = BatchResult(pd.DataFrame({c: array(v) for c, v in rec.allocations.items()}),
                             pd.DataFrame({c: array(v) for c, v in rec.decisions.items()}),
                             None if rec.unfilled is None else
                             pd.DataFrame({c: array(v) for c, v in rec.unfilled.items()}))
        rows = tuple(array(c) for c in rec.rows)
        batch = OrderBatch(**{f: array(c) for f, c in rec.orders.items()})
        info = (result, rec.strategy, rec.day, rows, batch)
        return result, (info, array(rec.alloc_bounds).tolist(), array(rec.row_bounds).tolist()), batch

    def _apply(self, entries) -> None:
        """Replay ``entries`` in order, each noted as seen (recovery, and a shared ledger's catch-up)."""
        for entry in entries:
            self._replay(entry)
            self._last_seq = entry.seq

    def _replay(self, entry: Entry) -> None:
        """Apply one entry to this router's state, as the call that wrote it did."""
        body = decode_body(entry.body)
        ch = body.changes
        if ch.entries:
            e = np.asarray(ch.entries, np.int64)
            np.add.at(self._on_hand, e, np.asarray(ch.on_hand, np.int64))
            np.add.at(self._reserved, e, np.asarray(ch.reserved, np.int64))
        if ch.nodes:
            n = np.asarray(ch.nodes, np.int64)
            self._cap_orders[n] += np.asarray(ch.cap_orders, np.int64)
            self._cap_units[n] += np.asarray(ch.cap_units, np.int64)
        kind, oid = entry.kind, entry.order_id
        if kind in ("route", "reroute"):
            self._open[oid] = self._held_of(body.held, body.decision, body.order)
            self._seen.add_one(oid)
            if body.expires is not None:
                self._holds[oid] = body.expires
        elif kind in ("release", "commit", "expire"):
            self._open.pop(oid, None)
            self._holds.pop(oid, None)
        elif kind == "commit_many":
            for x in body.order_ids:
                self._open.pop(x, None)
                self._holds.pop(x, None)
        elif kind == "confirm":
            self._holds.pop(oid, None)
        elif kind == "extend":
            self._holds[oid] = body.expires
        elif kind == "swap":
            for d, rec in zip(body.decisions, body.helds, strict=True):
                old = self._open_held(d.order_id)
                new = self._held_of(rec, d, None if old is None else old.order)
                # what a repeated id is compared with stays: the order, or its batch row
                new.origin = None if old is None else old.origin
                self._open[d.order_id] = new
        elif kind == "batch":
            rec = body.batch
            _, (info, al, bl), _ = self._batch_of(rec)
            n = len(rec.order_ids)
            self._seen.add(rec.order_ids)
            self._open.update(zip(rec.order_ids, zip(repeat(info), range(n), al, islice(al, 1, None), bl,
                                                     islice(bl, 1, None), strict=False), strict=False))
        elif kind == "day":
            self.business_day = body.day
        elif kind == "prices":
            self._set_prices(array(body.prices))
        elif kind not in ("adjust", "capacity"):
            raise StoreError(f"ledger entry {entry.seq} has unknown kind {kind!r}")

