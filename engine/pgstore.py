"""The ledger in PostgreSQL: one stock shared by several router processes.

Every process holds a whole :class:`~sourcewise.engine.router.Router` (a
replica of the ledger's state) and changes it in *turns*. A turn is one
PostgreSQL transaction that

1. locks the ledger's head row (``SELECT ... FOR UPDATE``): turns of all
   processes are serialized, so entries get gapless numbers in commit order;
2. replays onto the router every entry the other processes committed since
   this one last looked, so the change is decided on the current stock;
3. appends the call's entries, and commits.

A process that would have decided on stale stock instead waits for the lock
and then decides on fresh stock: two processes can never both sell the last
unit, and no conditional write can fail after the decision.

Durability without a convoy: a turn commits without waiting for the disk
(``synchronous_commit = off`` for that transaction only), which releases the
lock at once; the call then waits, outside the lock, until the database's
write-ahead log is flushed past its commit (in :meth:`PostgresStore.end`,
which commits a one-record transaction that must reach the disk, and the log
is flushed in order). Only then does the call return. Another process may
have read the entry before it reached the disk; if the server crashed in
between, that process's own later entry is lost with it (the log is
sequential), and neither call has returned. Waits of several processes
share one flush.

Cost per change: before the turn, the other processes' entries are read and
replayed without the lock; the turn itself is three round trips (lock with
the few entries that arrived meanwhile, insert, commit) plus the decision in
memory; then one flush, shared. Turns do not overlap, so the ledger takes
changes one at a time, whichever process makes them.

URL: any libpq URL, ``postgresql://user:password@host:port/dbname`` (with
``?host=/socket/dir`` for a Unix socket). One database holds one ledger.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime

from sourcewise.engine.ledger import FORMAT
from sourcewise.engine.ledger import Entry
from sourcewise.engine.ledger import StoreError
from sourcewise.engine.ledger import closed_on_failure
from sourcewise.engine.ledger import paged

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sourcewise_meta (key text PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE IF NOT EXISTS sourcewise_head (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL);
INSERT INTO sourcewise_head VALUES (1, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS sourcewise_ledger (
    seq bigint PRIMARY KEY,
    at double precision NOT NULL,
    kind text NOT NULL,
    order_id text,
    why text NOT NULL,
    body bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS sourcewise_ledger_order ON sourcewise_ledger (order_id) WHERE order_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS sourcewise_ledger_orders (order_id text NOT NULL, seq bigint NOT NULL);
CREATE INDEX IF NOT EXISTS sourcewise_ledger_orders_id ON sourcewise_ledger_orders (order_id);
"""

_COLS = "seq, at, kind, order_id, why, body"
# the entries after a seq, in order: a turn's catch-up under the lock, a read's, the pages of entries()
_SINCE = f"SELECT {_COLS} FROM sourcewise_ledger WHERE seq > %s ORDER BY seq"


def _psycopg():
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the dev and postgresql extras install it
        raise StoreError("postgresql:// stores need psycopg: pip install 'sourcewise[postgresql]'") from None
    return psycopg


class PostgresStore:
    """A shared :class:`~sourcewise.engine.ledger.Store` in one PostgreSQL database.

    Parameters
    ----------
    url : str
        A libpq URL (``postgresql://...``).
    readonly : bool
        Read history only: nothing can be appended.

    Notes
    -----
    Two connections: one for turns (:meth:`begin`, :meth:`append`,
    :meth:`end`), used only under the router's lock, and one for reading
    history, so a reader on another thread never sees a turn's uncommitted
    entries.
    """

    shared = True

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        psycopg = _psycopg()
        self.url = url
        self.readonly = readonly
        self._errors = psycopg.Error
        self._read_lock = threading.Lock()
        self._write = self._read = None
        self._head = 0  # the head seq while a turn is open
        self._in_turn = False
        self._appended = 0
        self._rows: list[str] = []  # the open turn's entries, as SQL values (sent with its commit)
        self._ids: list[str] = []
        with closed_on_failure(self, psycopg.Error, lambda exc: f"cannot open {self._where()}: {_one_line(exc)}"):
            self._read = psycopg.connect(url, autocommit=True)
            if not readonly:
                self._write = psycopg.connect(url, autocommit=True)
                # the entries are sent as literals (see append): quotes are then the only escape
                self._write.execute("SET standard_conforming_strings TO on")
                # the tables may be created by several processes at once: serialize that too
                with self._write.transaction():
                    self._write.execute("SELECT pg_advisory_xact_lock(4242424242)")
                    self._write.execute(_SCHEMA)
                    fmt = self._meta("format", self._write)
                    if fmt is None:
                        self._write.execute("INSERT INTO sourcewise_meta VALUES ('format', %s)",
                                            (str(FORMAT).encode(),))
            if readonly and self._read.execute("SELECT to_regclass('sourcewise_meta')").fetchone()[0] is None:
                raise StoreError(f"{self._where()} holds no ledger")
            fmt = self._meta("format", self._read)
            if fmt is not None and int(fmt) != FORMAT:
                raise StoreError(f"{self._where()} holds ledger format {int(fmt)}; this version reads {FORMAT}")

    def _where(self) -> str:
        """The URL without its password, for messages."""
        try:
            from psycopg.conninfo import conninfo_to_dict
            info = conninfo_to_dict(self.url)
        except Exception:  # noqa: BLE001 - a malformed URL is reported by connect itself
            return "the PostgreSQL store"
        host = info.get("host", "localhost")
        return f"PostgreSQL database {info.get('dbname', '?')!r} at {host}"

    def _fail(self, exc: Exception) -> StoreError:
        return StoreError(f"cannot write to {self._where()}: {_one_line(exc)}")

    @staticmethod
    def _meta(key: str, conn) -> bytes | None:
        row = conn.execute("SELECT value FROM sourcewise_meta WHERE key = %s", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    # ----------------------------------------------------------------- set-up
    def setup(self) -> bytes | None:
        with self._read_lock:
            try:
                return self._meta("setup", self._read)
            except self._errors as exc:
                raise StoreError(f"cannot read {self._where()}: {_one_line(exc)}") from None

    def write_setup(self, setup: bytes) -> None:
        """Record the set-up of a new ledger (refused when the database holds one)."""
        try:
            with self._write.transaction():
                self._write.execute("SELECT seq FROM sourcewise_head WHERE id = 1 FOR UPDATE")
                if self._meta("setup", self._write) is not None:
                    raise StoreError(f"{self._where()} already holds a ledger; use Router.recover() to continue it")
                self._write.execute("INSERT INTO sourcewise_meta VALUES ('setup', %s)", (setup,))
        except self._errors as exc:
            raise self._fail(exc) from None

    # ----------------------------------------------------------------- turns
    def begin(self, after: int) -> list[Entry]:
        """Open a turn: lock the head and return the entries after ``after`` (others' changes)."""
        if self._write is None:
            raise StoreError(f"{self._where()} is open for reading only")
        conn = self._write
        try:
            self._in_turn = True
            # one round trip; FOR UPDATE waits for the turn in progress and then reads the head it left
            cur = conn.execute("BEGIN; SELECT seq FROM sourcewise_head WHERE id = 1 FOR UPDATE")
            cur.nextset()  # the SELECT's result follows BEGIN's
            head = cur.fetchone()[0]
            self._head = self._appended = head
            if head <= after:
                return []
            rows = conn.execute(_SINCE, (after,)).fetchall()
        except self._errors as exc:
            self._abort()
            raise StoreError(f"cannot read {self._where()}: {_one_line(exc)}") from None
        return [_entry(r) for r in rows]

    def append(self, kind: str, order_id: str | None, why: str, body: bytes, order_ids: Sequence[str] = ()) -> int:
        """Add one entry to the open turn and return its seq (durable once :meth:`end` returns).

        The entry is sent with the commit, in the same round trip.
        """
        if not self._in_turn:
            raise StoreError("a PostgreSQL ledger is written only inside a turn (the router's lock)")
        seq = self._appended + 1
        try:
            self._rows.append(f"({seq}, {time.time()!r}, {_text(kind)}, {_text(order_id)}, {_text(why)}, "
                              f"'\\x{body.hex()}'::bytea)")
            if order_ids:
                self._ids.extend(f"({_text(x)}, {seq})" for x in order_ids)
        except (UnicodeEncodeError, ValueError) as exc:
            raise StoreError(f"cannot write to {self._where()}: {exc}") from None
        self._appended = seq
        return seq

    def end(self, commit: bool) -> None:
        """Close the turn: commit what it appended (or, after a failed call, roll it back).

        One round trip: the entries, the new head and an asynchronous commit,
        which releases the lock at once; then, in the same message, a
        transaction of one log record (a logical message) that commits
        synchronously. Its commit waits for the log to be flushed past its
        record, so past our commit too: when this returns, the entries are
        on disk. Processes waiting at once share one flush.
        """
        if not self._in_turn:
            return
        if not commit:
            self._abort()
            return
        conn = self._write
        try:
            if self._appended == self._head:
                conn.execute("COMMIT")
            else:
                sql = ["INSERT INTO sourcewise_ledger VALUES " + ", ".join(self._rows)]
                if self._ids:
                    sql.append("INSERT INTO sourcewise_ledger_orders VALUES " + ", ".join(self._ids))
                sql += ["SET LOCAL synchronous_commit TO off",
                        f"UPDATE sourcewise_head SET seq = {int(self._appended)} WHERE id = 1",
                        "COMMIT", "SELECT pg_logical_emit_message(true, 'sourcewise', '')"]
                conn.execute("; ".join(sql))
        except self._errors as exc:
            self._abort()
            raise self._fail(exc) from None
        finally:
            self._in_turn = False
            self._rows.clear()
            self._ids.clear()

    def _abort(self) -> None:
        self._in_turn = False
        self._rows.clear()
        self._ids.clear()
        try:
            self._write.execute("ROLLBACK")
        except self._errors:
            pass

    def catch_up(self, after: int) -> list[Entry]:
        """The entries committed after ``after``, read without taking the turn (for reads)."""
        return self._entries(_SINCE, (after,))

    def sync(self, seq: int) -> None:
        """Nothing to wait for: :meth:`end` returns once the turn's entries are on disk."""

    # ----------------------------------------------------------------- reading
    def _entries(self, sql: str, args: tuple) -> list[Entry]:
        with self._read_lock:
            try:
                rows = self._read.execute(sql, args).fetchall()
            except self._errors as exc:
                raise StoreError(f"cannot read {self._where()}: {_one_line(exc)}") from None
        return [_entry(r) for r in rows]

    def entries(self, after: int = 0) -> Iterator[Entry]:
        return paged(lambda last: self._entries(_SINCE + " LIMIT 10000", (last,)), after)

    def last(self, order_id: str) -> Entry | None:
        out = self._entries(
            f"SELECT {_COLS} FROM sourcewise_ledger WHERE seq = greatest("
            " (SELECT max(seq) FROM sourcewise_ledger WHERE order_id = %(id)s),"
            " (SELECT max(seq) FROM sourcewise_ledger_orders WHERE order_id = %(id)s))", {"id": order_id})
        return out[0] if out else None

    def history(self, order_id: str) -> list[Entry]:
        return self._entries(
            f"SELECT {_COLS} FROM sourcewise_ledger WHERE order_id = %(id)s"
            " OR seq IN (SELECT seq FROM sourcewise_ledger_orders WHERE order_id = %(id)s) ORDER BY seq",
            {"id": order_id})

    def close(self) -> None:
        for name in ("_write", "_read"):
            conn = getattr(self, name, None)
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing a broken connection
                    pass
                setattr(self, name, None)
        self._in_turn = False


def _one_line(exc: BaseException) -> str:
    """libpq's message on one line (it spreads hints over several)."""
    return " ".join(str(exc).split())


def _text(s: str | None) -> str:
    """``s`` as an SQL string literal (standard-conforming strings: only quotes are doubled).

    Raises
    ------
    ValueError
        For text PostgreSQL cannot hold (a NUL character; lone surrogates raise UnicodeEncodeError).
    """
    if s is None:
        return "NULL"
    if "\x00" in s:
        raise ValueError(f"text with a NUL character cannot be stored: {s!r}")
    s.encode("utf-8")
    return "'" + s.replace("'", "''") + "'"


def _entry(row) -> Entry:
    seq, at, kind, oid, why, body = row
    return Entry(seq, datetime.fromtimestamp(at, UTC), kind, oid, why, bytes(body))
