"""A live adapter: one catalog, one router, orders routed and re-routed as they arrive.

:class:`Session` is how a service uses an adapter; :func:`route_payload` is
the one-off form (``sourcewise adapt``).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

import msgspec

from sourcewise.engine.adapters.base import Adapter
from sourcewise.engine.adapters.reader import AdapterError
from sourcewise.engine.adapters.reader import Reader
from sourcewise.engine.adapters.reader import show
from sourcewise.engine.adapters.records import Bound
from sourcewise.engine.adapters.records import Catalog
from sourcewise.models.decision import Decision
from sourcewise.models.errors import OrderConflict
from sourcewise.models.errors import ValidationError
from sourcewise.models.policy import Policy

__all__ = ["AdapterConflict", "Session", "route_payload"]


class AdapterConflict(AdapterError, OrderConflict):
    """An order payload reuses the id of an order this session routed, with different content.

    Both an :class:`AdapterError` (the session's error contract: every
    payload problem is one) and an
    :class:`~sourcewise.models.errors.OrderConflict` (what the router
    raised); nothing changes.
    """


class Session:
    """An adapter bound to a live :class:`~sourcewise.engine.router.Router` over one catalog.

    This is how a service uses an adapter: load locations and stock once,
    then :meth:`route` each order payload as it arrives and :meth:`reject`
    when a location cannot fulfil.

    Parameters
    ----------
    adapter : Adapter or str
        An adapter or its name (``shopify``, ``commercetools``, ``magento``, ``generic``).
    locations, inventory
        The platform's payloads (parsed JSON).
    policy : Policy, optional
    config : dict, optional
        Location overrides and SKU attributes (see :func:`~sourcewise.engine.adapters.binding.read_config`).
    """

    def __init__(self, adapter: Adapter | str, locations: Any, inventory: Any, *, policy: Policy | None = None,
                 config: Mapping[str, Any] | None = None,
                 sku_attrs: Mapping[str, Mapping[str, Any]] | None = None):
        from sourcewise.engine.adapters import get_adapter

        adapter = get_adapter(adapter) if isinstance(adapter, str) else adapter
        self._attach(adapter, adapter.parse_catalog(locations, inventory, config=config, sku_attrs=sku_attrs),
                     policy)

    def _attach(self, adapter: Adapter, catalog: Catalog, policy: Policy | None) -> None:
        from sourcewise.engine.router import Router

        self.adapter = adapter
        self.catalog = catalog
        self.router = Router(catalog.network, catalog.inventory, policy)
        self._bound: dict[str, Bound] = {}
        self._prune_at = 1024

    @classmethod
    def from_catalog(cls, adapter: Adapter | str, catalog: Catalog, *, policy: Policy | None = None) -> Session:
        """A session over a ready catalog (e.g. :meth:`Catalog.from_models` of a scenario's network)."""
        from sourcewise.engine.adapters import get_adapter

        self = cls.__new__(cls)
        self._attach(get_adapter(adapter) if isinstance(adapter, str) else adapter, catalog, policy)
        return self

    def parse(self, payload: Any) -> Bound:
        """Parse and check an order payload without routing it."""
        return self.adapter.parse_order(payload, self.catalog)

    def route(self, payload: Any, *, strategy: str | None = None) -> dict[str, Any]:
        """Parse, route (reserving stock) and render one order payload.

        Raises
        ------
        AdapterError
            For a malformed payload; nothing is reserved.
        AdapterConflict
            For an order id this session routed with different content (an
            :class:`AdapterError`); nothing changes.
        """
        bound = self.parse(payload)
        return self.render(bound, self.route_bound(bound, strategy=strategy))

    def parse_json(self, data: bytes | str) -> Bound:
        """:meth:`parse` of a payload still in JSON text, as a webhook delivers it: a plain
        one is decoded straight into the adapter's schema (see :meth:`Adapter.parse_order_json`)."""
        return self.adapter.parse_order_json(data, self.catalog)

    def route_json(self, data: bytes | str, *, strategy: str | None = None) -> bytes:
        """:meth:`route` from JSON text to JSON text (UTF-8 bytes): what a webhook handler
        receives and answers, with no Python dict of the payload built on the usual path.

        Raises
        ------
        AdapterError
            For text that is not JSON, a malformed payload, or a reply that
            cannot be encoded (a lone surrogate such as ``"\\ud800"`` in an
            id decodes, but is not UTF-8); nothing is reserved.
        """
        bound = self.parse_json(data)
        order = bound.order
        # whether this call makes the reservation: only then may a failed reply give it back
        fresh = order is not None and self.router.decision(order.order_id) is None
        known = bound.order_id in self._bound
        decision = self.route_bound(bound, strategy=strategy)
        try:
            return msgspec.json.encode(self.render(bound, decision))
        except Exception as exc:
            # the caller never sees the decision: keep no reservation it cannot know about,
            # so that a retry starts from the same state (and fails the same way)
            if fresh and self.router.decision(order.order_id) is decision:
                self.router.release(order.order_id)
            if not known:
                self._bound.pop(bound.order_id, None)
            if not isinstance(exc, UnicodeEncodeError | msgspec.EncodeError):
                raise
            r = Reader(self.adapter.name, "order")
            r.fail("$", f"the reply cannot be encoded as JSON ({exc}); this call reserved nothing")
            r.raise_if_any()
            raise

    def route_bound(self, bound: Bound, *, strategy: str | None = None) -> Decision | None:
        """Route an already parsed order; ``None`` when it has nothing to route.

        Raises
        ------
        AdapterConflict
            For an order id routed before with different content; nothing changes.
        """
        try:
            decision = self.router.route(bound.order, strategy) if bound.order is not None else None
        except OrderConflict as exc:
            r = Reader(self.adapter.name, "order")
            for p in exc.problems:
                r.fail("order_id", p.reason)
            raise AdapterConflict(r.problems) from exc
        bound_ = self._bound
        bound_[bound.order_id] = bound  # kept for reject(): it needs the platform's ids
        if len(bound_) > self._prune_at:
            self._forget_closed()
        return decision

    def _forget_closed(self) -> None:
        """Drop the payloads of orders that are no longer open (released or committed, here or
        on the router directly): only an open order can be rejected, so only its payload is needed.
        Run when the payloads double, so it costs O(1) per order and memory stays O(open orders)."""
        is_open = self.router.is_open
        self._bound = {k: b for k, b in self._bound.items() if is_open(k)}
        self._prune_at = max(1024, 2 * len(self._bound))

    def release(self, order_id: Any) -> Decision:
        """Release an order this session routed (see :meth:`Router.release <engine.router.Router.release>`)
        and forget its payload."""
        return self._close(order_id, self.router.release)

    def commit(self, order_id: Any) -> Decision:
        """Commit an order this session routed (see :meth:`Router.commit <engine.router.Router.commit>`)
        and forget its payload."""
        return self._close(order_id, self.router.commit)

    def _close(self, order_id: Any, how) -> Decision:
        bound = self.bound_of(order_id)
        key = bound.order_id if bound is not None else self.adapter.key_of(order_id)
        decision = how(key)
        self._bound.pop(key, None)
        return decision

    def _key(self, raw: Any) -> str | None:
        """The adapter's key of a caller's id, or ``None`` for one that cannot be text (an
        integer past Python's int-to-text limit, nesting deeper than ``str`` follows): such a
        value is no id of anything here, and must be refused as unknown, not raise."""
        try:
            return self.adapter.key_of(raw)
        except (ValueError, RecursionError):
            return None

    def bound_of(self, order_id: Any) -> Bound | None:
        """The parsed order this session routed under a platform order id, or ``None``.

        Rejections need it: it holds the platform's own ids to answer with.
        """
        key = self._key(order_id)
        if key is None:
            return None
        bound = self._bound.get(key)
        return bound if bound is not None else self._bound.get(str(order_id))

    def render(self, bound: Bound, decision: Decision | None) -> dict[str, Any]:
        """The adapter's response for a decision, with stock as this session's router holds it."""
        return self.adapter.render(bound, decision, self.router)

    def location_id(self, raw: Any) -> str:
        """Node id for a platform location id.

        Raises
        ------
        AdapterError
            When the catalog has no such location.
        """
        key = self._key(raw)
        if key is None or key not in self.catalog.network.node_index:
            r = Reader(self.adapter.name, "rejection")
            r.fail("location", f"unknown location {show(raw)}")
            r.raise_if_any()
        assert key is not None
        return key

    def reject(self, order_id: Any, location: Any, lines: Iterable[Any] | None = None,
               shortfall: int | Mapping[str, int] | None = None, **context: Any) -> dict[str, Any]:
        """A location rejected (part of) an order: re-source it and say what moves where.

        Calls :meth:`Router.reroute <engine.router.Router.reroute>`, which
        releases the rejected location's share, zeroes its available stock
        for those SKUs and routes only the affected lines again.

        Parameters
        ----------
        order_id
            The platform order id as routed.
        location
            The platform id of the rejecting location.
        lines : iterable, optional
            Platform line ids the location rejected; default every line it
            was assigned.
        shortfall : int or dict, optional
            Passed to the router: units the location is short (per SKU, or
            for every SKU) instead of zeroing its available stock.

        Returns
        -------
        dict
            The platform's response for what moved (e.g. Shopify move requests).

        Raises
        ------
        AdapterError
            For an unknown order, location or line; nothing changes.
        """
        r = Reader(self.adapter.name, "rejection")
        bound = self.bound_of(order_id)
        if bound is None:
            r.fail("order_id", f"order {show(order_id)} has not been routed in this session")
            r.raise_if_any()
        assert bound is not None
        node_id = self.location_id(location)
        keys: list[str] | None = None
        if lines is not None and not isinstance(lines, list | tuple | set | frozenset):
            r.fail("lines", f"must be a list of line ids, got {show(lines)}")
            r.raise_if_any()
        if lines is not None:
            keys = []
            for i, raw in enumerate(lines):
                found = self.adapter.line_keys(bound, raw) if self._key(raw) is not None else []
                if not found:
                    r.fail(f"lines[{i}]", f"order {show(order_id)} has no line {show(raw)}")
                keys.extend(found)
        before = self.router.decision(bound.order_id)
        if before is None:
            r.fail("order_id", f"order {show(order_id)} holds no decision")
        r.raise_if_any()
        assigned = {a.line_id for a in before.allocations if a.node_id == node_id}  # type: ignore[union-attr]
        if keys is None:
            keys = sorted(assigned)
        keys = [k for k in keys if k in assigned]
        if not keys:
            out = self.adapter.render_reroute(bound, before, before, node_id, [], self.router, **context)  # type: ignore[arg-type]
            out.setdefault("sourcewise", {}).setdefault("notes", []).append(
                f"location {location} holds none of the rejected lines; nothing to move")
            return out
        from sourcewise.engine.router import ReservationError

        try:
            after = self.router.reroute(bound.order_id, node_id, keys, shortfall)
        except (ReservationError, ValidationError) as exc:
            # the router changes nothing when it refuses; keep the adapter's error contract
            r.fail("order_id", str(exc).strip())
            r.raise_if_any()
            raise
        return self.adapter.render_reroute(bound, before, after, node_id, keys, self.router, **context)


def route_payload(platform: str | Adapter, order: Any, locations: Any, inventory: Any, *,
                  policy: Policy | None = None, config: Mapping[str, Any] | None = None,
                  strategy: str | None = None) -> dict[str, Any]:
    """Route one order payload against one-off locations and inventory payloads.

    What ``python cli.py adapt`` does. Problems in all three documents are
    reported together in one :class:`AdapterError`.
    """
    from sourcewise.engine.adapters import get_adapter
    from sourcewise.engine.router import Router

    adapter = get_adapter(platform) if isinstance(platform, str) else platform
    catalog, bound = adapter.parse(order, locations, inventory, config=config)
    router = Router(catalog.network, catalog.inventory, policy)
    decision = router.route(bound.order, strategy) if bound.order is not None else None
    return adapter.render(bound, decision, router)
