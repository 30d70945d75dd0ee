"""Prometheus metrics of the service, and a store wrapper that times ledger writes.

=============================================  =========  =============================================
metric                                         type       what
=============================================  =========  =============================================
``sourcewise_http_request_duration_seconds``   histogram  per request: ``method``, ``route`` (the
                                                          path template), ``status``
``sourcewise_routing_duration_seconds``        histogram  router calls: ``operation`` (route,
                                                          route_many, hold, promise, release, ...)
``sourcewise_decisions_total``                 counter    decisions made: ``status`` (routed,
                                                          partial, unroutable, nothing_to_route)
``sourcewise_store_write_duration_seconds``    histogram  ledger writes: ``op`` (append, sync, end)
``sourcewise_oversold_entries``                gauge      inventory entries holding more reserved
                                                          than on-hand units (the oversell guard:
                                                          always 0), counted at each scrape
``sourcewise_adjustment_units_withheld_total`` counter    units of stock decreases the guard refused
                                                          because open orders reserve them
=============================================  =========  =============================================
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import generate_latest

from sourcewise.engine.ledger import Entry

__all__ = ["CONTENT_TYPE", "Metrics", "TimedStore"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The service's metrics in a registry of their own (several apps may live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram("sourcewise_http_request_duration_seconds", "HTTP request latency",
                                  ("method", "route", "status"), registry=r, buckets=BUCKETS)
        self.routing = Histogram("sourcewise_routing_duration_seconds", "Router call latency", ("operation",),
                                 registry=r, buckets=BUCKETS)
        self.decisions = Counter("sourcewise_decisions", "Decisions made, by status", ("status",), registry=r)
        self.store_writes = Histogram("sourcewise_store_write_duration_seconds", "Ledger write latency", ("op",),
                                      registry=r, buckets=BUCKETS)
        self.oversold = Gauge("sourcewise_oversold_entries",
                              "Inventory entries with more units reserved than on hand (always 0)", registry=r)
        self.withheld = Counter("sourcewise_adjustment_units_withheld",
                                "Units of stock decreases refused because open orders reserve them", registry=r)
        self._stock: Callable[[], Any] | None = None

    def watch_stock(self, stock_view: Callable[[], Any]) -> None:
        """Count oversold entries from ``stock_view()`` (a :class:`~sourcewise.engine.router.StockView`) at each scrape."""
        self._stock = stock_view

    def exposition(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        if self._stock is not None:
            view = self._stock()
            self.oversold.set(int(np.count_nonzero(view.reserved > view.on_hand)))
        return generate_latest(self.registry)


class TimedStore:
    """A ledger store whose writes are timed into :class:`Metrics`; everything else is the store's own.

    Parameters
    ----------
    store
        An open :class:`~sourcewise.engine.ledger.Store` (SQLite or PostgreSQL).
    histogram
        ``Metrics.store_writes``.
    """

    def __init__(self, store: Any, histogram: Histogram) -> None:
        self._inner = store
        self.url = store.url
        self._append = histogram.labels("append")
        self._sync = histogram.labels("sync")
        self._end = histogram.labels("end")

    def __getattr__(self, name: str) -> Any:
        # begin, catch_up, write_setup, shared, ... (found only when not defined here)
        return getattr(self._inner, name)

    def setup(self) -> bytes | None:
        return self._inner.setup()

    def append(self, kind: str, order_id: str | None, why: str, body: bytes, order_ids: Sequence[str] = ()) -> int:
        t = time.perf_counter()
        try:
            return self._inner.append(kind, order_id, why, body, order_ids)
        finally:
            self._append.observe(time.perf_counter() - t)

    def sync(self, seq: int) -> None:
        t = time.perf_counter()
        try:
            self._inner.sync(seq)
        finally:
            self._sync.observe(time.perf_counter() - t)

    def end(self, commit: bool) -> Any:
        t = time.perf_counter()
        try:
            return self._inner.end(commit)
        finally:
            self._end.observe(time.perf_counter() - t)

    def entries(self, after: int = 0) -> Iterator[Entry]:
        return self._inner.entries(after)

    def last(self, order_id: str) -> Entry | None:
        return self._inner.last(order_id)

    def history(self, order_id: str) -> list[Entry]:
        return self._inner.history(order_id)

    def close(self) -> None:
        self._inner.close()
