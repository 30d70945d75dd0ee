"""Marketplace vendors: their offers, and live availability checks with a time bound.

Vendors are the backup tier behind our own warehouses and stores. Two things
are needed to use one:

* an **offer** per SKU (price, marketplace ``fee_rate``, lead time and a
  fill-rate reliability), held columnar in :class:`VendorOffers` so the router
  can price many vendor lines with array operations;
* **stock**, either from the scenario's inventory or from a live check
  through a :class:`VendorGateway`. :func:`check_vendors` calls every vendor
  concurrently and returns within the timeout whatever the vendors do: a
  vendor that is slow, down or answers nonsense is recorded in
  :attr:`VendorCheck.failures` and skipped, never raised, so an order is never
  lost because a marketplace misbehaved. :class:`HttpVendorGateway` bounds
  each whole HTTP exchange by one deadline and serves all vendors of a check
  in the calling thread, so a check leaves no thread and no socket behind.
"""

from __future__ import annotations

import errno
import json
import math
import os
import selectors
import socket
import ssl
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import wait
from dataclasses import dataclass
from dataclasses import field
from functools import cached_property
from typing import Protocol
from typing import runtime_checkable

import h11
import numpy as np
import pandas as pd

from sourcewise.models.errors import Collector
from sourcewise.models.limits import MAX_DAYS
from sourcewise.models.network import Network
from sourcewise.models.network import readonly
from sourcewise.models.node import KIND_CODES
from sourcewise.models.node import NodeKind
from sourcewise.models.tables import shown

__all__ = [
    "HttpVendorGateway",
    "VendorCheck",
    "VendorError",
    "VendorGateway",
    "VendorOffers",
    "VendorTimeout",
    "check_vendors",
    "timeout_reason",
]

TABLE = "vendor_offers"
_REQUIRED = ("node_id", "sku", "price", "fee_rate", "lead_days")
_VENDOR_CODE = KIND_CODES[NodeKind.VENDOR]
# Node positions go in the low 32 bits of the sort key, SKU positions in the high
# bits, so one sorted int64 array answers both "this pair?" and "this SKU's rows?".
_NODE_BITS = 32
_NODE_LIMIT = 1 << _NODE_BITS
_NO_VENDORS = np.empty(0, np.int64)
_NO_VENDORS.setflags(write=False)


# --------------------------------------------------------------------------- offers



@dataclass(frozen=True, eq=False)
class VendorOffers:
    """What each vendor sells: one row per (vendor node, SKU), in columnar form.

    Rows are kept sorted by (SKU, node), so the rows of one SKU are contiguous
    and :meth:`vendors_for` returns a view. Every array is read-only.

    Parameters
    ----------
    node : ndarray of int64
        Vendor position in ``network.nodes``.
    sku : ndarray of int64
        SKU position in ``network.skus``.
    price : ndarray of float64
        Price the vendor charges per unit, >= 0.
    fee_rate : ndarray of float64
        Marketplace fee as a fraction of ``price``, in [0, 1).
    lead_days : ndarray of int64
        Days before the vendor hands the unit to the carrier, >= 0.
    reliability : ndarray of float64
        Historical fill rate in (0, 1]; 1.0 when unknown.

    Notes
    -----
    Build it with :meth:`from_frame` (validates every row) or :meth:`empty`.
    The constructor only normalises dtypes and row order and rejects ragged
    columns or duplicate pairs (``ValueError``), so arrays from trusted code
    can be passed straight in.
    """

    node: np.ndarray
    sku: np.ndarray
    price: np.ndarray
    fee_rate: np.ndarray
    lead_days: np.ndarray
    reliability: np.ndarray
    key: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cols = {
            "node": np.asarray(self.node, dtype=np.int64).ravel(),
            "sku": np.asarray(self.sku, dtype=np.int64).ravel(),
            "price": np.asarray(self.price, dtype=np.float64).ravel(),
            "fee_rate": np.asarray(self.fee_rate, dtype=np.float64).ravel(),
            "lead_days": np.asarray(self.lead_days, dtype=np.int64).ravel(),
            "reliability": np.asarray(self.reliability, dtype=np.float64).ravel(),
        }
        n = len(cols["node"])
        if any(len(a) != n for a in cols.values()):
            lengths = {k: len(a) for k, a in cols.items()}
            raise ValueError(f"VendorOffers columns must have equal lengths, got {lengths}")
        if n and (cols["node"].min() < 0 or cols["node"].max() >= _NODE_LIMIT or cols["sku"].min() < 0):
            raise ValueError("VendorOffers node and sku must be non-negative network positions")
        key = (cols["sku"] << _NODE_BITS) | cols["node"]
        # Keys are unique, so this order is canonical whatever order the rows came in.
        order = np.argsort(key, kind="stable")
        if n > 1 and bool(np.any(key[order][1:] == key[order][:-1])):
            raise ValueError("VendorOffers has duplicate (node, sku) rows")
        for name, a in cols.items():
            object.__setattr__(self, name, readonly(a[order]))
        object.__setattr__(self, "key", readonly(key[order]))

    # -- construction ------------------------------------------------------

    @classmethod
    def empty(cls) -> VendorOffers:
        """Offers with no rows, for scenarios without a vendor tier."""
        i, f = np.empty(0, np.int64), np.empty(0, np.float64)
        return cls(i, i, f, f, i, f)

    @classmethod
    def from_frame(cls, network: Network, df: pd.DataFrame) -> VendorOffers:
        """Validate a ``vendor_offers`` table and build the columnar offers.

        Parameters
        ----------
        network : Network
            Resolves ``node_id`` and ``sku``.
        df : DataFrame
            Columns ``node_id, sku, price, fee_rate, lead_days`` and optionally
            ``reliability``. A missing ``reliability`` column, or a blank cell
            in it, means 1.0 (no fill-rate history: trust the vendor fully).

        Returns
        -------
        VendorOffers

        Raises
        ------
        ValidationError
            One error listing every problem: a missing column; an empty,
            unknown or non-vendor ``node_id``; an empty or unknown ``sku``; a
            (node, SKU) pair given twice; ``price`` not a finite number >= 0;
            ``fee_rate`` outside [0, 1); ``lead_days`` not an integer in [0, MAX_DAYS];
            ``reliability`` outside (0, 1].
        """
        col = Collector()
        missing = [c for c in _REQUIRED if c not in df.columns]
        for c in missing:
            col.add(TABLE, None, c, "required column is missing")
        # A missing column is one table-level problem; checking rows as well would
        # repeat it once per row.
        col.raise_if_any()

        n = len(df)
        node_ids = _id_column(df, "node_id", col)
        sku_ids = _id_column(df, "sku", col)
        node = _positions(node_ids, network.node_index)
        sku = _positions(sku_ids, network.sku_index)
        for i in np.flatnonzero((node < 0) & (node_ids != "")):
            col.add(TABLE, int(i), "node_id", f"unknown node {node_ids[i]!r}")
        for i in np.flatnonzero((sku < 0) & (sku_ids != "")):
            col.add(TABLE, int(i), "sku", f"unknown sku {sku_ids[i]!r}")
        known = node >= 0
        not_vendor = np.zeros(n, dtype=bool)
        not_vendor[known] = network.kind[node[known]] != _VENDOR_CODE
        for i in np.flatnonzero(not_vendor):
            kind = network.nodes[node[i]].kind
            col.add(TABLE, int(i), "node_id", f"node {node_ids[i]!r} is a {kind}, not a vendor")

        price = _number_column(df, "price", col, lambda v: v >= 0, "must be >= 0")
        fee = _number_column(df, "fee_rate", col, lambda v: (v >= 0) & (v < 1), "must be in [0, 1)")
        lead = _number_column(df, "lead_days", col, lambda v: (v >= 0) & (v <= MAX_DAYS) & (v == np.floor(v)),
                              f"must be an integer in [0, {MAX_DAYS}]")
        rel = _number_column(df, "reliability", col, lambda v: (v > 0) & (v <= 1),
                             "must be in (0, 1]", default=1.0)

        # Duplicates are judged on resolved positions, so the same pair is caught
        # however its ids were spelled in other cells; each repeat names its first row.
        rows = np.flatnonzero((node >= 0) & (sku >= 0))
        keys = (sku[rows] << _NODE_BITS) | node[rows]
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        first_row = rows[first][inverse]
        for i, j in zip(rows[first_row != rows], first_row[first_row != rows], strict=True):
            col.add(TABLE, int(i), "node_id/sku",
                    f"duplicate offer for node {node_ids[i]!r} and sku {sku_ids[i]!r} (first at row {j})")
        col.raise_if_any()
        return cls(node, sku, price, fee, lead.astype(np.int64), rel)

    # -- queries -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.key)

    @cached_property
    def _row_of(self) -> dict[int, int]:
        # Scalar lookups sit on the router's per-line path, where a dict probe is
        # several times cheaper than a numpy searchsorted call on a Python int.
        # Built on first use so batch-only callers (lookup_many) never pay its memory.
        return dict(zip(self.key.tolist(), range(len(self.key)), strict=True))

    @cached_property
    def _vendors_by_sku(self) -> dict[int, np.ndarray]:
        # Same reasoning as _row_of: one read-only view per offered SKU, built once.
        skus, start, count = np.unique(self.sku, return_index=True, return_counts=True)
        return {int(s): self.node[a:a + c] for s, a, c in zip(skus, start, count, strict=True)}

    def lookup(self, node: int, sku: int) -> int:
        """Row of the (vendor, SKU) offer.

        Parameters
        ----------
        node, sku : int
            Positions in the network.

        Returns
        -------
        int
            Row index into the column arrays, or -1 when the vendor does not
            offer the SKU.
        """
        if 0 <= node < _NODE_LIMIT and sku >= 0:
            return self._row_of.get((sku << _NODE_BITS) | node, -1)
        return -1

    def lookup_many(self, node: np.ndarray, sku: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`lookup`: row per (node, SKU) pair, -1 where none.

        Parameters
        ----------
        node, sku : array_like of int
            Broadcastable positions in the network.

        Returns
        -------
        ndarray of int64
        """
        node, sku = np.broadcast_arrays(np.asarray(node, np.int64), np.asarray(sku, np.int64))
        valid = (node >= 0) & (sku >= 0) & (node < _NODE_LIMIT)
        k = np.where(valid, (sku << _NODE_BITS) | node, -1)
        j = np.searchsorted(self.key, k)
        jc = np.minimum(j, max(len(self.key) - 1, 0))
        hit = valid & (j < len(self.key))
        if len(self.key):
            hit &= self.key[jc] == k
        return np.where(hit, j, -1).astype(np.int64)

    def vendors_for(self, sku: int) -> np.ndarray:
        """Vendor node positions that offer ``sku``, ascending (read-only view).

        Their rows are contiguous: they start at ``lookup(vendors_for(sku)[0], sku)``.
        """
        return self._vendors_by_sku.get(sku, _NO_VENDORS)

    def landed_unit_cost(self) -> np.ndarray:
        """Price plus marketplace fee per unit, per row.

        The fee is a fraction of the vendor's price, so the cost of buying a
        unit through the marketplace is ``price * (1 + fee_rate)``.
        """
        return self.price * (1.0 + self.fee_rate)


def _positions(ids: np.ndarray, index: Mapping[str, int]) -> np.ndarray:
    """``index[id]`` for each id, -1 where absent, hashed in C rather than per row in Python."""
    keys = pd.Index(list(index.keys()), dtype=object)
    values = np.fromiter(index.values(), np.int64, len(index))
    found = keys.get_indexer(pd.Index(ids, dtype=object)) if len(keys) else np.full(len(ids), -1)
    return np.where(found >= 0, values[np.maximum(found, 0)] if len(values) else -1, -1).astype(np.int64)


def _id_column(df: pd.DataFrame, name: str, col: Collector) -> np.ndarray:
    """String ids with ``""`` for every blank cell, each blank reported."""
    raw = df[name]
    # Ids are matched exactly as written, like the other tables; stripping is
    # only for deciding that a cell is blank.
    ids = raw.astype(str).to_numpy(dtype=object)
    empty = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    ids[empty] = ""
    for i in np.flatnonzero(empty):
        col.add(TABLE, int(i), name, "must not be empty")
    return ids


def _number_column(df: pd.DataFrame, name: str, col: Collector,
                   ok: Callable[[np.ndarray], np.ndarray], rule: str,
                   default: float | None = None) -> np.ndarray:
    """Column as float64; every non-numeric, NaN, infinite or rule-breaking cell reported.

    With ``default`` the column may be absent and blank cells take the default;
    without it a blank cell is an error like any other non-number.
    """
    n = len(df)
    if name not in df.columns:
        return np.full(n, np.nan if default is None else default, dtype=np.float64)
    raw = df[name]
    if raw.dtype.kind == "b":
        # Booleans coerce to 0/1 in pandas; a True price is a data error, not a 1.
        vals = np.full(n, np.nan)
        blank = np.zeros(n, dtype=bool)
    elif raw.dtype.kind in "iuf":
        vals = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        blank = np.isnan(vals)
    else:
        # Mixed cells (CSV text, hand-built frames): one Python pass, for the same
        # two reasons: reject booleans, and treat "" like a missing cell.
        cells = raw.tolist()
        is_bool = np.fromiter((isinstance(v, bool | np.bool_) for v in cells), bool, n)
        blank = raw.isna().to_numpy() | np.fromiter(
            (isinstance(v, str) and not v.strip() for v in cells), bool, n)
        vals = pd.to_numeric(raw.where(~is_bool), errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if default is not None:
        vals = np.where(blank, default, vals)
    finite = np.isfinite(vals)
    for i in np.flatnonzero(~finite):
        col.add(TABLE, int(i), name, f"must be a finite number, got {shown(raw.iloc[i])}")
    with np.errstate(invalid="ignore"):
        bad = finite & ~ok(vals)
    for i in np.flatnonzero(bad):
        col.add(TABLE, int(i), name, f"{rule}, got {shown(raw.iloc[i])}")
    return vals


# --------------------------------------------------------------------------- gateway


class VendorError(Exception):
    """A vendor could not answer usefully; ``str(exc)`` is the reason recorded.

    Gateways raise it (or any exception) for a failed vendor; :func:`check_vendors`
    turns it into an entry of :attr:`VendorCheck.failures`.
    """


class VendorTimeout(VendorError, TimeoutError):
    """The vendor did not answer in time.

    Kept distinct so :func:`check_vendors` can report every timeout against
    the caller's timeout, whatever share of it the gateway was given.
    """


@runtime_checkable
class VendorGateway(Protocol):
    """Source of live vendor stock.

    Implementations should give up after ``timeout`` seconds. :func:`check_vendors`
    does not rely on it, as it stops waiting on its own, but a call that
    ignores its timeout keeps the thread it runs on until it returns.
    """

    def availability(self, vendor_id: str, skus: Sequence[str], timeout: float) -> Mapping[str, int]:
        """Units of each requested SKU the vendor can ship now.

        Parameters
        ----------
        vendor_id : str
            The vendor's ``node_id``.
        skus : sequence of str
            SKU ids to ask about.
        timeout : float
            Seconds the caller is willing to wait.

        Returns
        -------
        Mapping of str to int
            Non-negative units per SKU; a requested SKU left out means 0.

        Raises
        ------
        VendorError
            Or any other exception, when the vendor cannot answer;
            :class:`VendorTimeout` or :class:`TimeoutError` when it ran out of time.
        """
        ...


def timeout_reason(timeout: float) -> str:
    """The failure reason recorded for a vendor that did not answer in time."""
    return f"timeout after {timeout:.2f} s"


def _units(payload: object, skus: Sequence[str]) -> dict[str, int]:
    """Validate a vendor's answer into units for exactly the requested SKUs.

    A requested SKU the vendor leaves out is 0 units: absence can only mean
    "nothing to promise". An unrequested SKU is rejected rather than dropped,
    because it usually means the vendor spells our SKU ids differently, and
    every requested SKU would then silently read as 0.

    Raises
    ------
    VendorError
        ``bad payload: ...`` naming the first few offending entries.
    """
    if not isinstance(payload, Mapping):
        raise VendorError(f"bad payload: availability must be an object, got {type(payload).__name__}")
    wanted = set(skus)
    problems: list[str] = []
    for k, v in payload.items():
        if not isinstance(k, str):
            problems.append(f"sku {k!r} is not a string")
        elif k not in wanted:
            problems.append(f"unrequested sku {k!r}")
        elif isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
            problems.append(f"{k!r} must be an integer, got {v!r}")
        elif v < 0:
            problems.append(f"{k!r} must be >= 0, got {v!r}")
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        raise VendorError("bad payload: " + "; ".join(problems[:3]) + more)
    return {s: int(payload.get(s, 0)) for s in skus}


def _parse_availability(body: bytes, skus: Sequence[str]) -> dict[str, int]:
    """Units from a vendor's 200 body ``{"availability": {...}}``, validated by :func:`_units`."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VendorError(f"bad payload: not JSON ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict) or "availability" not in doc:
        raise VendorError('bad payload: expected an object with key "availability"')
    return _units(doc["availability"], skus)


# Bytes asked of the socket per read; the body cap (max_bytes) bounds the total.
_READ_CHUNK = 65536
# Longest status line plus headers h11 buffers before refusing the response, so a
# vendor sending endless headers cannot grow our memory either (h11's own default).
_MAX_HEAD_BYTES = 16 * 1024
# connect_ex codes meaning "started, not finished" on a non-blocking socket.
_CONNECTING = frozenset({0, errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK, errno.EAGAIN})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_USER_AGENT = "sourcewise-vendor-check"


@dataclass(frozen=True)
class _Endpoint:
    """Where one vendor's API lives, split once so a check does no URL parsing."""

    scheme: str
    host: str  # hostname or IP literal, IPv6 without brackets
    port: int
    path: str  # percent-encoded base path without a trailing "/"
    authority: str  # the Host header


@dataclass(frozen=True)
class _Addresses:
    """Socket addresses of one (host, port) from ``getaddrinfo``, or why there are none."""

    infos: tuple[tuple, ...]
    resolved_at: float
    error: str = ""


def _endpoint(url: str) -> _Endpoint:
    """Split a vendor base URL; ``ValueError`` saying what is wrong with it."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        # Credentials in the URL would silently go unsent: refuse them instead.
        raise ValueError("credentials in the URL are not supported")
    if parts.query or parts.fragment:
        raise ValueError("a base URL takes no query or fragment")
    port = parts.port or _DEFAULT_PORTS[scheme]  # .port raises ValueError for a bad port
    host = parts.hostname
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"bad host name: {exc}") from None
    shown = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    authority = shown if port == _DEFAULT_PORTS[scheme] else f"{shown}:{port}"
    # Keep escapes already present, escape the rest, so h11 accepts the request target.
    path = urllib.parse.quote(parts.path.rstrip("/"), safe="/%:@!$&'()*+,;=-._~")
    return _Endpoint(scheme, ascii_host, port, path, authority)


def _resolve(host: str, port: int, old: _Addresses | None) -> _Addresses:
    """Addresses of ``host``; an IP literal never goes to DNS and never goes stale."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        return _Addresses(tuple(infos), math.inf)
    except socket.gaierror:
        pass  # not an IP literal: a name to look up
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        if old is not None and old.infos:
            # Serve the last good answer rather than fail vendors over a DNS blip;
            # its old timestamp keeps it stale, so the next refresh tries again.
            return old
        return _Addresses((), -math.inf, f"cannot resolve host {host!r}: {exc}")
    return _Addresses(tuple(infos), time.monotonic())


class HttpVendorGateway:
    """:class:`VendorGateway` over each vendor's HTTP availability endpoint.

    ``GET {base}/availability?skus=A,B`` must answer 200 with JSON
    ``{"availability": {"A": 3, "B": 0}}``. Anything else is a
    :class:`VendorError` whose message is the reason the engine records:
    ``"HTTP 500"``, ``"HTTP 302: redirects are not followed"``,
    ``"timeout after 0.20 s"``, ``"bad payload: ..."``, ``"unreachable: ..."``.

    Parameters
    ----------
    base_urls : Mapping of str to str
        Vendor ``node_id`` to the base URL of its API (``http`` or ``https``,
        no credentials, query or fragment).
    max_bytes : int
        Largest response body accepted; a bigger one is a bad payload, so a
        misbehaving vendor cannot make the router buffer without bound. A
        ``Content-Length`` above it fails at once, without reading the body.
    ssl_context : ssl.SSLContext, optional
        Context for ``https`` vendors; by default
        :func:`ssl.create_default_context` (system CAs, host names checked).
    dns_ttl : float
        Seconds a looked-up address counts as fresh for
        :meth:`refresh_addresses`.
    proxies : Mapping of str to str, optional
        Not supported: a non-empty mapping raises ``ValueError``. Vendor calls
        always connect directly.

    Raises
    ------
    ValueError
        A base URL that is not an absolute http(s) URL, a non-positive
        ``max_bytes`` or ``dns_ttl``, or proxies.

    Notes
    -----
    **One deadline.** ``timeout`` bounds the whole exchange: connect, TLS
    handshake, sending the request, the status line and headers, and the
    body. Every vendor of one :meth:`availability_many` call is served at
    once in the calling thread, on non-blocking sockets multiplexed with
    :mod:`selectors` and HTTP/1.1 parsed by ``h11``; no thread is started, and
    every socket is closed before the call returns. A vendor trickling its
    answer a byte at a time therefore times out like a silent one.

    **No redirects.** A 3xx answer is a failure (``"HTTP 302: redirects are not
    followed"``): a vendor must not be able to send the router to another
    address, inside our network or out of it.

    **Host names.** ``getaddrinfo`` blocks and cannot be bounded without a
    thread, so it never runs during a check. IP literals are used as they are.
    Host names are looked up when the gateway is built and again by
    :meth:`refresh_addresses`; a check connects to the addresses found then
    (trying each in turn within the deadline), even once they are older than
    ``dns_ttl``. A long-running service whose vendors move between addresses
    calls :meth:`refresh_addresses` from its own schedule, off the order path.
    A name that could not be resolved makes its vendor fail with
    ``"unreachable: cannot resolve host ..."`` until a refresh succeeds.

    **No proxies.** Going through a proxy would need CONNECT tunnelling and
    proxy authentication under the same deadline; rather than half-support
    them, the gateway refuses the option. No proxy from the environment is
    used either.

    A gateway is safe to share between threads: each call has its own sockets.
    """

    def __init__(self, base_urls: Mapping[str, str], *, max_bytes: int = 1 << 20,
                 ssl_context: ssl.SSLContext | None = None, dns_ttl: float = 300.0,
                 proxies: Mapping[str, str] | None = None) -> None:
        if proxies:
            raise ValueError("HttpVendorGateway does not support proxies: vendor calls connect directly "
                             "so that one deadline covers the whole exchange")
        endpoints: dict[str, _Endpoint] = {}
        bad: dict[str, str] = {}
        for vendor_id, url in base_urls.items():
            try:
                endpoints[vendor_id] = _endpoint(url)
            except ValueError as exc:
                bad[vendor_id] = f"{url!r} ({exc})"
        if bad:
            raise ValueError(f"base urls must be absolute http(s) URLs: {bad}")
        if not max_bytes > 0:
            raise ValueError(f"max_bytes must be > 0, got {max_bytes!r}")
        if not (isinstance(dns_ttl, int | float) and dns_ttl > 0):
            raise ValueError(f"dns_ttl must be a number of seconds > 0, got {dns_ttl!r}")
        self.base_urls: dict[str, str] = {v: u.rstrip("/") for v, u in base_urls.items()}
        self.max_bytes = int(max_bytes)
        self.dns_ttl = float(dns_ttl)
        self._endpoints = endpoints
        if ssl_context is None and any(e.scheme == "https" for e in endpoints.values()):
            ssl_context = ssl.create_default_context()
        self._ssl_context = ssl_context
        self._addresses: dict[tuple[str, int], _Addresses] = {}
        self.refresh_addresses(force=True)

    def refresh_addresses(self, *, force: bool = False) -> dict[str, str]:
        """Look up again the host names older than ``dns_ttl`` (all with ``force``).

        This blocks for as long as the system resolver takes, so call it at
        start-up or from a maintenance schedule, never on the order path. A
        failed look-up keeps the last good addresses.

        Returns
        -------
        dict of str to str
            Host name to the reason it has no address, for each host left
            without one; empty when every vendor can be reached by address.
        """
        now = time.monotonic()
        # Entries are replaced whole, never mutated, so a check running in
        # another thread sees either the old or the new addresses.
        for key in {(e.host, e.port) for e in self._endpoints.values()}:
            old = self._addresses.get(key)
            if force or old is None or now - old.resolved_at >= self.dns_ttl:
                self._addresses[key] = _resolve(*key, old)
        return {host: a.error for (host, _), a in self._addresses.items() if not a.infos}

    def url(self, vendor_id: str, skus: Sequence[str]) -> str:
        """The availability URL for ``skus`` (commas kept literal, the rest escaped)."""
        query = urllib.parse.urlencode({"skus": ",".join(skus)}, safe=",")
        return f"{self.base_urls[vendor_id]}/availability?{query}"

    def availability(self, vendor_id: str, skus: Sequence[str], timeout: float) -> dict[str, int]:
        """Ask one vendor, the whole exchange bounded by ``timeout``; see :class:`VendorGateway`.

        Raises
        ------
        VendorError
            Unknown vendor, SKU id containing a comma (it would split in the
            query), timeout (:class:`VendorTimeout`), connection failure,
            redirect, non-200 status, or a body that is not the expected JSON
            shape.
        """
        outcome = self.availability_many({vendor_id: skus}, timeout)[vendor_id]
        if isinstance(outcome, VendorError):
            raise outcome
        return outcome

    def availability_many(self, requests: Mapping[str, Sequence[str]], timeout: float, *,
                          max_in_flight: int | None = None) -> dict[str, dict[str, int] | VendorError]:
        """Ask several vendors at once in the calling thread, all within one deadline.

        Parameters
        ----------
        requests : Mapping of str to sequence of str
            Vendor id to the SKU ids wanted from it.
        timeout : float
            Seconds from now by which every exchange has ended.
        max_in_flight : int, optional
            Most connections open at once (all by default). A vendor waiting
            for a free slot gets only the time that remains.

        Returns
        -------
        dict of str to (dict of str to int or VendorError)
            Per requested vendor: its validated units (``{}`` for no SKUs),
            or the :class:`VendorError` saying why not; a vendor still
            unanswered at the deadline gets a :class:`VendorTimeout`. Returns
            by the deadline (plus the time to handle data already received),
            never raises for a vendor's failure, and leaves no socket open.
        """
        deadline = time.monotonic() + timeout
        outcomes: dict[str, dict[str, int] | VendorError] = {}
        exchanges: list[_Exchange] = []
        for vendor_id, skus in requests.items():
            try:
                exchange = self._exchange(vendor_id, list(dict.fromkeys(skus)))
            except VendorError as exc:
                outcomes[vendor_id] = exc
                continue
            if exchange is None:
                outcomes[vendor_id] = {}
            else:
                exchanges.append(exchange)
        limit = len(exchanges) if max_in_flight is None else max(1, int(max_in_flight))
        _run_exchanges(exchanges, deadline, limit, timeout_reason(timeout))
        for exchange in exchanges:
            assert exchange.outcome is not None  # _run_exchanges settles every exchange
            outcomes[exchange.vendor_id] = exchange.outcome
        return {v: outcomes[v] for v in requests}

    def _exchange(self, vendor_id: str, skus: list[str]) -> _Exchange | None:
        """The exchange asking ``vendor_id`` for ``skus``; None when there is nothing to ask."""
        endpoint = self._endpoints.get(vendor_id)
        if endpoint is None:
            raise VendorError(f"no endpoint configured for vendor {vendor_id!r}")
        if not skus:
            return None
        if any("," in s for s in skus):
            raise VendorError("bad request: sku ids must not contain ','")
        query = urllib.parse.urlencode({"skus": ",".join(skus)}, safe=",")
        addresses = self._addresses[(endpoint.host, endpoint.port)]
        tls = self._ssl_context if endpoint.scheme == "https" else None
        try:
            return _Exchange(vendor_id, skus, endpoint, f"{endpoint.path}/availability?{query}", addresses,
                             tls, self.max_bytes)
        except h11.LocalProtocolError as exc:
            raise VendorError(f"bad request: {exc}") from None


class _Exchange:
    """One vendor's GET, moved on a step at a time whenever its socket is ready.

    States run ``connect -> tls (https only) -> send -> receive``; ``outcome``
    is set exactly once, to the validated units or to the :class:`VendorError`
    saying why not. The exchange never blocks: every socket is non-blocking,
    and :attr:`events` says what to wait for before the next :meth:`step`.
    """

    def __init__(self, vendor_id: str, skus: list[str], endpoint: _Endpoint, target: str,
                 addresses: _Addresses, tls: ssl.SSLContext | None, max_bytes: int) -> None:
        self.vendor_id = vendor_id
        self.skus = skus
        self.outcome: dict[str, int] | VendorError | None = None
        self.sock: socket.socket | None = None
        self.events = selectors.EVENT_WRITE
        self._state = "connect"
        self._host = endpoint.host
        self._addrs = list(addresses.infos)
        self._resolve_error = addresses.error
        self._last_error: OSError | None = None
        self._tls = tls
        self._max_bytes = max_bytes
        self._body = bytearray()
        self._http = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)
        # Connection: close, because nothing is reused: each check opens its own connections.
        request = h11.Request(method="GET", target=target, headers=[
            ("Host", endpoint.authority), ("Accept", "application/json"),
            ("User-Agent", _USER_AGENT), ("Connection", "close")])
        self._out = self._http.send(request) + self._http.send(h11.EndOfMessage())

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def start(self) -> None:
        """Begin connecting; may already settle the outcome (no address left to try)."""
        self._guarded(self._connect_next)

    def time_out(self, reason: str) -> None:
        """Settle an exchange still open at the deadline as a timeout."""
        if self.outcome is None:
            self.outcome = VendorTimeout(reason)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def step(self) -> None:
        """Do whatever the socket allows now without blocking."""
        actions = {"connect": self._connected, "tls": self._handshake, "send": self._send}
        self._guarded(actions.get(self._state, self._receive))

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run one action; whatever it raises becomes this vendor's failure, never the caller's."""
        try:
            action()
        except VendorError as exc:
            self.outcome = exc
        except h11.RemoteProtocolError as exc:
            self.outcome = VendorError(f"unreachable: bad HTTP response: {exc}")
        except OSError as exc:  # resets, refused connections, TLS failures (ssl.SSLError)
            self.outcome = VendorError(f"unreachable: {exc}")
        except Exception as exc:  # noqa: BLE001 - a vendor must never make a check raise
            self.outcome = VendorError(f"error: {type(exc).__name__}: {exc}")

    def _connect_next(self) -> None:
        # Addresses are tried in getaddrinfo's order, each only after the one
        # before failed, all under the one deadline.
        self.close()
        while self._addrs:
            family, type_, proto, _, sockaddr = self._addrs.pop(0)
            try:
                sock = socket.socket(family, type_, proto)
            except OSError as exc:  # e.g. IPv6 address on a host without IPv6
                self._last_error = exc
                continue
            sock.setblocking(False)
            err = sock.connect_ex(sockaddr)
            if err in _CONNECTING:
                self.sock, self._state, self.events = sock, "connect", selectors.EVENT_WRITE
                return
            sock.close()
            self._last_error = OSError(err, os.strerror(err))
        self.outcome = VendorError(f"unreachable: {self._resolve_error or self._last_error}")

    def _connected(self) -> None:
        # A non-blocking connect reports its result as writability plus SO_ERROR.
        assert self.sock is not None
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self._last_error = OSError(err, os.strerror(err))
            self._connect_next()
            return
        if self._tls is None:
            self._state = "send"
            self._send()
            return
        self.sock = self._tls.wrap_socket(self.sock, server_hostname=self._host,
                                          do_handshake_on_connect=False)
        self._state = "tls"
        self._handshake()

    def _handshake(self) -> None:
        assert isinstance(self.sock, ssl.SSLSocket)
        try:
            self.sock.do_handshake()
        except ssl.SSLWantReadError:
            self.events = selectors.EVENT_READ
            return
        except ssl.SSLWantWriteError:
            self.events = selectors.EVENT_WRITE
            return
        self._state = "send"
        self._send()

    def _send(self) -> None:
        assert self.sock is not None
        while self._out:
            try:
                sent = self.sock.send(self._out)
            except (BlockingIOError, ssl.SSLWantWriteError):
                self.events = selectors.EVENT_WRITE
                return
            except ssl.SSLWantReadError:
                self.events = selectors.EVENT_READ
                return
            self._out = self._out[sent:]
        self._state = "receive"
        self.events = selectors.EVENT_READ

    def _receive(self) -> None:
        # Read until the socket has nothing more for now. For TLS this also
        # drains records already decrypted into the SSL buffer, which select()
        # cannot see; the body cap bounds how long one step can go on.
        assert self.sock is not None
        self.events = selectors.EVENT_READ
        while True:
            try:
                data = self.sock.recv(_READ_CHUNK)
            except (BlockingIOError, ssl.SSLWantReadError):
                return
            except ssl.SSLWantWriteError:
                self.events = selectors.EVENT_WRITE
                return
            self._http.receive_data(data)
            if self._handle_events():
                return
            if not data:
                raise VendorError("unreachable: connection closed before the response was complete")

    def _handle_events(self) -> bool:
        """Act on every complete HTTP event received so far; True once the outcome is settled."""
        while True:
            event = self._http.next_event()
            if event is h11.NEED_DATA:
                return False
            if isinstance(event, h11.Response):
                self._check_head(event)
            elif isinstance(event, h11.Data):
                if len(self._body) + len(event.data) > self._max_bytes:
                    raise VendorError(f"bad payload: response larger than {self._max_bytes} bytes")
                self._body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.outcome = _parse_availability(bytes(self._body), self.skus)
                return True
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                raise VendorError("unreachable: connection closed before the response was complete")
            # An InformationalResponse (1xx) says nothing about the answer: keep reading.

    def _check_head(self, response: h11.Response) -> None:
        status = response.status_code
        if 300 <= status < 400:
            raise VendorError(f"HTTP {status}: redirects are not followed")
        if status != 200:
            raise VendorError(f"HTTP {status}")
        for name, value in response.headers:
            # h11 has already checked that a Content-Length is one non-negative integer.
            if name == b"content-length" and int(value) > self._max_bytes:
                raise VendorError(f"bad payload: response larger than {self._max_bytes} bytes")


def _run_exchanges(exchanges: Sequence[_Exchange], deadline: float, limit: int, timeout_text: str) -> None:
    """Drive ``exchanges`` on one selector until all settle or ``deadline`` (monotonic) passes.

    At most ``limit`` are open at once; the rest start as slots free up. On
    return every exchange has an outcome and every socket is closed, whatever
    happened, including an exception escaping this loop.
    """
    waiting = deque(exchanges)
    open_count = 0
    sel = selectors.DefaultSelector()
    try:
        while True:
            while waiting and open_count < limit and time.monotonic() < deadline:
                exchange = waiting.popleft()
                exchange.start()
                if exchange.done:
                    exchange.close()
                else:
                    assert exchange.sock is not None
                    sel.register(exchange.sock, exchange.events, exchange)
                    open_count += 1
            remaining = deadline - time.monotonic()
            if not open_count or remaining <= 0:
                break
            for key, _ in sel.select(remaining):
                exchange = key.data
                # Unregister around the step: it may close the socket (next
                # address) or replace it (TLS wrap), and wants new events.
                sel.unregister(key.fileobj)
                exchange.step()
                if exchange.done:
                    exchange.close()
                    open_count -= 1
                else:
                    assert exchange.sock is not None
                    sel.register(exchange.sock, exchange.events, exchange)
    finally:
        for exchange in exchanges:
            exchange.time_out(timeout_text)
            exchange.close()
        sel.close()



# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class VendorCheck:
    """Outcome of one round of live availability checks.

    Attributes
    ----------
    available : dict of str to dict of str to int
        Vendor id to SKU to units, for every vendor that answered validly.
        Every requested SKU is present (0 when the vendor left it out).
    failures : dict of str to str
        Vendor id to the reason it was skipped, e.g. ``"timeout after 0.20 s"``,
        ``"HTTP 500"`` or ``"bad payload: ..."``. Each requested vendor is in
        exactly one of ``available`` and ``failures``.
    elapsed : float
        Wall-clock seconds the check took.
    """

    available: dict[str, dict[str, int]]
    failures: dict[str, str]
    elapsed: float = 0.0

    def units(self, vendor_id: str, sku: str) -> int:
        """Units ``vendor_id`` reported for ``sku``; 0 if it failed or was not asked."""
        return self.available.get(vendor_id, {}).get(sku, 0)


def _describe(exc: BaseException, timeout: float) -> str:
    # Timeouts first: a gateway given the remaining share of the time reports
    # that share, but the explanation should state the timeout the caller set.
    if isinstance(exc, TimeoutError):
        return timeout_reason(timeout)
    if isinstance(exc, VendorError):
        return str(exc)
    return f"error: {type(exc).__name__}: {exc}"


def check_vendors(gateway: VendorGateway, requests: Mapping[str, Sequence[str]], timeout: float,
                  max_workers: int = 8, *, grace: float = 0.05) -> VendorCheck:
    """Ask every vendor for its availability at once, within a time bound.

    Parameters
    ----------
    gateway : VendorGateway
        Where to ask.
    requests : Mapping of str to sequence of str
        Vendor id to the SKU ids wanted from it. A vendor with no SKUs is
        reported as available with nothing, without a call.
    timeout : float
        Seconds, > 0. Every vendor call must have finished within ``timeout``
        of the start; a call that starts late (more vendors than
        ``max_workers``) is given only the time that remains.
    max_workers : int
        Most vendor calls in flight at once: open connections for an
        :class:`HttpVendorGateway`, threads for any other gateway.
    grace : float
        Extra seconds to collect answers that land right at the deadline;
        used only for gateways other than :class:`HttpVendorGateway`, whose
        exchanges end at the deadline itself.

    Returns
    -------
    VendorCheck
        Answers of the vendors that replied validly in time, and a reason for
        each one that did not. Returns after at most about
        ``timeout + grace`` seconds even if the gateway ignores its timeout.

    Raises
    ------
    ValueError
        For a non-positive ``timeout`` or ``max_workers`` (caller bugs, not
        vendor failures). Vendor failures are never raised.

    Notes
    -----
    An :class:`HttpVendorGateway` (one that does not override
    :meth:`~HttpVendorGateway.availability`) is asked through
    :meth:`~HttpVendorGateway.availability_many`: every vendor at once in the
    calling thread, one deadline over each whole exchange, no thread started
    and no socket left open when this returns.

    Any other gateway is called on daemon threads, one per call in flight.
    Once every call has returned, those threads have ended too before this
    returns. A call still running at the deadline is abandoned, and its
    thread lives on until the gateway returns (its late answer is
    discarded): Python cannot stop a thread, so a gateway that ignores its
    ``timeout`` leaves a thread behind for as long as it hangs. Daemon
    threads, not a ``ThreadPoolExecutor``, because an executor would join such
    a thread at interpreter exit and hang the process.
    """
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    if max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
    start = time.monotonic()
    deadline = start + timeout
    available: dict[str, dict[str, int]] = {}
    failures: dict[str, str] = {}
    asked: dict[str, list[str]] = {}
    for vendor_id, skus in requests.items():
        skus = list(dict.fromkeys(skus))
        if skus:
            asked[vendor_id] = skus
        else:
            available[vendor_id] = {}
    if asked:
        # Only the stock exchange is known to honour the deadline; a subclass
        # that replaced availability() gets the thread path that calls it.
        if isinstance(gateway, HttpVendorGateway) and type(gateway).availability is HttpVendorGateway.availability:
            outcomes = gateway.availability_many(asked, max(0.0, deadline - time.monotonic()),
                                                 max_in_flight=max_workers)
        else:
            outcomes = _check_on_threads(gateway, asked, deadline, timeout, max_workers, grace)
        for vendor_id in asked:
            outcome = outcomes[vendor_id]
            if isinstance(outcome, BaseException):
                failures[vendor_id] = _describe(outcome, timeout)
            else:
                available[vendor_id] = outcome
    return VendorCheck(available, failures, time.monotonic() - start)


def _check_on_threads(gateway: VendorGateway, asked: Mapping[str, list[str]], deadline: float, timeout: float,
                      max_workers: int, grace: float) -> dict[str, dict[str, int] | BaseException]:
    """Call ``gateway`` for each vendor on up to ``max_workers`` daemon threads, until ``deadline + grace``.

    Returns each vendor's validated units or the exception its call raised; a
    call not finished in time is a :class:`VendorTimeout`.
    """
    jobs = [(vendor_id, skus, Future()) for vendor_id, skus in asked.items()]

    def call(vendor_id: str, skus: list[str]) -> dict[str, int]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # Queued behind slower vendors until the time was gone: don't start.
            raise VendorTimeout(timeout_reason(timeout))
        return _units(gateway.availability(vendor_id, skus, remaining), skus)

    pending = list(reversed(jobs))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                vendor_id, skus, fut = pending.pop()
            if not fut.set_running_or_notify_cancel():
                continue  # given up on before it started
            try:
                fut.set_result(call(vendor_id, skus))
            except BaseException as exc:  # noqa: BLE001 - every vendor failure is data
                fut.set_exception(exc)

    workers = [threading.Thread(target=worker, name="vendor-check", daemon=True)
               for _ in range(min(max_workers, len(jobs)))]
    for t in workers:
        t.start()
    end = deadline + grace
    wait([f for _, _, f in jobs], timeout=max(0.0, end - time.monotonic()))
    outcomes: dict[str, dict[str, int] | BaseException] = {}
    for vendor_id, _, fut in jobs:
        if not fut.done():
            # cancel() succeeds only for calls not yet started; running ones are abandoned.
            fut.cancel()
            outcomes[vendor_id] = VendorTimeout(timeout_reason(timeout))
            continue
        exc = fut.exception()
        outcomes[vendor_id] = fut.result() if exc is None else exc
    # A worker whose last call has returned is only a moment from exiting: wait
    # for it, within the same bound, so well-behaved gateways leave no thread.
    for t in workers:
        t.join(max(0.0, end - time.monotonic()))
    return outcomes
