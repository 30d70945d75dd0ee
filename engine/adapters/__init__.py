"""OMS adapters: platform payloads in, routing decisions out in the platform's shape.

One module per platform, all implementing :class:`~sourcewise.engine.adapters.base.Adapter`
(the modules they share are listed in :mod:`~sourcewise.engine.adapters.base`):

=================  ==========================================================
``shopify``        REST Admin order + fulfillment orders, locations,
                   inventory levels -> fulfillment-order move requests
``commercetools``  Order, Channels, InventoryEntries -> line-item supply
                   channel assignments + ``addDelivery`` actions
``magento``        MSI source-selection request, sources, source items ->
                   source-selection result
``generic``        Sourcewise's documented JSON schema (``schema.json``)
=================  ==========================================================

Typical use in a service::

    from sourcewise.engine.adapters import Session

    session = Session("shopify", locations_json, inventory_json, policy=policy)
    response = session.route(order_json)         # reserves stock
    moves = session.reject(order_id, location_id)  # a location could not fulfil

and for a one-off payload :func:`route_payload`. Every parse error is an
:class:`AdapterError` naming the JSON path of each bad value.
"""

from __future__ import annotations

from sourcewise.engine.adapters.base import Adapter
from sourcewise.engine.adapters.reader import AdapterError
from sourcewise.engine.adapters.records import Bound
from sourcewise.engine.adapters.records import Catalog
from sourcewise.engine.adapters.session import AdapterConflict
from sourcewise.engine.adapters.session import Session
from sourcewise.engine.adapters.session import route_payload

PLATFORMS: tuple[str, ...] = ("shopify", "commercetools", "magento", "generic")

__all__ = [
    "PLATFORMS", "Adapter", "AdapterConflict", "AdapterError", "Bound", "Catalog", "Session", "get_adapter", "route_payload",
]


def get_adapter(name: str, **options: object) -> Adapter:
    """A fresh adapter for a platform name (see :data:`PLATFORMS`).

    Modules are imported on demand so that using one platform does not load the others.

    Raises
    ------
    ValueError
        For an unknown platform.
    """
    if name == "shopify":
        from sourcewise.engine.adapters.shopify import ShopifyAdapter as cls
    elif name == "commercetools":
        from sourcewise.engine.adapters.commercetools import CommercetoolsAdapter as cls
    elif name == "magento":
        from sourcewise.engine.adapters.magento import MagentoAdapter as cls
    elif name == "generic":
        from sourcewise.engine.adapters.generic import GenericAdapter as cls
    else:
        raise ValueError(f"unknown platform {name!r}; use one of {', '.join(PLATFORMS)}")
    return cls(**options)  # type: ignore[abstract]
