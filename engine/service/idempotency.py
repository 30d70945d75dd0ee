"""Durable answers to retried requests: the ``Idempotency-Key`` records of the service.

A state-changing request may carry an ``Idempotency-Key``. The service keeps,
per key, a fingerprint of the request (a SHA-256 of method, path and raw body)
and the first successful answer (status and body). A retry with the same key
and the same request gets that answer again and changes nothing; the same key
with another request is refused (409).

The records live beside the ledger, so they survive a restart as the ledger
does: in a SQLite file next to a ``sqlite:///`` ledger (``<ledger>.requests``,
same durability setting), or in a table of a ``postgresql://`` ledger's
database (``sourcewise_requests``), shared by every process on that ledger.

Across a crash
--------------
An answer is recorded before it is sent, so every answer a client received
is replayed to its retries. A call cut short by a crash (the ledger may hold
its change while its answer was never recorded nor sent) is settled on retry:

* routing and holding need nothing: the router answers a repeated order id
  with the same content with the decision it made, reserving nothing more;
* every other change (release, commit, reroute, stock adjustments) first
  writes a *pending* record holding the ledger position before the call. A
  retry that finds the pending record of a process that is gone looks in the
  ledger, after that position, for the change the call makes; found, the
  answer is rebuilt from the ledger entry (as the call would have answered),
  recorded and returned; not found, the call never happened and runs now.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import ClassVar

from sourcewise.engine.ledger import Checkpointer
from sourcewise.engine.ledger import parse_url

__all__ = ["Record", "RequestStore", "fingerprint", "open_requests"]

PENDING = "pending"
DONE = "done"


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 (hex) of a request's method, path and raw body: what a retry must repeat exactly."""
    h = hashlib.sha256()
    h.update(method.encode())
    h.update(b"\0")
    h.update(path.encode("utf-8", "surrogatepass"))
    h.update(b"\0")
    h.update(body)
    return h.hexdigest()


@dataclass(frozen=True)
class Record:
    """What is kept for one key.

    ``state`` is ``pending`` (the call is running, or its process died
    during it) or ``done``; ``seq`` the ledger position before a pending
    call; ``owner`` the process (one id per service start) that wrote it;
    ``at`` when (epoch seconds).
    """

    key: str
    fingerprint: str
    state: str
    status: int
    body: bytes
    seq: int
    owner: str
    at: float


class RequestStore:
    """Base of the stores: one owner id per process, the common record logic.

    Subclasses implement :meth:`_get`, :meth:`_insert_pending`, :meth:`_put`,
    :meth:`_delete`, :meth:`ping` and :meth:`close`.
    """

    def __init__(self) -> None:
        self.owner = uuid.uuid4().hex

    def get(self, key: str) -> Record | None:
        """The record of ``key``, or ``None``."""
        return self._get(key)

    def begin(self, key: str, fp: str, seq: int) -> Record | None:
        """Mark ``key`` pending before a call that is not safe to repeat.

        Returns ``None`` when this process now owns the key, or the record
        another request wrote first (then nothing was written).
        """
        return self._insert_pending(key, fp, seq, self.owner)

    def finish(self, key: str, fp: str, status: int, body: bytes) -> None:
        """Record the answer for ``key`` (durably, before it is sent)."""
        self._put(key, fp, status, body, self.owner)

    def abort(self, key: str) -> None:
        """Forget this process's pending record of ``key``: the call failed and changed nothing."""
        self._delete(key, self.owner)

    def forget_pending(self, record: Record) -> None:
        """Drop a dead process's pending record whose call left no trace in the ledger."""
        self._delete(record.key, record.owner)

    # to implement
    def _get(self, key: str) -> Record | None:
        raise NotImplementedError

    def _insert_pending(self, key: str, fp: str, seq: int, owner: str) -> Record | None:
        raise NotImplementedError

    def _put(self, key: str, fp: str, status: int, body: bytes, owner: str) -> None:
        raise NotImplementedError

    def _delete(self, key: str, owner: str) -> None:
        raise NotImplementedError

    def ping(self) -> None:
        """Raise when the store cannot be reached."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the connection."""
        raise NotImplementedError


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, status INTEGER NOT NULL,
    body BLOB NOT NULL, seq INTEGER NOT NULL, owner TEXT NOT NULL, at REAL NOT NULL)
"""


class SQLRequests(RequestStore):
    """Records in one table of a SQL database, over one connection that threads share under a lock.

    The record logic is the same in every database; only the statements'
    dialect differs. Subclasses open the connection (``_conn``, whose
    ``execute(sql, params)`` returns a cursor, as ``sqlite3``'s and
    ``psycopg``'s do) and give their statements in :attr:`SQL`, each taking
    its parameters in the order the methods below pass them.
    """

    #: ``get``: key -> row of Record's fields; ``insert_pending``: key, fingerprint, state, seq, owner, at
    #: (nothing when the key exists); ``put``: key, fingerprint, state, status, body, owner, at (replacing);
    #: ``delete``: key, owner, state; ``ping``: none.
    SQL: ClassVar[dict[str, str]] = {}

    def __init__(self, conn: Any) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._conn = conn

    def _execute(self, statement: str, params: tuple = (), read: Callable[[Any], Any] | None = None) -> Any:
        """Run one of :attr:`SQL`; ``read(cursor)`` is taken under the lock too (a cursor is not shared)."""
        with self._lock:
            cur = self._conn.execute(self.SQL[statement], params)
            return None if read is None else read(cur)

    def _get(self, key: str) -> Record | None:
        row = self._execute("get", (key,), lambda cur: cur.fetchone())
        return None if row is None else Record(row[0], row[1], row[2], row[3], bytes(row[4]), row[5], row[6], row[7])

    def _insert_pending(self, key: str, fp: str, seq: int, owner: str) -> Record | None:
        inserted = self._execute("insert_pending", (key, fp, PENDING, seq, owner, time.time()),
                                 lambda cur: cur.rowcount == 1)
        return None if inserted else self._get(key)

    def _put(self, key: str, fp: str, status: int, body: bytes, owner: str) -> None:
        self._execute("put", (key, fp, DONE, status, body, owner, time.time()))

    def _delete(self, key: str, owner: str) -> None:
        self._execute("delete", (key, owner, PENDING))

    def ping(self) -> None:
        self._execute("ping", (), lambda cur: cur.fetchall())

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SQLiteRequests(SQLRequests):
    """Records in a SQLite file of their own beside a SQLite ledger (write-ahead log)."""

    SQL = {
        "get": "SELECT key, fingerprint, state, status, body, seq, owner, at FROM requests WHERE key = ?",
        "insert_pending": "INSERT OR IGNORE INTO requests VALUES (?, ?, ?, 0, x'', ?, ?, ?)",
        "put": "INSERT OR REPLACE INTO requests VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        "delete": "DELETE FROM requests WHERE key = ? AND owner = ? AND state = ?",
        "ping": "SELECT 1 FROM requests LIMIT 1",
    }

    def __init__(self, path: Path, durability: str = "process") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(sqlite3.connect(str(path), isolation_level=None, check_same_thread=False))
        self.path = path
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durability == 'fsync' else 'NORMAL'}")
        # every answer is recorded on the event loop: the log is copied by a thread of its own
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._conn.execute(_SQLITE_SCHEMA)
        self._checkpointer = Checkpointer(path, "requests-checkpoint")

    def close(self) -> None:
        self._checkpointer.stop()
        super().close()


class PostgresRequests(SQLRequests):
    """Records in table ``sourcewise_requests`` of a PostgreSQL ledger's database (one connection)."""

    SQL = {
        "get": "SELECT key, fingerprint, state, status, body, seq, owner, at FROM sourcewise_requests WHERE key = %s",
        "insert_pending": "INSERT INTO sourcewise_requests VALUES (%s, %s, %s, 0, '', %s, %s, %s) "
                          "ON CONFLICT DO NOTHING",
        "put": "INSERT INTO sourcewise_requests VALUES (%s, %s, %s, %s, %s, 0, %s, %s) ON CONFLICT (key) DO UPDATE "
               "SET fingerprint = EXCLUDED.fingerprint, state = EXCLUDED.state, status = EXCLUDED.status, "
               "body = EXCLUDED.body, seq = 0, owner = EXCLUDED.owner, at = EXCLUDED.at",
        "delete": "DELETE FROM sourcewise_requests WHERE key = %s AND owner = %s AND state = %s",
        "ping": "SELECT 1",
    }

    def __init__(self, url: str) -> None:
        import psycopg

        super().__init__(psycopg.connect(url, autocommit=True))
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS sourcewise_requests (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
            "state TEXT NOT NULL, status INTEGER NOT NULL, body BYTEA NOT NULL, seq BIGINT NOT NULL, "
            "owner TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)")


def open_requests(store_url: str) -> RequestStore:
    """The request records that go with a ledger URL (see the module docstring)."""
    if store_url.startswith(("postgresql://", "postgres://")):
        return PostgresRequests(store_url)
    path, durability = parse_url(store_url)
    return SQLiteRequests(path.with_name(path.name + ".requests"), durability)
