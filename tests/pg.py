"""A real PostgreSQL server for the tests, started on this machine without root or a system install.

The server binaries come from the ``pgserver`` wheel (installed by the dev
extra); as root, it runs the server as an unprivileged user of its own, as
PostgreSQL requires. One server per test session, listening only on a Unix
socket in a fresh folder; each test that needs a ledger gets a database of
its own (:func:`fresh_database`), so tests never see each other's entries.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

_server = None
_counter = itertools.count()


def server_url() -> str:
    """The URL of this session's server (started on first use, stopped when the session ends)."""
    global _server
    if _server is None:
        # short path: the socket's path must fit in 107 bytes
        folder = Path(tempfile.mkdtemp(prefix="swpg-"))
        os.chmod(folder, 0o755)
        # pgserver keeps its lock file in the user's runtime folder, which a bare machine may lack
        runtime = folder / "run"
        runtime.mkdir(mode=0o700)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        import pgserver

        _server = pgserver.get_server(folder / "data", cleanup_mode="delete")
    return _server.get_uri()


def fresh_database() -> str:
    """A URL to a new, empty database on the session's server."""
    import psycopg

    base = server_url()
    name = f"sw_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return base.replace("/postgres?", f"/{name}?", 1)
