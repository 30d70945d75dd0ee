"""The durable ledger: every change to a router's state, append-only, in a store.

A :class:`~sourcewise.engine.router.Router` built with ``store=`` writes one
:class:`Entry` per state-changing call before the call returns: what changed
(stock, reservations and capacity, as deltas), for which order, when and why.
:meth:`Router.recover <sourcewise.engine.router.Router.recover>` replays the
entries onto the set-up the first entry recorded and so rebuilds the exact
state after a crash.

The store is a small interface (:class:`Store`): append entries, read them
back in order or by order id, keep the set-up. :class:`SQLiteStore` is the
embedded implementation, for one process;
:class:`~sourcewise.engine.pgstore.PostgresStore` is shared by several.

Durability
----------
SQLite runs in write-ahead-log mode. By default (``durability=process``)
every entry is in the log file when the call returns: it survives ``kill -9``
of the process but not necessarily a power loss, since the operating system
may still hold it in memory. ``durability=fsync`` makes each commit wait for
the disk (``synchronous=FULL``); callers on other threads that append while a
commit waits are committed together with the next one (group commit), and a
batch (``route_many``, ``commit_many``) is one commit.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC
from datetime import date
from datetime import datetime
from pathlib import Path
from typing import Any
from typing import Protocol
from typing import runtime_checkable

import msgspec
import numpy as np

from sourcewise.models.decision import Decision
from sourcewise.models.order import Order

#: Bumped when the entry bodies change shape; a store written by another format refuses to load.
FORMAT = 1


class StoreError(RuntimeError):
    """The store cannot be opened or written (in use by another process, wrong format, I/O error)."""


# ----------------------------------------------------------------------------- entry bodies


class Changes(msgspec.Struct, array_like=True, omit_defaults=True, gc=False):
    """What one entry changed, as deltas: per inventory entry (position in the
    inventory) the change of on-hand and of reserved units, and per node the
    change of today's remaining capacity (parcels and units)."""

    entries: list[int] = []
    on_hand: list[int] = []
    reserved: list[int] = []
    nodes: list[int] = []
    cap_orders: list[int] = []
    cap_units: list[int] = []


class HeldRecord(msgspec.Struct, array_like=True, gc=False):
    """An open order's reservation record, enough to rebuild it after a crash."""

    entries: list[int]
    qty: list[int]
    day: date | None
    cap_nodes: list[int] | None
    cap_units: list[list[int]] | None
    # (group, node, entry, qty, lead, km, tier, method, free) per piece; None for batch orders
    pieces: list[tuple[int, int, int, int, float, float, str, str, bool]] | None
    batch_tiers: list[int] | None = None
    # the one-call paths' compact plan, instead of pieces: (node, lead, km, tier) of one node, or
    # (rows, floats, tier) of a split (see engine.holds.Held.whole)
    whole: list[Any] | None = None


class Column(msgspec.Struct, array_like=True, gc=False):
    """One array: raw little-endian bytes with their dtype, or a list of strings (object arrays)."""

    dtype: str
    data: bytes | list[Any]
    shape: tuple[int, ...] = ()


class BatchRecord(msgspec.Struct, gc=False):
    """What ``route_many`` decided for a whole batch: its result tables and reserved rows."""

    strategy: str
    day: date
    order_ids: list[str]
    # the orders as given (for the content check of a repeated id) and the result tables
    orders: dict[str, Column | None]
    allocations: dict[str, Column]
    decisions: dict[str, Column]
    # (entries, qty, tiers) of every reserved row, and each order's bounds in them and in the allocations
    rows: tuple[Column, Column, Column]
    row_bounds: Column
    alloc_bounds: Column
    # the lines left unfilled, with their reasons (BatchResult.unfilled); None in ledgers written before it
    unfilled: dict[str, Column] | None = None


class Body(msgspec.Struct, omit_defaults=True, gc=False):
    """The body of one ledger entry: its changes, and what the kind needs to replay it."""

    changes: Changes = msgspec.field(default_factory=Changes)
    order: Order | None = None
    decision: Decision | None = None
    held: HeldRecord | None = None
    day: date | None = None
    batch: BatchRecord | None = None
    order_ids: list[str] = []
    decisions: list[Decision] = []
    helds: list[HeldRecord] = []
    prices: Column | None = None
    expires: float | None = None  # a hold's expiry (clock seconds): kinds route, reroute and extend


def _no_custom(type_: type, obj: Any) -> Any:
    # Decision.explanation is a live object, never stored (the body holds None there)
    return None


_encode = msgspec.msgpack.Encoder().encode
_decode_body = msgspec.msgpack.Decoder(Body, dec_hook=_no_custom).decode


def encode_body(body: Body) -> bytes:
    """The bytes a store keeps for ``body``."""
    return _encode(body)


def decode_body(data: bytes) -> Body:
    """The :class:`Body` of stored bytes."""
    return _decode_body(data)


def str_list(a: np.ndarray, keep_none: bool = False) -> list:
    """The items of ``a`` (flattened) as a list of ``str``; ``None`` stays ``None`` with ``keep_none``.

    A batch's id columns already hold ``str`` objects: they are taken as they are, after one
    look at their types, rather than passed through ``str()`` one by one.
    """
    items = a.ravel().tolist()
    kinds = set(map(type, items))
    if kinds <= ({str, type(None)} if keep_none else {str}):
        return items
    if keep_none:
        return [None if x is None else str(x) for x in items]
    return [str(x) for x in items]


def column(a: np.ndarray | None) -> Column | None:
    """An array as a :class:`Column` (None stays None)."""
    if a is None:
        return None
    a = np.asarray(a)
    if a.dtype == object or a.dtype.kind in "US":
        return Column("str", str_list(a, keep_none=True), a.shape)
    if a.dtype.kind == "M":
        return Column(str(a.dtype), a.astype(np.int64).tobytes(), a.shape)
    return Column(a.dtype.str, np.ascontiguousarray(a).tobytes(), a.shape)


def array(c: Column | None) -> np.ndarray | None:
    """The array a :class:`Column` holds (a writable copy)."""
    if c is None:
        return None
    if c.dtype == "str":
        out = np.empty(len(c.data), dtype=object)
        out[:] = c.data
        return out.reshape(c.shape)
    if c.dtype.startswith("datetime64"):
        return np.frombuffer(c.data, np.int64).astype(c.dtype).reshape(c.shape)
    return np.frombuffer(c.data, np.dtype(c.dtype)).copy().reshape(c.shape)


# ----------------------------------------------------------------------------- entries


class Entry(msgspec.Struct, frozen=True, gc=False):
    """One ledger entry as read back.

    Attributes
    ----------
    seq : int
        Position in the ledger (1, 2, ...): entries apply in this order.
    at : datetime
        When it was written (UTC).
    kind : str
        ``setup``, ``route``, ``batch``, ``release``, ``commit``, ``commit_many``,
        ``reroute``, ``adjust``, ``day``, ``capacity``, ``swap`` or ``prices``.
    order_id : str or None
        The order it concerns (None for entries about stock, capacity or many orders).
    why : str
        One line saying why the state changed.
    body : bytes
        The encoded :class:`Body` (:func:`decode_body`).
    """

    seq: int
    at: datetime
    kind: str
    order_id: str | None
    why: str
    body: bytes


# ----------------------------------------------------------------------------- ids seen


class IdFilter:
    """Order ids the ledger may hold, in fixed memory (a Bloom filter).

    With a store, committed orders leave memory, yet an id that was committed
    must not be routed again. Asking the store for every new id would cost a
    query per order; this answers "certainly new" for almost all of them and
    leaves the store to settle the rest. Its size never grows: with the
    default 2**27 bits and four probes, one new id in about 200 is sent to
    the store after ten million orders.

    Parameters
    ----------
    bits : int
        Size, a power of two.
    """

    PROBES = 4

    def __init__(self, bits: int = 1 << 27) -> None:
        if bits <= 0 or bits & (bits - 1):
            raise ValueError(f"bits must be a power of two, got {bits}")
        self._mask = np.uint64(bits - 1)
        self._bits = bits
        # a bytearray, so that one id is tested in plain Python (a numpy call per order costs
        # more than the test), with a numpy view of the same memory for whole batches;
        # every byte is written now, so the pages are resident from the start and the
        # filter's memory does not creep up as ids arrive
        self._bytes = bytearray(bits // 8)
        self._view = np.frombuffer(self._bytes, np.uint8)
        self._view[:] = 0

    def _positions(self, ids: Sequence[str]) -> np.ndarray:
        h = np.fromiter((hash(x) for x in ids), np.int64, len(ids)).view(np.uint64)
        # a second, independent hash by a 64-bit mix (splitmix64's finaliser); probes are h1 + i * h2
        with np.errstate(over="ignore"):
            h2 = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            h2 = (h2 ^ (h2 >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h2 = (h2 ^ (h2 >> np.uint64(31))) | np.uint64(1)
            steps = np.arange(self.PROBES, dtype=np.uint64)
            return (h[:, None] + steps[None, :] * h2[:, None]) & self._mask

    def _probes(self, order_id: str) -> list[int]:
        """:meth:`_positions` of one id, in plain ints."""
        m = 0xFFFFFFFFFFFFFFFF
        h = hash(order_id) & m
        h2 = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & m
        h2 = ((h2 ^ (h2 >> 27)) * 0x94D049BB133111EB) & m
        h2 = (h2 ^ (h2 >> 31)) | 1
        mask = self._bits - 1
        return [((h + i * h2) & m) & mask for i in range(self.PROBES)]

    def add_one(self, order_id: str) -> None:
        """Remember one id."""
        b = self._bytes
        for p in self._probes(order_id):
            b[p >> 3] |= 1 << (p & 7)

    def check_add(self, order_id: str) -> bool:
        """Remember one id; False when it was certainly never added before."""
        b = self._bytes
        seen = True
        for p in self._probes(order_id):
            byte, bit = p >> 3, 1 << (p & 7)
            if not b[byte] & bit:
                seen = False
                b[byte] |= bit
        return seen

    def maybe_one(self, order_id: str) -> bool:
        """False when ``order_id`` was certainly never added."""
        b = self._bytes
        for p in self._probes(order_id):
            if not b[p >> 3] >> (p & 7) & 1:
                return False
        return True

    def add(self, ids: Sequence[str]) -> None:
        """Remember ``ids``."""
        if len(ids):
            pos = self._positions(ids).ravel()
            np.bitwise_or.at(self._view, (pos >> np.uint64(3)).astype(np.int64),
                             (np.uint8(1) << (pos & np.uint64(7)).astype(np.uint8)))

    def maybe(self, ids: Sequence[str]) -> np.ndarray:
        """Per id, False when it was certainly never added."""
        if not len(ids):
            return np.zeros(0, bool)
        pos = self._positions(ids)
        bits = (self._view[(pos >> np.uint64(3)).astype(np.int64)] >> (pos & np.uint64(7)).astype(np.uint8)) & 1
        return bits.all(axis=1)


# ----------------------------------------------------------------------------- the interface


@runtime_checkable
class Store(Protocol):
    """What a router needs from a durable store.

    Entries are appended in the order the router made the changes, under the
    router's lock; :meth:`sync` makes everything appended so far durable
    (the router calls it before the call that made the change returns).

    A store several processes share says ``shared = True`` and also
    provides ``begin(after) -> list[Entry]`` (start a turn: wait for the
    ledger's head and return the entries after ``after``), ``end(commit)``
    (commit the turn's entries durably, or roll them back) and
    ``catch_up(after) -> list[Entry]`` (the committed entries after
    ``after``, without waiting): see :mod:`sourcewise.engine.pgstore`.
    """

    url: str

    def setup(self) -> bytes | None:
        """The set-up the ledger starts from (None for a new, empty store)."""

    def append(self, kind: str, order_id: str | None, why: str, body: bytes,
               order_ids: Sequence[str] = ()) -> int:
        """Add one entry (``order_ids``: further orders it concerns) and return its seq."""

    def sync(self, seq: int) -> None:
        """Return once entry ``seq`` and all before it are durable."""

    def entries(self, after: int = 0) -> Iterator[Entry]:
        """Every entry after ``after``, in order."""

    def last(self, order_id: str) -> Entry | None:
        """The latest entry about ``order_id``."""

    def history(self, order_id: str) -> list[Entry]:
        """Every entry about ``order_id``, in order."""

    def close(self) -> None:
        """Release the store (the router is done with it)."""


# ----------------------------------------------------------------------------- SQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    order_id TEXT,
    why TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_order ON ledger (order_id) WHERE order_id IS NOT NULL;
-- entries about many orders at once (a batch, commit_many, a swap): one row per order
CREATE TABLE IF NOT EXISTS ledger_orders (order_id TEXT NOT NULL, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_orders_id ON ledger_orders (order_id);
"""

DURABILITY = ("process", "fsync")


def parse_url(url: str) -> tuple[Path, str]:
    """The file and durability of a ``sqlite:///`` URL.

    As in SQLAlchemy, ``sqlite:///ledger.db`` is relative to the working
    directory and ``sqlite:////var/lib/ledger.db`` absolute;
    ``?durability=fsync`` asks for a disk flush per commit.

    Raises
    ------
    StoreError
        For another scheme, a missing path or an unknown option.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc:
        raise StoreError(f"store URL must look like sqlite:///path/to/ledger.db, got {url!r}")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise StoreError(f"store URL names no file: {url!r}")
    options = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"durability"})
    if unknown:
        raise StoreError(f"unknown store option(s) {unknown} in {url!r}; known: durability")
    durability = options.get("durability", ["process"])[-1]
    if durability not in DURABILITY:
        raise StoreError(f"durability must be one of {DURABILITY}, got {durability!r}")
    return Path(path), durability


class Checkpointer:
    """Copies a SQLite file's write-ahead log into the file every :attr:`EVERY_S` seconds, on a thread
    and a connection of its own.

    The writing connection sets ``wal_autocheckpoint=0``; otherwise the
    commit that fills the log past 1,000 pages copies it, and syncs the log
    and the file to disk, before it returns: milliseconds, and tens of them
    when the disk is busy, on the writer's thread (the service's event loop).
    A passive checkpoint never blocks the writer (sqlite3 releases the GIL
    while SQLite works). The log is written again from its start once a
    checkpoint has copied all of it before the next write begins; writes
    that never pause let it grow instead (to about 100 MB over a
    ``serve_load`` run), and the file keeps that size.
    """

    EVERY_S = 0.2

    def __init__(self, path: Path, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(str(path),), name=name, daemon=True)
        self._thread.start()

    def _run(self, path: str) -> None:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.EVERY_S):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    pass  # busy or closing: the next round tries again
        finally:
            db.close()

    def stop(self) -> None:
        """Stop and wait for the thread (a checkpoint under way finishes first)."""
        self._stop.set()
        self._thread.join()


class SQLiteStore:
    """A :class:`Store` in one SQLite file, for one writing process at a time.

    Parameters
    ----------
    url : str
        ``sqlite:///path`` (see :func:`parse_url`).
    readonly : bool
        Open for reading history only: no lock is taken, nothing can be appended.

    Raises
    ------
    StoreError
        When another process writes to the same file (a lock file beside it
        says so), or the file was written by another ledger format.
    """

    _checkpointer: Checkpointer | None = None

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        self.url = url
        self.path, self.durability = parse_url(url)
        self.readonly = readonly
        self._lock = threading.Lock()
        self._lockfile = None
        self._pending = 0  # highest seq appended but perhaps not yet durable (fsync mode)
        self._durable = 0
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # one writer per file: two routers on one ledger would each believe they own the stock
            fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise StoreError(f"{self.path} is in use by another process (lock held on {self.path}.lock)") \
                    from None
            self._lockfile = fd
        elif not self.path.exists():
            raise StoreError(f"no ledger at {self.path}")
        with closed_on_failure(self, sqlite3.Error, lambda exc: f"cannot open {self.path}: {exc}"):
            uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            if not readonly:
                # small pages (a new file only): each commit writes a table and an index page to the
                # log, and 1 KiB frames instead of 4 KiB took about 3.5 us off every commit
                self._db.execute("PRAGMA page_size=1024")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={'FULL' if self.durability == 'fsync' else 'NORMAL'}")
                self._db.execute("PRAGMA wal_autocheckpoint=0")  # a Checkpointer copies the log
                self._db.executescript(_SCHEMA)
            fmt = self._meta("format")
            if fmt is None and not readonly:
                self._db.execute("INSERT INTO meta VALUES ('format', ?)", (str(FORMAT).encode(),))
            elif fmt is not None and int(fmt) != FORMAT:
                raise StoreError(f"{self.path} holds ledger format {int(fmt)}; this version reads {FORMAT}")
            self._pending = self._durable = self._db.execute("SELECT coalesce(max(seq), 0) FROM ledger").fetchone()[0]
            if not readonly:
                self._checkpointer = Checkpointer(self.path, "ledger-checkpoint")

    def _meta(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def setup(self) -> bytes | None:
        return self._meta("setup")

    def write_setup(self, setup: bytes) -> None:
        """Record the set-up (network, inventory, policy, ...) of a new ledger, durably.

        Raises
        ------
        StoreError
            If the store already holds one: recover from it instead.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                if self._meta("setup") is not None:
                    self._db.execute("ROLLBACK")
                    raise StoreError(f"{self.path} already holds a ledger; use Router.recover() to continue it")
                self._db.execute("INSERT INTO meta VALUES ('setup', ?)", (setup,))
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"cannot write to {self.path}: {exc}") from None

    def append(self, kind: str, order_id: str | None, why: str, body: bytes, order_ids: Sequence[str] = ()) -> int:
        with self._lock:
            fsync = self.durability == "fsync"
            try:
                if fsync and not self._db.in_transaction:
                    self._db.execute("BEGIN IMMEDIATE")
                multi = len(order_ids) > 0
                if multi and not self._db.in_transaction:
                    self._db.execute("BEGIN IMMEDIATE")
                cur = self._db.execute("INSERT INTO ledger (at, kind, order_id, why, body) VALUES (?, ?, ?, ?, ?)",
                                       (time.time(), kind, order_id, why, body))
                seq = cur.lastrowid
                if multi:
                    self._db.executemany("INSERT INTO ledger_orders VALUES (?, ?)",
                                         zip(order_ids, [seq] * len(order_ids), strict=True))
                    if not fsync:
                        self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"cannot write to {self.path}: {exc}") from None
            self._pending = seq
            if not fsync:
                self._durable = seq
            return seq

    def sync(self, seq: int) -> None:
        if seq <= self._durable:
            return
        with self._lock:
            # whoever commits first commits everything appended so far: the callers that
            # appended while this thread waited for the lock find their entries durable
            if seq <= self._durable:
                return
            try:
                if self._db.in_transaction:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"cannot write to {self.path}: {exc}") from None
            self._durable = self._pending

    def discard(self) -> None:
        """Drop what was appended but not yet made durable (fsync mode: the call that appended it failed)."""
        with self._lock:
            self._rollback()
            self._pending = self._durable

    def _rollback(self) -> None:
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _entries(self, sql: str, args: tuple) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [Entry(seq, datetime.fromtimestamp(at, UTC), kind, oid, why, bytes(body))
                for seq, at, kind, oid, why, body in rows]

    def entries(self, after: int = 0) -> Iterator[Entry]:
        return paged(lambda last: self._entries("SELECT seq, at, kind, order_id, why, body FROM ledger "
                                                "WHERE seq > ? ORDER BY seq LIMIT 10000", (last,)), after)

    def last(self, order_id: str) -> Entry | None:
        out = self._entries(
            "SELECT seq, at, kind, order_id, why, body FROM ledger WHERE seq = ("
            " SELECT max(s) FROM (SELECT max(seq) AS s FROM ledger WHERE order_id = ?1"
            " UNION ALL SELECT max(seq) FROM ledger_orders WHERE order_id = ?1))", (order_id,))
        return out[0] if out else None

    def history(self, order_id: str) -> list[Entry]:
        return self._entries(
            "SELECT seq, at, kind, order_id, why, body FROM ledger WHERE order_id = ?1"
            " OR seq IN (SELECT seq FROM ledger_orders WHERE order_id = ?1) ORDER BY seq", (order_id,))

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        db = getattr(self, "_db", None)
        if db is not None:
            self._rollback()
            db.close()
            self._db = None
        if self._lockfile is not None:
            os.close(self._lockfile)  # closing the descriptor releases the lock
            self._lockfile = None


@contextmanager
def closed_on_failure(store: Any, errors: type[Exception] | tuple[type[Exception], ...],
                      message: Callable[[Exception], str]) -> Iterator[None]:
    """Close a store whose opening fails, and raise the failure as a :class:`StoreError`.

    A half-opened store would keep its connections (and a SQLite ledger its
    writer's lock file) until collected. ``errors`` are the database driver's
    exceptions, raised as ``StoreError(message(exc))``; a ``StoreError``
    raised while opening (a format the store does not read) is kept as it is.
    """
    try:
        yield
    except errors as exc:
        store.close()
        raise StoreError(message(exc)) from None
    except StoreError:
        store.close()
        raise


def paged(chunk: Callable[[int], list[Entry]], after: int) -> Iterator[Entry]:
    """Every entry after ``after``, read by ``chunk(last)`` (the next bounded run after seq ``last``)."""
    last = after
    while True:
        rows = chunk(last)
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def open_store(store: str | Store, *, readonly: bool = False) -> Store:
    """A :class:`Store` for a URL (``sqlite:///...`` or ``postgresql://...``), or ``store`` itself.

    ``readonly`` opens a URL for reading history only (nothing is created or locked).
    """
    if isinstance(store, str):
        if store.startswith(("postgresql://", "postgres://")):
            from sourcewise.engine.pgstore import PostgresStore  # psycopg only when asked for
            return PostgresStore(store, readonly=readonly)
        return SQLiteStore(store, readonly=readonly)
    if not isinstance(store, Store):
        raise StoreError(f"store must be a URL or a Store, got {type(store).__name__}")
    return store


def dump_setup(setup: dict[str, Any]) -> bytes:
    """The set-up bytes (network, inventory, policy and the router's other inputs).

    Pickled: these are the project's own immutable model objects, written and
    read by the same trusted process; the entries themselves are msgpack.
    """
    return pickle.dumps({"format": FORMAT, **setup}, protocol=pickle.HIGHEST_PROTOCOL)


def stored_setup(st: Store, missing: str, error: type[Exception] = StoreError) -> dict[str, Any]:
    """The set-up a store's ledger starts from; ``error(f"{url} {missing}")`` when it holds none."""
    data = st.setup()
    if data is None:
        raise error(f"{st.url} {missing}")
    return load_setup(data)


def load_setup(data: bytes) -> dict[str, Any]:
    """The set-up :func:`dump_setup` wrote."""
    setup = pickle.loads(data)  # noqa: S301 - our own file, see dump_setup
    if setup.pop("format", None) != FORMAT:
        raise StoreError("the ledger's set-up was written by another format")
    return setup
