"""What each endpoint does to the router, in JSON terms: bodies in, answers out.

:class:`Operations` holds the router and one catalog per platform over the
router's network, and has one method per endpoint. Methods take the raw
body (bytes) and return the answer as a dict; every problem with the input
raises :class:`ServiceError` (status, message, and every bad field as
``{"field", "reason"}``) before anything changes. The router's own errors
keep that contract: a call that raises changes nothing.

The platform endpoints route against the same router: their location ids are
the network's node ids and their SKUs its SKUs (Shopify: inventory item ids;
commercetools: channel ids; Magento: source codes), see :mod:`.platforms`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from sourcewise.engine.adapters.generic import render_decision
from sourcewise.engine.adapters.reader import AdapterError
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.records import Bound
from sourcewise.engine.expiry import HoldError
from sourcewise.engine.ledger import StoreError
from sourcewise.engine.ledger import decode_body
from sourcewise.engine.router import ReservationError
from sourcewise.engine.router import Router
from sourcewise.engine.service.metrics import Metrics
from sourcewise.engine.service.platforms import Platforms
from sourcewise.models.decision import Decision
from sourcewise.models.errors import OrderConflict
from sourcewise.models.errors import ValidationError

__all__ = ["ADJUSTMENT_KINDS", "FORECAST_TIME_LIMIT", "MAX_FORECAST_TIME_LIMIT", "MAX_PRICE", "Operations", "ServiceError"]

ADJUSTMENT_KINDS = ("receipt", "sale", "shrink", "count")
"""``receipt`` adds ``qty`` units, ``sale`` and ``shrink`` take them away, ``count`` sets on-hand to ``qty``."""
MAX_TTL_S = 30 * 86400.0
MAX_BATCH = 10_000
#: Seconds ``PUT /v1/prices`` gives dual_prices over a forecast by default, and at most.
FORECAST_TIME_LIMIT = 10.0
MAX_FORECAST_TIME_LIMIT = 60.0
#: The largest price ``PUT /v1/prices`` takes: far above any unit's cost, far below where sums of costs overflow.
MAX_PRICE = 1e12


class ServiceError(Exception):
    """An answer other than success: HTTP status, message and the problems (``field``, ``reason``)."""

    def __init__(self, status: int, message: str, problems: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []

    @classmethod
    def of(cls, exc: ValidationError, status: int = 422, prefix: str = "") -> ServiceError:
        """The answer for a validation error: each problem's field as a JSON path (``prefix`` before it)."""
        problems = []
        for p in exc.problems:
            if isinstance(exc, AdapterError):
                field = p.field if p.field not in ("$", "<root>") else ""
            else:
                field = p.field if p.row is None else f"{p.row}.{p.field}"
            problems.append({"field": f"{prefix}{'.' if prefix and field else ''}{field}" or "$",
                             "reason": p.reason})
        return cls(status, f"{len(problems)} problem(s) in the request", problems)


def decode(body: bytes) -> Any:
    """The JSON document of a body; a 400 when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:  # ValueError covers an integer past the int-to-text limit
        raise ServiceError(400, f"the body is not JSON ({exc})", [{"field": "$", "reason": "not valid JSON"}]) \
            from None
    except RecursionError:
        raise ServiceError(400, "the body is not readable JSON: arrays and objects nest too deeply",
                           [{"field": "$", "reason": "nests too deeply"}]) from None


def _raise(r: Reader) -> None:
    if r.problems:
        raise ServiceError.of(AdapterError(r.problems))


class Operations:
    """The endpoints' work against one router (see the module docstring).

    Parameters
    ----------
    router : Router
        With a durable store; it is the state every endpoint reads and changes.
    metrics : Metrics
    """

    def __init__(self, router: Router, metrics: Metrics):
        self.router = router
        self.metrics = metrics
        self.platforms = Platforms(router)
        self._timers = {}
        metrics.watch_stock(router.stock_view)

    # ------------------------------------------------------------------ helpers
    def timed(self, operation: str, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with its latency in ``sourcewise_routing_duration_seconds`` and the router's
        errors turned into answers (nothing changed when they are raised)."""
        timer = self._timers.get(operation)
        if timer is None:
            timer = self._timers[operation] = self.metrics.routing.labels(operation)
        t = time.perf_counter()
        try:
            return fn(*args)
        except OrderConflict as exc:
            raise ServiceError.of(exc, 409) from None
        except HoldError as exc:
            raise ServiceError(409, str(exc).strip("'\"")) from None
        except ReservationError as exc:
            raise ServiceError(409, str(exc).strip("'\"")) from None
        except AdapterError as exc:
            raise ServiceError.of(exc) from None
        except ValidationError as exc:
            raise ServiceError.of(exc) from None
        except StoreError as exc:
            raise ServiceError(503, f"the ledger cannot be written: {exc}") from None
        finally:
            timer.observe(time.perf_counter() - t)

    def counted(self, status: str) -> None:
        self.metrics.decisions.labels(status).inc()

    def _bound(self, payload: Any, path: str = "", platform: str = "generic") -> Bound:
        """``payload`` bound to ``platform``'s catalog; its problems (under ``path``) as a 422."""
        try:
            return self.platforms.parse(platform, payload)
        except AdapterError as exc:
            raise ServiceError.of(exc, prefix=path) from None

    def _decide(self, bound: Bound) -> Decision | None:
        """Route a bound order; ``None`` when the payload held no order to route (nothing is reserved)."""
        return self.timed("route", self.router.route, bound.order) if bound.order is not None else None

    def _render(self, bound: Bound, decision: Decision | None) -> dict[str, Any]:
        out = self.platforms.generic.render(bound, decision, self.router)
        self.counted(out["status"])
        return out

    def _known(self, order_id: str) -> None:
        """A 404 for an id the ledger never saw (and no order holds)."""
        if self.router.decision(order_id) is None and not self.router.history(order_id):
            raise ServiceError(404, f"no order {order_id!r}")

    # ------------------------------------------------------------------ platforms
    def platform_route(self, platform: str, payload: Any) -> dict[str, Any]:
        """Route a platform's order payload; the platform's answer (its problems as a 422)."""
        return self.platform_answer(platform, self._bound(payload, platform=platform))

    def platform_answer(self, platform: str, bound: Bound) -> dict[str, Any]:
        """Route an order a platform's adapter bound and render the platform's answer, counting its decision."""
        decision = self._decide(bound)
        if decision is not None:
            self.counted(str(decision.status))
        return self.platforms.render(platform, bound, decision)

    # ------------------------------------------------------------------ /v1
    def route(self, body: bytes) -> dict[str, Any]:
        """``POST /v1/route``: one order (its decision) or ``{"orders": [...]}`` / a list (all decisions).

        A list is checked whole before anything is routed; ids the router
        holds already answer with their decision (the same content) or a
        409, and the others are routed in order (each one's stock gone for
        the next). When the router refuses one of them, those this list
        routed are released again and the refusal is the answer: a list
        reserves all of its orders or none.
        """
        doc = decode(body)
        if not (isinstance(doc, list) or isinstance(doc, dict) and "orders" in doc):
            bound = self._bound(doc)
            return self._render(bound, self._decide(bound))
        r = Reader("generic", "orders")
        items, prefix = (r.take(doc, "orders", "", "list") or [], "orders") if isinstance(doc, dict) else (doc, "")
        if len(items) > MAX_BATCH:
            r.fail(prefix or "$", f"at most {MAX_BATCH} orders per request, got {len(items)}")
        _raise(r)
        bounds: list[Bound] = []
        problems: list[dict[str, str]] = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            path = f"{prefix}[{i}]"
            try:
                b = self._bound(item, path)
            except ServiceError as exc:
                problems.extend(exc.problems)
                continue
            if b.order_id in seen:
                problems.append({"field": f"{path}.order_id", "reason": f"duplicate order_id {b.source.raw_id!r}"})
            seen.add(b.order_id)
            bounds.append(b)
        if problems:
            raise ServiceError(422, f"{len(problems)} problem(s) in the request", problems)
        router = self.router
        # ids the router holds answer with their decision (or a conflict) and change nothing: first
        known = {b.order_id: self.timed("route", router.route, b.order) for b in bounds
                 if b.order is not None and router.decision(b.order_id) is not None}
        decisions: list[Decision | None] = []
        routed: list[str] = []
        try:
            for b in bounds:
                if b.order is None or b.order_id in known:
                    decisions.append(known.get(b.order_id))
                    continue
                decisions.append(self.timed("route", router.route, b.order))
                routed.append(b.order_id)
        except ServiceError:
            for oid in routed:  # all or nothing: give back what this list reserved before the refusal
                router.release(oid)
            raise
        return {"schema": "sourcewise.decisions/1",
                "decisions": [self._render(b, d) for b, d in zip(bounds, decisions, strict=True)]}

    def promise(self, body: bytes) -> dict[str, Any]:
        """``POST /v1/promise``: what route would decide, the pickup stores and same-day, reserving nothing."""
        bound = self._bound(decode(body))
        if bound.order is None:
            return {"order_id": bound.source.raw_id, "ship": self.platforms.generic.render(bound, None, self.router),
                    "pickup": [], "same_day": None}
        p = self.timed("promise", self.router.promise, bound.order)
        return {
            "order_id": bound.source.raw_id,
            "ship": self.platforms.generic.render(bound, p.ship, self.router),
            "pickup": [{"node_id": o.node_id, "distance_km": o.distance_km, "ready_days": o.ready_days,
                        "ready_date": o.ready_date.isoformat()} for o in p.pickup],
            "same_day": None if p.same_day is None else {
                "node_id": p.same_day.node_id, "distance_km": p.same_day.distance_km,
                "promised_days": p.same_day.promised_days, "promised_date": p.same_day.promised_date.isoformat()},
        }

    def hold(self, body: bytes) -> dict[str, Any]:
        """``POST /v1/holds``: ``{"order": <order>, "ttl_s": seconds}``; the decision and ``expires_at``."""
        doc = decode(body)
        r = Reader("generic", "hold")
        d = r.as_obj(doc, "$")
        _raise(r)
        ttl = r.take(d, "ttl_s", "", "num", lo=0.0)
        if ttl is not None and not 0 < ttl <= MAX_TTL_S:
            r.fail("ttl_s", f"must be more than 0 and at most {MAX_TTL_S:.0f} seconds, got {ttl!r}")
        order = r.take(d, "order", "", "obj")
        problems = [{"field": p.field, "reason": p.reason} for p in r.problems]
        bound = None
        if order is not None:
            try:
                bound = self._bound(order, "order")
            except ServiceError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ServiceError(422, f"{len(problems)} problem(s) in the request", problems)
        assert bound is not None
        if bound.order is None:
            out = self._render(bound, None)
            out["expires_at"] = None
            return out
        decision = self.timed("hold", self.router.hold, bound.order, ttl)
        out = self._render(bound, decision)
        out["expires_at"] = self.router.hold_expiry(bound.order_id)
        return out

    def order_answer(self, order_id: str, state: str, decision: Decision | None) -> dict[str, Any]:
        """The answer of release, commit and reroute."""
        if decision is not None:
            self.counted(str(decision.status))
        return {"order_id": order_id, "state": state,
                "decision": None if decision is None else render_decision(decision)}

    def release(self, order_id: str) -> dict[str, Any]:
        """``POST /v1/orders/{id}/release``: give the order's stock back."""
        self._known(order_id)
        return self.order_answer(order_id, "released", self.timed("release", self.router.release, order_id))

    def commit(self, order_id: str) -> dict[str, Any]:
        """``POST /v1/orders/{id}/commit``: the order shipped; its reserved units leave on-hand."""
        self._known(order_id)
        return self.order_answer(order_id, "committed", self.timed("commit", self.router.commit, order_id))

    def reroute(self, order_id: str, body: bytes) -> dict[str, Any]:
        """``POST /v1/orders/{id}/reroute``: ``{"node_id", "lines"?, "shortfall"?}``: re-source what a node could not pick."""
        node_id, lines, shortfall = self._reroute_request(body)
        self._known(order_id)
        decision = self.timed("reroute", self.router.reroute, order_id, node_id, lines, shortfall)
        out = self.order_answer(order_id, "open", decision)
        out["rerouted_from"] = node_id
        return out

    def _reroute_request(self, body: bytes) -> tuple[str, list[str] | None, int | dict[str, int] | None]:
        r = Reader("generic", "reroute")
        d = r.as_obj(decode(body), "$")
        _raise(r)
        node_id = r.take(d, "node_id", "", "id")
        if node_id is not None and str(node_id) not in self.router.network.node_index:
            r.fail("node_id", f"unknown node {node_id!r}")
        lines = r.take(d, "lines", "", "list", required=False)
        keys = None
        if lines is not None:
            keys = [str(v) for i, x in enumerate(lines) if (v := r.as_id(x, f"lines[{i}]")) is not None]
        raw = d.get("shortfall")
        shortfall: int | dict[str, int] | None = None
        if isinstance(raw, dict):
            shortfall = {}
            for sku, v in raw.items():
                q = r.as_int(v, f"shortfall.{sku}")
                if q is not None:
                    shortfall[sku] = q
        elif raw is not None:
            shortfall = r.take(d, "shortfall", "", "int")
        _raise(r)
        return str(node_id), keys, shortfall

    def adjust(self, body: bytes) -> dict[str, Any]:
        """``POST /v1/stock/adjustments``: ``{"adjustments": [{"node_id", "sku", "kind", "qty"}]}``, all or none.

        ``kind`` is one of :data:`ADJUSTMENT_KINDS`. A decrease takes at most
        the units open orders do not reserve (the oversell guard); ``applied``
        says what each row changed.
        """
        rows, entries, deltas = self._adjust_request(body)
        applied = self.timed("adjust", self.router.adjust_stock_many, entries, deltas)
        return self.adjust_answer(rows, applied, deltas)

    def adjust_answer(self, rows: list[dict[str, Any]], applied: np.ndarray,
                      deltas: np.ndarray | None = None) -> dict[str, Any]:
        """The answer of an adjustment; with the ``deltas`` asked, the units withheld are counted."""
        if deltas is not None:
            withheld = int(np.sum(np.abs(deltas) - np.abs(applied)))
            if withheld > 0:
                self.metrics.withheld.inc(withheld)
        return {"adjustments": [{**row, "applied": int(a)} for row, a in zip(rows, applied.tolist(), strict=True)]}

    def _adjust_request(self, body: bytes) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
        r = Reader("generic", "adjustments")
        d = r.as_obj(decode(body), "$")
        _raise(r)
        items = r.take(d, "adjustments", "", "list", nonempty=True)
        if items is not None and len(items) > MAX_BATCH:
            r.fail("adjustments", f"at most {MAX_BATCH} rows per request, got {len(items)}")
        _raise(r)
        inv, net = self.router.inventory, self.router.network
        rows, entries, wanted = [], [], []
        for _, path, a in r.objects(*r.elements(d, "adjustments")):
            node_id = r.take(a, "node_id", path, "id")
            sku = r.take(a, "sku", path, "str")
            kind = r.take(a, "kind", path, "str")
            qty = r.take(a, "qty", path, "int", lo=0, hi=2**62)
            if kind is not None and kind not in ADJUSTMENT_KINDS:
                r.fail(f"{path}.kind", f"must be one of {', '.join(ADJUSTMENT_KINDS)}, got {kind!r}")
            if node_id is not None and str(node_id) not in net.node_index:
                r.fail(f"{path}.node_id", f"unknown node {node_id!r}")
            elif sku is not None and sku not in net.sku_index:
                r.fail(f"{path}.sku", f"unknown sku {sku!r}")
            elif node_id is not None and sku is not None and inv.entry(str(node_id), sku) < 0:
                r.fail(f"{path}", f"no inventory entry for {sku} at {node_id}")
            if None in (node_id, sku, kind, qty) or r.problems:
                continue
            rows.append({"node_id": str(node_id), "sku": sku, "kind": kind, "qty": qty})
            entries.append(inv.entry(str(node_id), sku))
            wanted.append((kind, qty))
        _raise(r)
        e = np.asarray(entries, np.int64)
        # a count sets on-hand: its change is the count less on-hand now (a copy of the books, only then)
        on_hand = self.router.stock_view().on_hand if any(k == "count" for k, _ in wanted) else None
        deltas, now = [], {}
        for j, (kind, qty) in zip(entries, wanted, strict=True):
            level = now.get(j, int(on_hand[j]) if on_hand is not None else 0)
            delta = qty if kind == "receipt" else -qty if kind in ("sale", "shrink") else qty - level
            now[j] = level + delta
            deltas.append(delta)
        return rows, e, np.asarray(deltas, np.int64)

    def stock(self, node_id: str | None, sku: str | None) -> dict[str, Any]:
        """``GET /v1/stock``: every stocked entry of a node, a SKU, or one pair."""
        net, inv = self.router.network, self.router.inventory
        problems = []
        if node_id is None and sku is None:
            problems.append({"field": "node_id", "reason": "give node_id, sku or both"})
        if node_id is not None and node_id not in net.node_index:
            problems.append({"field": "node_id", "reason": f"unknown node {node_id!r}"})
        if sku is not None and sku not in net.sku_index:
            problems.append({"field": "sku", "reason": f"unknown sku {sku!r}"})
        if problems:
            raise ServiceError(422, f"{len(problems)} problem(s) in the query", problems)
        if sku is not None:
            s = net.sku_index[sku]
            sel = np.arange(inv.sku_ptr[s], inv.sku_ptr[s + 1])
        else:
            sel = np.arange(inv.nnz)
        if node_id is not None:
            sel = sel[inv.node[sel] == net.node_index[node_id]]
        view = self.router.stock_view()
        on_hand, reserved, safety = view.on_hand[sel], view.reserved[sel], view.safety[sel]
        atp = np.maximum(on_hand - safety - reserved, 0)
        nodes, skus = [n.node_id for n in net.nodes], [k.sku for k in net.skus]
        sku_of = self._sku_of_entry(sel)
        return {"stock": [
            {"node_id": nodes[n], "sku": skus[k], "on_hand": int(a), "reserved": int(b), "safety_stock": int(c),
             "atp": int(d)}
            for n, k, a, b, c, d in zip(inv.node[sel].tolist(), sku_of.tolist(), on_hand.tolist(),
                                        reserved.tolist(), safety.tolist(), atp.tolist(), strict=True)]}

    def _sku_of_entry(self, sel: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.router.inventory.sku_ptr, sel, side="right") - 1

    def order(self, order_id: str) -> dict[str, Any]:
        """``GET /v1/orders/{id}``: the order's state, its decision and every ledger entry about it."""
        router = self.router
        decision = router.decision(order_id)
        history = router.history(order_id)
        if decision is None and not history:
            raise ServiceError(404, f"no order {order_id!r}")
        if router.is_open(order_id):
            state = "held" if router.hold_expiry(order_id) is not None else "open"
        elif decision is not None:
            state = "committed"
        else:
            state = {"release": "released", "expire": "expired"}.get(history[-1].kind, history[-1].kind)
        return {
            "order_id": order_id, "state": state,
            "decision": None if decision is None else render_decision(decision),
            "expires_at": router.hold_expiry(order_id),
            "history": [{"seq": e.seq, "at": e.at.isoformat(), "kind": e.kind, "why": e.why} for e in history],
        }

    # ------------------------------------------------------------------ dual prices
    def prices(self) -> dict[str, Any]:
        """``GET /v1/prices``: the dual prices the router routes with, the entries priced above 0.

        ``applies`` says whether routing uses them: only the ``dual`` strategy
        adds them to unit costs, and the served policy's strategy is the one
        every route call uses.
        """
        router = self.router
        p = router.dual_prices
        net, inv = router.network, router.inventory
        sel = np.flatnonzero(p > 0)
        nodes, skus = [n.node_id for n in net.nodes], [k.sku for k in net.skus]
        return {"strategy": router.policy.strategy, "applies": router.policy.strategy == "dual",
                "entries": int(inv.nnz), "priced": int(len(sel)),
                "prices": [{"node_id": nodes[n], "sku": skus[k], "price": float(v)}
                           for n, k, v in zip(inv.node[sel].tolist(), self._sku_of_entry(sel).tolist(),
                                              p[sel].tolist(), strict=True)]}

    def prices_request(self, body: bytes) -> tuple[str, Any, float]:
        """Check a ``PUT /v1/prices`` body: ``("prices", ndarray, 0)`` or ``("forecast", [Order], time_limit)``.

        ``{"prices": [{"node_id", "sku", "price"}]}`` replaces every price (the
        entries it leaves out cost 0); ``{"forecast": [orders], "time_limit"?}``
        asks for the prices :func:`~sourcewise.engine.optimize.dual_prices` computes over
        those orders (:meth:`forecast_prices`). Every bad field is a 422 before anything changes.
        """
        r = Reader("generic", "prices")
        d = r.as_obj(decode(body), "$")
        _raise(r)
        given = [k for k in ("prices", "forecast") if k in d]
        if len(given) != 1:
            r.fail("$", "give either prices (a list of {node_id, sku, price}) or forecast (a list of orders)"
                        + (", not both" if given else ""))
        for k in d:
            if k not in ("prices", "forecast", "time_limit"):
                r.fail(k, "unknown field; the fields are prices, or forecast and time_limit")
        _raise(r)
        if given[0] == "forecast":
            return "forecast", *self._forecast_request(r, d)
        if "time_limit" in d:
            r.fail("time_limit", "is for a forecast only")
        r.take(d, "prices", "", "list")
        _raise(r)
        inv, net = self.router.inventory, self.router.network
        prices = np.zeros(inv.nnz)
        seen: dict[int, str] = {}
        for _, path, a in r.objects(*r.elements(d, "prices")):
            node_id = r.take(a, "node_id", path, "id")
            sku = r.take(a, "sku", path, "str")
            price = r.take(a, "price", path, "num", lo=0.0, hi=MAX_PRICE)
            for k in a:
                if k not in ("node_id", "sku", "price"):
                    r.fail(f"{path}.{k}", "unknown field; a price is {node_id, sku, price}")
            if node_id is not None and str(node_id) not in net.node_index:
                r.fail(f"{path}.node_id", f"unknown node {node_id!r}")
            elif sku is not None and sku not in net.sku_index:
                r.fail(f"{path}.sku", f"unknown sku {sku!r}")
            elif node_id is not None and sku is not None:
                e = inv.entry(str(node_id), sku)
                if e < 0:
                    r.fail(path, f"no inventory entry for {sku} at {node_id}")
                elif e in seen:
                    r.fail(path, f"repeats {seen[e]}: one price per node and sku")
                else:
                    seen[e] = path
                    if price is not None:
                        prices[e] = price
        _raise(r)
        return "prices", prices, 0.0

    def _forecast_request(self, r: Reader, d: dict[str, Any]) -> tuple[list[Any], float]:
        limit = r.take(d, "time_limit", "", "num", required=False, lo=0.0)
        if limit is None:  # absent or null; a bad value has its problem recorded already
            limit = FORECAST_TIME_LIMIT
        elif not 0 < limit <= MAX_FORECAST_TIME_LIMIT:
            r.fail("time_limit", f"must be more than 0 and at most {MAX_FORECAST_TIME_LIMIT:g} seconds, "
                                 f"got {limit!r}")
        items = r.take(d, "forecast", "", "list", nonempty=True)
        if items is not None and len(items) > MAX_BATCH:
            r.fail("forecast", f"at most {MAX_BATCH} orders, got {len(items)}")
        _raise(r)
        orders, problems, seen = [], [], set()
        for i, item in enumerate(items):
            try:
                b = self._bound(item, f"forecast[{i}]")
            except ServiceError as exc:
                problems.extend(exc.problems)
                continue
            if b.order_id in seen:
                problems.append({"field": f"forecast[{i}].order_id",
                                 "reason": f"duplicate order_id {b.source.raw_id!r}"})
            seen.add(b.order_id)
            if b.order is not None:
                orders.append(b.order)
        if not problems and not orders:
            problems.append({"field": "forecast", "reason": "no order of the forecast has a line to price"})
        if problems:
            raise ServiceError(422, f"{len(problems)} problem(s) in the request", problems)
        return orders, float(limit)

    def forecast_prices(self, orders: list[Any], time_limit: float) -> np.ndarray:
        """The prices :func:`~sourcewise.engine.optimize.dual_prices` computes over ``orders`` from the stock now.

        Runs the LP (up to ``time_limit`` seconds) without the router's lock:
        the service calls it off the event loop. A refusal (the prices failed
        their check on the forecast) is a 422 with its reason.
        """
        from sourcewise.engine.optimize import dual_prices

        router = self.router
        try:
            return dual_prices(orders, router.network, router.snapshot(), router.policy, time_limit)
        except ValidationError as exc:
            out = ServiceError.of(exc, prefix="forecast")
            raise ServiceError(422, "no dual prices from this forecast: " + "; ".join(
                p["reason"] for p in out.problems[:3]), out.problems) from None

    def set_prices(self, prices: np.ndarray, source: str) -> dict[str, Any]:
        """``PUT /v1/prices``: set the router's dual prices (recorded in its ledger); the answer of GET."""
        self.timed("prices", self.router.set_dual_prices, prices)
        return {**self.prices(), "source": source}

    # ------------------------------------------------------------------ after a crash
    def settle(self, op: str, seq: int, order_id: str | None, body: bytes) -> dict[str, Any] | None:
        """The answer a call cut short by a crash would have given, rebuilt from the ledger; ``None``
        when the ledger holds no change of that call after ``seq`` (it never happened).

        Only the calls that are not safe to repeat need it (see :mod:`.idempotency`).
        """
        if op in ("release", "commit", "reroute"):
            assert order_id is not None
            history = self.router.history(order_id)
            last: Decision | None = None
            for e in history:
                if e.seq > seq and e.kind == op:
                    decision = e.decision if op == "reroute" else last
                    out = self.order_answer(order_id, {"release": "released", "commit": "committed"}.get(op, "open"),
                                            decision)
                    if op == "reroute":
                        out["rerouted_from"] = self._reroute_request(body)[0]
                    return out
                if e.kind in ("route", "reroute"):
                    last = e.decision
            return None
        if op == "adjust":
            rows, entries, _ = self._adjust_request(body)
            for e in self.router.ledger_entries(seq):
                if e.kind != "adjust":
                    continue
                ch = decode_body(e.body).changes
                if ch.entries == entries.tolist():
                    return self.adjust_answer(rows, np.asarray(ch.on_hand, np.int64))
            return None
        raise ValueError(f"no settling for {op!r}")
