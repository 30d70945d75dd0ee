"""A real vendor availability API on 127.0.0.1 for tests.

One :class:`VendorServer` serves many vendors, each under its own path
prefix, each with its own :class:`Behaviour` (answer normally, answer too
late, fail with a status, send a broken body, trickle, hang, redirect or
flood), so a test can point an
:class:`~sourcewise.engine.vendors.HttpVendorGateway` at healthy and misbehaving vendors
at once::

    with VendorServer({"V1": ok({"A": 3}), "V2": slow(2.0)}) as srv:
        gw = HttpVendorGateway(srv.base_urls)

The server writes its HTTP/1.1 responses byte for byte itself, because the
misbehaviours under test (headers sent a byte at a time, a connection held
open with no answer) are exactly what an HTTP library would not let it do.
All connections are served by one asyncio loop on one thread, so the
server's thread count never changes while it runs and a test can check that
the client under test left no thread behind.
"""

from __future__ import annotations

import asyncio
import http
import json
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Literal
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

# Filler for huge bodies, written a piece at a time so the server never holds it whole.
_PIECE = b"x" * 65536


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
    headers : Mapping of str to str
        Extra response headers (``Location`` for redirects).
    head_interval, body_interval : float
        When > 0, the status line and headers (or the body) are sent one byte
        at a time with this many seconds between bytes.
    hang : bool
        Read the request, then never answer and never close.
    body_size : int
        When > 0, send this many filler bytes as the body instead.
    framing : {"length", "close", "chunked"}
        How the body's end is marked: ``Content-Length``, closing the
        connection, or chunked transfer encoding.
    """

    stock: Mapping[str, int] = field(default_factory=dict)
    delay: float = 0.0
    status: int = 200
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    head_interval: float = 0.0
    body_interval: float = 0.0
    hang: bool = False
    body_size: int = 0
    framing: Literal["length", "close", "chunked"] = "length"


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


def trickle_body(interval: float = 0.02, stock: Mapping[str, int] | None = None) -> Behaviour:
    """A vendor sending its (valid) headers at once, then its body one byte every ``interval`` s."""
    return Behaviour(stock=dict(stock or {}), body_interval=interval)


def trickle_headers(interval: float = 0.02, stock: Mapping[str, int] | None = None) -> Behaviour:
    """A vendor sending its status line and headers one byte every ``interval`` s."""
    return Behaviour(stock=dict(stock or {}), head_interval=interval)


def hang() -> Behaviour:
    """A vendor that accepts the connection and reads the request, but never answers."""
    return Behaviour(hang=True)


def redirect(location: str, status: int = 302) -> Behaviour:
    """A vendor answering ``status`` (a 3xx) with ``Location: location``."""
    return Behaviour(status=status, body=b"", headers={"Location": location})


def huge(size: int, framing: Literal["length", "close", "chunked"] = "length") -> Behaviour:
    """A vendor answering 200 with ``size`` filler bytes, their end marked by ``framing``."""
    return Behaviour(body_size=size, framing=framing)


class VendorServer:
    """HTTP/1.1 server on 127.0.0.1 (free port), one asyncio loop on a daemon thread.

    Routes ``GET /{vendor_id}/availability?skus=A,B``. Use as a context
    manager; leaving it stops the server and cancels every connection still
    being served (a ``slow`` delay, a trickle, a hang), so tests do not leave
    threads or sockets behind.

    Parameters
    ----------
    vendors : Mapping of str to Behaviour
        Vendor id to its behaviour. Unknown vendors get 404.
    ssl_context : ssl.SSLContext, optional
        Serve HTTPS with this server-side context (URLs become ``https``).

    Attributes
    ----------
    requests : list of tuple of (str, list of str)
        Every request received, as (vendor id, requested SKUs), in order.
    """

    def __init__(self, vendors: Mapping[str, Behaviour], *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.vendors = dict(vendors)
        self._ssl = ssl_context
        self.requests: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()
        # Bound here, not in the loop, so the port is known before start() and
        # asyncio never needs getaddrinfo (which would start executor threads).
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._handlers: set[asyncio.Task | None] = set()
        self._thread = threading.Thread(target=self._run, name="vendor-server", daemon=True)

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    @property
    def base_urls(self) -> dict[str, str]:
        """Vendor id to its base URL, ready for :class:`HttpVendorGateway`."""
        return {v: self.url_for(v) for v in self.vendors}

    def url_for(self, vendor_id: str) -> str:
        scheme = "http" if self._ssl is None else "https"
        return f"{scheme}://127.0.0.1:{self.port}/{vendor_id}"

    def start(self) -> VendorServer:
        self._thread.start()
        self._started.wait(5)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)

    def __enter__(self) -> VendorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop's thread -------------------------------------------------

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncio.start_server(self._serve, sock=self._sock, ssl=self._ssl))
        self._started.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            # Again until none is left: a connection accepted just before the
            # close may start its handler while the others wind down.
            while tasks := asyncio.all_tasks(loop):
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(server.wait_closed())
            loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Hold the task: once the client hangs up, nothing else refers to a
        # handler parked in a hang, and the garbage collector would destroy it.
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            parts = urlsplit(target)
            segments = [unquote(p) for p in parts.path.strip("/").split("/")]
            if (method != "GET" or len(segments) != 2 or segments[1] != "availability"
                    or segments[0] not in self.vendors):
                await self._answer(writer, Behaviour(status=404, body=b'{"error": "not found"}'), [])
                return
            vendor = segments[0]
            raw = parse_qs(parts.query).get("skus", [""])[0]
            skus = [s for s in raw.split(",") if s]
            with self._lock:
                self.requests.append((vendor, skus))
            await self._answer(writer, self.vendors[vendor], skus)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client gave up (timed out) or sent garbage; that is the point of these tests
        except asyncio.CancelledError:
            # stop() ending a hang, delay or trickle. Finish normally: on 3.11 a
            # cancelled handler makes asyncio's stream callback log a traceback.
            pass
        finally:
            writer.close()
            self._handlers.discard(task)

    async def _answer(self, writer: asyncio.StreamWriter, b: Behaviour, skus: list[str]) -> None:
        if b.hang:
            await asyncio.Event().wait()  # never set: only stop() ends this connection
        if b.delay:
            await asyncio.sleep(b.delay)
        body = b.body
        if body is None:
            body = json.dumps({"availability": {s: b.stock[s] for s in skus if s in b.stock}}).encode()
        size = b.body_size or len(body)
        try:
            phrase = http.HTTPStatus(b.status).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"HTTP/1.1 {b.status} {phrase}", "Content-Type: application/json", "Connection: close"]
        if b.framing == "length":
            lines.append(f"Content-Length: {size}")
        elif b.framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
        lines += [f"{k}: {v}" for k, v in b.headers.items()]
        await _send(writer, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), b.head_interval)
        if b.body_size:
            left = b.body_size
            while left > 0:
                piece = _PIECE[:left]
                left -= len(piece)
                await _send(writer, _frame(piece, b.framing), 0.0)
        elif body:
            await _send(writer, _frame(body, b.framing), b.body_interval)
        if b.framing == "chunked":
            await _send(writer, b"0\r\n\r\n", 0.0)


def _frame(data: bytes, framing: str) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if framing == "chunked" else data


async def _send(writer: asyncio.StreamWriter, data: bytes, interval: float) -> None:
    """Write ``data`` at once, or one byte every ``interval`` seconds."""
    if not interval:
        writer.write(data)
        await writer.drain()
        return
    for i in range(len(data)):
        writer.write(data[i:i + 1])
        await writer.drain()
        await asyncio.sleep(interval)
