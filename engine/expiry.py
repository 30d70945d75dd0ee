"""Holds: reservations that expire unless the order is placed (a mixin of the router).

:meth:`Holds.hold` reserves exactly as :meth:`Router.route
<sourcewise.engine.router.Router.route>` does and notes an expiry time,
``clock.now() + ttl``; the expiry is written into the same ledger entry, so
a recovered router knows it. :meth:`Holds.confirm` turns a hold into a
plain reservation (the shopper placed the order); :meth:`Holds.extend`
moves its expiry; ``release`` and ``commit`` end it as for any order.

A hold that reaches its expiry gives its stock back by itself: a daemon
thread sleeps on the router's clock until the earliest expiry and then
releases every hold due (ledger kind ``expire``). With a shared ledger each
process's thread may try; the turn makes the first one win and the others
find nothing left to do. :meth:`Holds.expire_holds` does the same at once,
for callers that drive time themselves (a simulation).
"""

from __future__ import annotations

import math
import threading

from sourcewise.engine.clock import Clock
from sourcewise.engine.ledger import Body
from sourcewise.models.decision import Decision
from sourcewise.models.order import Order


class HoldError(LookupError):
    """The order holds no hold (it was never held, or the hold expired, or it was confirmed)."""


def _ttl(ttl: float) -> float:
    try:
        t = float(ttl)
    except (TypeError, ValueError):
        raise ValueError(f"ttl must be a number of seconds > 0, got {ttl!r}") from None
    if not (t > 0 and math.isfinite(t)):
        raise ValueError(f"ttl must be a number of seconds > 0, got {ttl!r}")
    return t


class Holds:
    """The hold methods of :class:`~sourcewise.engine.router.Router` (a mixin; its state is the router's)."""

    _clock: Clock
    _holds: dict[str, float]  # open order id -> expiry (clock seconds)
    _hold_expiry: float | None = None  # the expiry the entry being written carries (see hold)
    _reaper: threading.Thread | None = None
    _reaper_wake: threading.Event | None = None
    _reaper_stop: bool = False

    def hold(self, order: Order, ttl: float, strategy: str | None = None) -> Decision:
        """Reserve for ``order`` as :meth:`route` would, until ``ttl`` seconds from now.

        The stock comes back by itself at expiry, unless :meth:`confirm`,
        ``commit`` or ``release`` came first. An order id that is open
        already answers with its decision and its hold is left as it is
        (use :meth:`extend` to move an expiry).

        Raises
        ------
        ValueError
            For a ttl that is not a number of seconds > 0 (nothing changes).
        ValidationError, OrderConflict, StoreError
            As :meth:`route`; nothing changes.
        """
        seconds = _ttl(ttl)
        with self._lock:
            if order.order_id in self._open:
                return self.route(order, strategy)
            expires = self._clock.now() + seconds
            self._hold_expiry = expires
            try:
                decision = self.route(order, strategy)
            finally:
                self._hold_expiry = None
            if order.order_id in self._open:
                # (with a store, the route entry carries the expiry too: see Durable._record_held)
                self._holds[order.order_id] = expires
                self._wake_reaper()
        return decision

    def hold_expiry(self, order_id: str) -> float | None:
        """When the hold on ``order_id`` expires (clock seconds); None when it holds no hold."""
        self._look()
        return self._holds.get(order_id)

    @property
    def holds(self) -> dict[str, float]:
        """Every open hold and its expiry."""
        self._look()
        return dict(self._holds)

    def confirm(self, order_id: str) -> Decision:
        """The shopper placed the order: its hold becomes a plain reservation that does not expire.

        Raises
        ------
        HoldError
            When ``order_id`` holds no hold (never held, expired, released or confirmed); nothing changes.
        """
        return self._change_hold(order_id, None, "confirm", "hold confirmed: the order was placed")

    def extend(self, order_id: str, ttl: float) -> Decision:
        """Move the hold on ``order_id`` to expire ``ttl`` seconds from now.

        Raises
        ------
        HoldError
            When ``order_id`` holds no hold; nothing changes.
        """
        seconds = _ttl(ttl)
        return self._change_hold(order_id, seconds, "extend", f"hold extended by {seconds:g} s from now")

    def _change_hold(self, order_id: str, seconds: float | None, kind: str, why: str) -> Decision:
        seq = 0
        with self._lock:
            if self._store is not None:
                self._usable()
            if order_id not in self._holds:
                raise HoldError(f"order {order_id!r} holds no hold (never held, expired, released or confirmed)")
            expires = None if seconds is None else self._clock.now() + seconds
            if self._store is not None:
                seq = self._record(kind, order_id, why, Body(expires=expires))
            if expires is None:
                del self._holds[order_id]
            else:
                self._holds[order_id] = expires
                self._wake_reaper()
            decision = self._open_held(order_id).get()
        self._durable(seq)
        return decision

    def expire_holds(self) -> list[str]:
        """Release every hold whose expiry has come (by the router's clock); the ids released."""
        done = []
        with self._lock:
            now = self._clock.now()
            due = sorted((t, oid) for oid, t in self._holds.items() if t <= now)
            for _, oid in due:
                if oid in self._holds:  # (a turn's catch-up may have ended it meanwhile)
                    self._release(oid, "expire", "hold expired: its stock and capacity given back")
                    done.append(oid)
        return done

    # ----------------------------------------------------------------- the expiry thread
    def _wake_reaper(self) -> None:
        """Start the expiry thread on the first hold; wake it when an earlier expiry arrives."""
        if self._reaper is None:
            self._reaper_wake = threading.Event()
            self._reaper = threading.Thread(target=self._reap, name="hold-expiry", daemon=True)
            self._reaper.start()
        else:
            self._reaper_wake.set()

    def _reap(self) -> None:
        wake = self._reaper_wake
        while not self._reaper_stop:
            wake.clear()
            try:
                nxt = min(self._holds.values(), default=None)
            except RuntimeError:  # changed size while read (a call on another thread): look again
                continue
            if nxt is not None and nxt <= self._clock.now():
                try:
                    self.expire_holds()
                except Exception:  # noqa: BLE001 - a closed or broken router: callers see why on their calls
                    return
                continue
            if nxt is None:
                wake.wait()
            else:
                self._clock.sleep_until(nxt, wake)

    def _stop_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper_stop = True
            self._reaper_wake.set()
            self._reaper.join(timeout=5)
