"""The platform endpoints: Shopify's order webhook, commercetools' API Extension, Magento's source selection.

Each platform routes against the service's one router. Its catalog is the
router's network (:meth:`Catalog.from_models
<sourcewise.engine.adapters.records.Catalog.from_models>`): the platform's
location ids must be node ids of the scenario and its SKUs the scenario's
SKUs, as below; answers name locations by the same ids (Shopify's all-digit
location ids as JSON numbers, as Shopify writes them).

=================  ==========================  ==========================
platform           a node id is                a SKU is
=================  ==========================  ==========================
Shopify            a location id (``123`` of   an inventory item id
                   ``gid://shopify/Location``)
commercetools      a channel id                a variant's ``sku``
Magento            a source code               a product ``sku``
=================  ==========================  ==========================

Request and answer shapes
-------------------------
``POST /webhooks/shopify/orders-create``
    The order as the ``orders/create`` webhook sends it, with its
    ``fulfillment_orders`` (the REST ``GET .../fulfillment_orders.json``
    list) beside the order fields, or ``{"order": ..., "fulfillment_orders":
    [...]}``. Answer: the Shopify adapter's ``moves`` (fulfillment-order move
    request bodies), ``unchanged``, ``unfilled``.
``POST /extensions/commercetools``
    An API Extension input, ``{"action": "Create", "resource": {"typeId":
    "order", "id": ..., "obj": <Order>}}``. Answer: ``{"actions": [...]}``,
    the ``addDelivery`` update actions of the routed order (one per channel
    shipping); an ``Update`` action, or another resource type, gets
    ``{"actions": []}``. Bad input gets commercetools' own failure shape,
    ``400 {"errors": [{"code": "InvalidInput", "message": ...}]}``.
``POST /magento/source-selection``
    The body of Magento's ``source-selection-algorithm-result`` request.
    Answer: ``{"source_selection_items": [...], "shippable": bool}``.
"""

from __future__ import annotations

from typing import Any

from sourcewise.engine.adapters import get_adapter
from sourcewise.engine.adapters.base import Adapter
from sourcewise.engine.adapters.reader import AdapterError
from sourcewise.engine.adapters.records import Bound
from sourcewise.engine.adapters.records import Catalog
from sourcewise.engine.router import Router

__all__ = ["Platforms"]


class Platforms:
    """One adapter and one catalog per platform, over ``router``'s network and live stock."""

    def __init__(self, router: Router):
        self.router = router
        self.generic = get_adapter("generic")
        self._adapters: dict[str, Adapter] = {"generic": self.generic}
        self._catalogs: dict[str, Catalog] = {}

    def adapter(self, name: str) -> Adapter:
        """The adapter of a platform (made once)."""
        a = self._adapters.get(name)
        if a is None:
            a = self._adapters[name] = get_adapter(name)
        return a

    def catalog(self, name: str) -> Catalog:
        """The platform's catalog over the router's network (made once)."""
        c = self._catalogs.get(name)
        if c is None:
            net = self.router.network
            raw = {n: int(n) for n in net.node_index if name == "shopify" and n.isdigit() and n.isascii()}
            c = self._catalogs[name] = Catalog.from_models(name, net, self.router.inventory, raw)
        return c

    def parse(self, name: str, payload: Any) -> Bound:
        """A platform order payload bound to the catalog.

        Raises
        ------
        AdapterError
            Every problem of the payload; nothing is reserved.
        """
        return self.adapter(name).parse_order(payload, self.catalog(name))

    def render(self, name: str, bound: Bound, decision: Any) -> dict[str, Any]:
        """The platform's answer for a decision, with stock as the router holds it now."""
        return self.adapter(name).render(bound, decision, self.router)

    @staticmethod
    def shopify_order(doc: Any) -> Any:
        """A webhook body as the adapter reads it: the bare order (``orders/create``) or ``{"order": ...}``."""
        if isinstance(doc, dict) and "order" not in doc and "line_items" in doc:
            return {"order": {k: v for k, v in doc.items() if k != "fulfillment_orders"},
                    "fulfillment_orders": doc.get("fulfillment_orders")}
        return doc

    @staticmethod
    def commercetools_order(doc: Any) -> tuple[Any, bool]:
        """``(order, route?)`` of an API Extension input: the ``resource.obj`` of an order's ``Create``.

        Raises
        ------
        AdapterError
            When the input is not an extension input object.
        """
        from sourcewise.engine.adapters.reader import Reader

        r = Reader("commercetools", "extension")
        d = r.as_obj(doc, "$")
        r.raise_if_any()
        action = r.take(d, "action", "", "str")
        resource = r.take(d, "resource", "", "obj")
        r.raise_if_any()
        type_id = r.take(resource, "typeId", "resource", "str")
        r.raise_if_any()
        if action != "Create" or type_id != "order":
            return None, False
        obj = r.take(resource, "obj", "resource", "obj")
        r.raise_if_any()
        return obj, True


def ct_errors(exc: AdapterError) -> dict[str, Any]:
    """commercetools' extension failure body for an adapter error: one ``InvalidInput`` per problem."""
    return {"errors": [{"code": "InvalidInput", "message": f"{p.field}: {p.reason}"} for p in exc.problems]}
