"""Geography checks (engine.geography): foreign and out-of-reach destinations are flagged, not routed silently."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sourcewise.engine.adapters.generic import render_decision
from sourcewise.engine.geography import GeoCheck
from sourcewise.engine.geography import countries
from sourcewise.engine.geography import service_radius_km
from sourcewise.engine.router import Router
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from sourcewise.models import Tier
from sourcewise.models.decision import FLAG_SEP
from sourcewise.models.policy import ServicePolicy

PARIS = (48.86, 2.35)
NEW_YORK = (40.71, -74.0)


def _router(policy: Policy | None = None) -> Router:
    net = Network.build([Node("DC-EAST", "warehouse", 40.0, -75.2), Node("ST-NYC", "store", 40.75, -73.99)],
                        [Sku("SKU-1", weight_kg=0.4, price=25.0)])
    inv = Inventory.from_records(net, [StockRecord("DC-EAST", "SKU-1", 40)])
    return Router(net, inv, policy or Policy())


def _order(oid: str, at: tuple[float, float]) -> Order:
    return Order(oid, (OrderLine("1", "SKU-1", 1),), lat=at[0], lon=at[1])


def test_countries_of_known_places():
    got = countries(np.array([PARIS[0], NEW_YORK[0], 43.65, 0.0]), np.array([PARIS[1], NEW_YORK[1], -79.38, -140.0]))
    assert got.tolist() == ["FR", "US", "CA", ""]  # the last one is the open Pacific: no town near


def test_a_french_destination_is_flagged_in_the_decision_and_its_rendering():
    router = _router()
    home = router.route(_order("NY", NEW_YORK))
    assert home.flags == ()
    far = router.route(_order("FR", PARIS))
    assert len(far.flags) == 1 and "in FR is outside every node's country (US)" in far.flags[0]
    assert "estimates" in far.flags[0]
    assert router.route(_order("FR", PARIS)).flags == far.flags  # the same decision again
    assert far.flags[0] in render_decision(far)["notes"]


def test_beyond_every_service_radius_is_flagged():
    policy = Policy(tiers=(Tier("near", ("warehouse", "store"), max_distance_km=500.0),),
                    service=ServicePolicy(transit_bands=((300.0, 1.0), (3000.0, 3.0))))
    router = _router(policy)
    assert service_radius_km(router.network, policy).tolist() == [500.0, 500.0]
    chicago = router.route(_order("CHI", (41.88, -87.63)))  # about 1,000 km from both nodes
    assert any("service radius" in f for f in chicago.flags)
    assert not any("country" in f for f in chicago.flags)
    assert router.route(_order("NY", NEW_YORK)).flags == ()


@given(st.floats(24.5, 49.0), st.floats(-124.0, -67.0))
def test_points_near_home_nodes_are_never_beyond_reach(lat, lon):
    check = GeoCheck(_router().network, Policy())
    outside, beyond, _ = check.check_many(np.array([lat]), np.array([lon]))
    assert not beyond[0]  # the default policy reaches the whole globe
    # every flag sentence names what it found
    for f in check.flags(lat, lon):
        assert "estimates" in f
    assert outside[0] == bool(check.flags(lat, lon))


def _exact(check: GeoCheck, lat: float, lon: float) -> tuple[bool, bool]:
    outside, beyond, _ = check.check_many(np.array([lat]), np.array([lon]))
    return bool(outside[0]), bool(beyond[0])


_NEAR = Policy(tiers=(Tier("near", ("warehouse", "store"), max_distance_km=800.0),),
               service=ServicePolicy(transit_bands=((300.0, 1.0), (3000.0, 3.0))))


@given(st.floats(-60.0, 75.0), st.floats(-179.9, 179.9), st.booleans())
def test_cleared_cells_agree_with_the_exact_check(lat, lon, near):
    """A cell cleared whole (the fast path) never hides a flag the exact check would raise."""
    check = GeoCheck(_router(_NEAR if near else None).network, _NEAR if near else Policy())
    flags = check.flags(lat, lon)
    outside, beyond = _exact(check, lat, lon)
    assert bool(flags) == (outside or beyond)
    assert any("country" in f for f in flags) == outside
    assert any("service radius" in f for f in flags) == beyond


def test_border_towns_and_cells_near_the_border():
    # Brownsville (US) and Matamoros (MX) are 7 km apart: cells there are not cleared whole
    check = GeoCheck(_router().network, Policy())
    for lat, lon in ((25.90, -97.50), (25.87, -97.50), (32.54, -117.03), (49.0, -123.07)):
        outside, beyond = _exact(check, lat, lon)
        assert bool(check.flags(lat, lon)) == (outside or beyond)


def test_batch_tables_and_their_decisions_carry_the_flags():
    """route_many's orders table (orders.csv) and the decisions read from it say what route() says."""
    router = _router()
    orders = [_order("FR", PARIS), _order("US", NEW_YORK)]
    result = router.route_many(orders)
    flags = dict(zip(result.orders["order_id"], result.orders["flags"], strict=True))
    assert "country" in flags["FR"] and flags["US"] == ""
    assert router.decision("FR").flags == tuple(flags["FR"].split(FLAG_SEP))
    assert router.decision("US").flags == ()
    assert router.decision("FR").flags == _router().route(_order("FR", PARIS)).flags
