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
  lost because a marketplace misbehaved.
"""

from __future__ import annotations

import http.client
import json
import math
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
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

import numpy as np
import pandas as pd

from sourcewise.models.errors import Collector
from sourcewise.models.network import Network
from sourcewise.models.network import readonly
from sourcewise.models.node import KIND_CODES
from sourcewise.models.node import NodeKind

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
            ``fee_rate`` outside [0, 1); ``lead_days`` not an integer >= 0;
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
        lead = _number_column(df, "lead_days", col, lambda v: (v >= 0) & (v == np.floor(v)),
                              "must be an integer >= 0")
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
        col.add(TABLE, int(i), name, f"must be a finite number, got {raw.iloc[i]!r}")
    with np.errstate(invalid="ignore"):
        bad = finite & ~ok(vals)
    for i in np.flatnonzero(bad):
        col.add(TABLE, int(i), name, f"{rule}, got {raw.iloc[i]!r}")
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

    Implementations should give up after ``timeout`` seconds, but
    :func:`check_vendors` does not rely on it: it stops waiting on its own.
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


class HttpVendorGateway:
    """:class:`VendorGateway` over each vendor's HTTP availability endpoint.

    ``GET {base}/availability?skus=A,B`` must answer 200 with JSON
    ``{"availability": {"A": 3, "B": 0}}``. Anything else is a
    :class:`VendorError` whose message is the reason the engine records:
    ``"HTTP 500"``, ``"timeout after 0.20 s"``, ``"bad payload: ..."``,
    ``"unreachable: ..."``.

    Parameters
    ----------
    base_urls : Mapping of str to str
        Vendor ``node_id`` to the base URL of its API (``http`` or ``https``).
    max_bytes : int
        Largest response body accepted; a bigger one is a bad payload, so a
        misbehaving vendor cannot make the router buffer without bound.
    proxies : Mapping of str to str, optional
        Proxies per scheme, as for :class:`urllib.request.ProxyHandler`. By
        default none are used, not even those in the environment, so vendor
        calls never detour through a proxy nobody configured for them.

    Notes
    -----
    ``timeout`` bounds each socket operation (connect, each read), and the
    whole body is read under a deadline too; :func:`check_vendors` still adds
    its own bound on top.
    """

    def __init__(self, base_urls: Mapping[str, str], *, max_bytes: int = 1 << 20,
                 proxies: Mapping[str, str] | None = None) -> None:
        bad = {v: u for v, u in base_urls.items()
               if urllib.parse.urlsplit(u).scheme not in ("http", "https") or not urllib.parse.urlsplit(u).netloc}
        if bad:
            raise ValueError(f"base urls must be absolute http(s) URLs: {bad}")
        self.base_urls: dict[str, str] = {v: u.rstrip("/") for v, u in base_urls.items()}
        self.max_bytes = int(max_bytes)
        # An OpenerDirector with these stateless handlers is safe to share
        # between the threads of check_vendors.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler(dict(proxies or {})))

    def url(self, vendor_id: str, skus: Sequence[str]) -> str:
        """The availability URL for ``skus`` (commas kept literal, the rest escaped)."""
        query = urllib.parse.urlencode({"skus": ",".join(skus)}, safe=",")
        return f"{self.base_urls[vendor_id]}/availability?{query}"

    def availability(self, vendor_id: str, skus: Sequence[str], timeout: float) -> dict[str, int]:
        """Ask one vendor; see :class:`VendorGateway`.

        Raises
        ------
        VendorError
            Unknown vendor, SKU id containing a comma (it would split in the
            query), timeout, connection failure, non-200 status, or a body
            that is not the expected JSON shape.
        """
        if vendor_id not in self.base_urls:
            raise VendorError(f"no endpoint configured for vendor {vendor_id!r}")
        skus = list(dict.fromkeys(skus))  # ask once per SKU even if lines repeat it
        if not skus:
            return {}
        if any("," in s for s in skus):
            raise VendorError("bad request: sku ids must not contain ','")
        deadline = time.monotonic() + timeout
        req = urllib.request.Request(self.url(vendor_id, skus), headers={"Accept": "application/json"})
        try:
            with self._opener.open(req, timeout=timeout) as resp:
                if resp.status != 200:
                    raise VendorError(f"HTTP {resp.status}")
                body = self._read(resp, deadline, timeout)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise VendorError(f"HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise VendorTimeout(timeout_reason(timeout)) from None
            raise VendorError(f"unreachable: {exc.reason}") from None
        except TimeoutError:
            raise VendorTimeout(timeout_reason(timeout)) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:  # resets, bad status lines, short bodies
            raise VendorError(f"unreachable: {type(exc).__name__}: {exc}") from None
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VendorError(f"bad payload: not JSON ({exc.__class__.__name__})") from None
        if not isinstance(doc, dict) or "availability" not in doc:
            raise VendorError('bad payload: expected an object with key "availability"')
        return _units(doc["availability"], skus)

    def _read(self, resp: http.client.HTTPResponse, deadline: float, timeout: float) -> bytes:
        # The socket timeout restarts with every chunk, so a server trickling
        # bytes could otherwise hold the call forever; check a deadline too.
        chunks: list[bytes] = []
        size = 0
        while chunk := resp.read(65536):
            size += len(chunk)
            if size > self.max_bytes:
                raise VendorError(f"bad payload: response larger than {self.max_bytes} bytes")
            if time.monotonic() > deadline:
                raise VendorTimeout(timeout_reason(timeout))
            chunks.append(chunk)
        return b"".join(chunks)


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
        of the start; a call that starts late (more vendors than workers) is
        passed only the time that remains.
    max_workers : int
        Most vendor calls in flight at once.
    grace : float
        Extra seconds to collect answers that land right at the deadline.

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
    Calls run on daemon threads rather than a ``ThreadPoolExecutor`` because an
    abandoned call that never returns would otherwise be joined at interpreter
    exit and hang the process. A straggler keeps its thread until the gateway
    returns; its late answer is discarded.
    """
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    if max_workers < 1:
        raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
    start = time.monotonic()
    deadline = start + timeout
    available: dict[str, dict[str, int]] = {}
    failures: dict[str, str] = {}

    jobs: list[tuple[str, list[str], Future]] = []
    for vendor_id, skus in requests.items():
        skus = list(dict.fromkeys(skus))
        if skus:
            jobs.append((vendor_id, skus, Future()))
        else:
            available[vendor_id] = {}

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

    for _ in range(min(max_workers, len(jobs))):
        threading.Thread(target=worker, name="vendor-check", daemon=True).start()

    wait([f for _, _, f in jobs], timeout=max(0.0, deadline + grace - time.monotonic()))
    for vendor_id, _, fut in jobs:
        if not fut.done():
            # cancel() succeeds only for calls not yet started; running ones are abandoned.
            fut.cancel()
            failures[vendor_id] = timeout_reason(timeout)
            continue
        exc = fut.exception()
        if exc is None:
            available[vendor_id] = fut.result()
        else:
            failures[vendor_id] = _describe(exc, timeout)
    return VendorCheck(available, failures, time.monotonic() - start)
