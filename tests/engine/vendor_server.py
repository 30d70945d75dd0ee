"""A real vendor availability API on 127.0.0.1 for tests.

One :class:`VendorServer` serves many vendors, each under its own path
prefix, each with its own :class:`Behaviour` (answer normally, answer too
late, fail with a status, or send a broken body), so a test can point an
:class:`~sourcewise.engine.vendors.HttpVendorGateway` at healthy and misbehaving vendors
at once::

    with VendorServer({"V1": ok({"A": 3}), "V2": slow(2.0)}) as srv:
        gw = HttpVendorGateway(srv.base_urls)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Behaviour:
    """How one vendor endpoint answers.

    Parameters
    ----------
    stock : Mapping of str to int
        Units per SKU; requested SKUs not listed are left out of the answer
        (the gateway reads that as 0).
    delay : float
        Seconds to wait before answering, to outlast a client's timeout.
    status : int
        HTTP status to answer with.
    body : bytes, optional
        Raw body sent instead of the JSON built from ``stock`` (malformed or
        wrongly shaped answers).
    """

    stock: Mapping[str, int] = field(default_factory=dict)
    delay: float = 0.0
    status: int = 200
    body: bytes | None = None


def ok(stock: Mapping[str, int]) -> Behaviour:
    """A healthy vendor answering from ``stock``."""
    return Behaviour(stock=dict(stock))


def slow(delay: float, stock: Mapping[str, int] | None = None) -> Behaviour:
    """A vendor that answers correctly, but only after ``delay`` seconds."""
    return Behaviour(stock=dict(stock or {}), delay=delay)


def error(status: int = 500) -> Behaviour:
    """A vendor whose API fails with ``status``."""
    return Behaviour(status=status, body=b'{"error": "internal"}')


def malformed(body: bytes = b'{"availability": {"A": 3,') -> Behaviour:
    """A vendor that answers 200 with ``body`` (truncated JSON by default)."""
    return Behaviour(body=body)


class VendorServer:
    """ThreadingHTTPServer on 127.0.0.1 (free port) in a daemon thread.

    Routes ``GET /{vendor_id}/availability?skus=A,B``. Use as a context
    manager; leaving it stops the server and releases any handler still
    sleeping in a ``slow`` delay, so tests do not leave threads behind.

    Parameters
    ----------
    vendors : Mapping of str to Behaviour
        Vendor id to its behaviour. Unknown vendors get 404.

    Attributes
    ----------
    requests : list of tuple of (str, list of str)
        Every request received, as (vendor id, requested SKUs), in order.
    """

    def __init__(self, vendors: Mapping[str, Behaviour]) -> None:
        self.vendors = dict(vendors)
        self.requests: list[tuple[str, list[str]]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        # Daemon handler threads and no join on close: a handler stuck in a slow
        # reply must never hold up the test that abandoned it.
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="vendor-server", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_urls(self) -> dict[str, str]:
        """Vendor id to its base URL, ready for :class:`HttpVendorGateway`."""
        return {v: self.url_for(v) for v in self.vendors}

    def url_for(self, vendor_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{vendor_id}"

    def start(self) -> VendorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=2)

    def __enter__(self) -> VendorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base signature
                pass  # keep pytest output clean

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                parts = urlsplit(self.path)
                segments = [unquote(p) for p in parts.path.strip("/").split("/")]
                if len(segments) != 2 or segments[1] != "availability" or segments[0] not in server.vendors:
                    self._send(404, b'{"error": "not found"}')
                    return
                vendor = segments[0]
                raw = parse_qs(parts.query).get("skus", [""])[0]
                skus = [s for s in raw.split(",") if s]
                with server._lock:
                    server.requests.append((vendor, skus))
                b = server.vendors[vendor]
                # Wait on the stop event, not time.sleep, so stop() frees the thread at once.
                if b.delay and server._stop.wait(b.delay):
                    return
                body = b.body
                if body is None:
                    body = json.dumps({"availability": {s: b.stock[s] for s in skus if s in b.stock}}).encode()
                self._send(b.status, body)

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timed out) first; that is the point of slow()

        return Handler
