"""Time for holds that expire: the wall clock, or one that tests and simulations move by hand.

A :class:`~sourcewise.engine.router.Router` reads the time only through its
clock: when a hold is placed (``now + ttl``) and when its expiry thread wakes.
Times are seconds since the epoch (floats), as :func:`time.time` gives.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol
from typing import runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the router needs from a clock."""

    def now(self) -> float:
        """Seconds since the epoch."""

    def sleep_until(self, deadline: float, wake: threading.Event) -> None:
        """Return at ``deadline`` (clock time) or as soon as ``wake`` is set, whichever comes first."""


class SystemClock:
    """The machine's wall clock (the default)."""

    def now(self) -> float:
        return time.time()

    def sleep_until(self, deadline: float, wake: threading.Event) -> None:
        wake.wait(max(0.0, deadline - time.time()))


class ManualClock:
    """A clock that stands still until :meth:`advance` or :meth:`set` moves it.

    Threads sleeping on it (the router's expiry thread) wake whenever it
    moves, so expired holds are given back right after the move, as they
    would be at that moment of real time.

    Parameters
    ----------
    start : float
        The starting time, seconds since the epoch.
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._t = float(start)
        self._lock = threading.Lock()
        self._sleepers: set[threading.Event] = set()

    def now(self) -> float:
        return self._t

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and wake the sleepers; returns the new time."""
        if not seconds >= 0:
            raise ValueError(f"a clock only moves forward; got {seconds!r} seconds")
        return self.set(self._t + seconds)

    def set(self, t: float) -> float:
        """Move to time ``t`` (not earlier than now) and wake the sleepers."""
        with self._lock:
            if not t >= self._t:
                raise ValueError(f"a clock only moves forward: {t!r} is before {self._t!r}")
            self._t = float(t)
            sleepers = list(self._sleepers)
        for ev in sleepers:
            ev.set()
        return self._t

    def sleep_until(self, deadline: float, wake: threading.Event) -> None:
        with self._lock:
            if self._t >= deadline:
                return
            self._sleepers.add(wake)
        try:
            # any move of the clock sets ``wake``: the caller looks at the time again
            wake.wait()
        finally:
            with self._lock:
                self._sleepers.discard(wake)
