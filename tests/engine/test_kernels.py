"""Each routing kernel against its slow reference twin on random inputs."""

from __future__ import annotations

import numpy as np
import pytest

from sourcewise.engine import _kernels as K
from sourcewise.engine.router import Router
from sourcewise.models.network import unit_vectors
from tests import naive
from tests.conftest import flat_policy, make_inventory, make_network, make_order


def test_distance_matches_haversine(rng):
    lat = rng.uniform(-89, 89, 200)
    lon = rng.uniform(-180, 180, 200)
    xyz = unit_vectors(lat, lon)
    for i in range(50):
        got = K.distance_miles(xyz[i], xyz, np.arange(200))
        want = [naive.haversine_miles(lat[i], lon[i], lat[j], lon[j]) for j in range(200)]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)


def test_proximity_scores_rank_like_distance(rng):
    lat, lon = rng.uniform(25, 49, 30), rng.uniform(-124, -67, 30)
    nlat, nlon = rng.uniform(25, 49, 40), rng.uniform(-124, -67, 40)
    scores = K.proximity_scores(unit_vectors(lat, lon), unit_vectors(nlat, nlon))
    for i in range(30):
        d = [naive.haversine_miles(lat[i], lon[i], nlat[j], nlon[j]) for j in range(40)]
        np.testing.assert_array_equal(np.argsort(-scores[i]), np.argsort(d))


def _atp_dict(inv):
    sku_of = np.repeat(np.arange(inv.network.n_skus), np.diff(inv.sku_ptr))
    atp = inv.atp_array()
    return {(int(n), int(s)): int(a) for n, s, a in zip(inv.node, sku_of, atp, strict=True)}


def _params(rng):
    p = np.zeros(K.N_PARAMS)
    p[K.P_MAX_MILES] = rng.choice([np.inf, 800.0])
    p[K.P_HOUR] = rng.uniform(0, 24)
    p[K.P_REQUIRE_CUTOFF] = rng.integers(2)
    p[K.P_MAX_DAYS] = rng.choice([-1.0, 2.0, 3.0])
    p[K.P_LATE_MODE] = rng.integers(2)
    return p


BANDS = np.array([[300.0, 1.0], [1000.0, 2.0], [2000.0, 3.0], [1e5, 5.0]])


def _ref_eligible(net, n, lat, lon, p, cap_orders, cap_units, cutoff, pdays):
    """Whether node ``n`` may serve a destination, spelled out rule by rule."""
    if cap_orders[n] <= 0 or cap_units[n] <= 0:
        return False
    if p[K.P_REQUIRE_CUTOFF] and p[K.P_HOUR] >= cutoff[n]:
        return False
    miles = naive.haversine_miles(net.lat[n], net.lon[n], lat, lon)
    if miles > p[K.P_MAX_MILES]:
        return False
    km = miles * K.MILE_KM
    transit = next((d for lim, d in BANDS if km <= lim), BANDS[-1, 1])
    lead = pdays[n] + transit + (1 if p[K.P_HOUR] >= cutoff[n] else 0)
    return not (p[K.P_MAX_DAYS] >= 0 and p[K.P_LATE_MODE] == 0 and lead > p[K.P_MAX_DAYS])


@pytest.mark.parametrize("seed", range(4))
def test_gather_matches_reference(seed):
    rng = np.random.default_rng(seed)
    net = make_network(rng, 12, 8, disabled=0.2)
    inv = make_inventory(rng, net)
    mark = np.full(net.n_nodes, -1, np.int64)
    nodef = K.pack_nodes(net)
    cutoff = rng.uniform(8, 24, net.n_nodes)
    pdays = rng.integers(0, 3, net.n_nodes)
    nodef[:, K.NF_CUTOFF] = cutoff
    nodef[:, K.NF_PDAYS] = pdays
    for _ in range(30):
        skus = rng.choice(net.n_skus, size=3, replace=False).astype(np.int64)
        mask = net.usable & (rng.random(net.n_nodes) < 0.8)
        cap_orders = rng.integers(0, 3, net.n_nodes)
        cap_units = rng.integers(0, 4, net.n_nodes)
        lat, lon = rng.uniform(26, 48), rng.uniform(-123, -70)
        p = _params(rng)
        cand, atp, ent, miles, lead = K.gather(
            skus, inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock, inv.reserved, mask, cap_orders,
            cap_units, mark, unit_vectors(np.array([lat]), np.array([lon]))[0], nodef, p, BANDS)
        d = _atp_dict(inv)
        ref = [n for n in naive.candidates(net, d, list(skus))
               if mask[n] and _ref_eligible(net, n, lat, lon, p, cap_orders, cap_units, cutoff, pdays)]
        assert sorted(cand.tolist()) == sorted(ref)
        filtered = p[K.P_MAX_MILES] < np.inf or p[K.P_MAX_DAYS] >= 0
        # distances are computed here only when a filter needs them; otherwise left for the planner
        assert np.isnan(miles).all() != filtered or len(cand) == 0
        for c, n in enumerate(cand):
            if filtered:
                want = naive.haversine_miles(net.lat[n], net.lon[n], lat, lon)
                assert miles[c] == pytest.approx(want, rel=1e-9)
            for g, s in enumerate(skus):
                assert atp[c, g] == min(d.get((int(n), int(s)), 0), cap_units[n])
        assert (mark == -1).all()


def _demand(order, net):
    out: dict[int, int] = {}
    for line in order.lines:
        s = net.sku_index[line.sku]
        out[s] = out.get(s, 0) + line.qty
    return out


@pytest.mark.parametrize("strategy", ["priority", "nearest", "high_stock"])
@pytest.mark.parametrize("seed", range(3))
def test_rule_strategies_match_reference(strategy, seed):
    rng = np.random.default_rng(100 + seed)
    net = make_network(rng, 10, 6)
    inv = make_inventory(rng, net, density=0.5)
    for i in range(40):
        k = int(rng.integers(1, 4))
        order = make_order(rng, net, f"O{i}", max_shipments=k)
        ref = naive.greedy(net, _atp_dict(inv), _demand(order, net), (order.lat, order.lon), k, strategy)
        d = Router(net, inv, flat_policy(strategy=strategy)).route(order)
        got: dict = {}
        for a in d.allocations:
            key = (net.node_index[a.node_id], net.sku_index[a.sku])
            got[key] = got.get(key, 0) + a.qty
        assert got == {key: q for key, q in ref.items() if q}


@pytest.mark.parametrize("seed", range(3))
def test_cost_kernel_matches_brute_force(seed):
    rng = np.random.default_rng(200 + seed)
    for trial in range(15):
        net = make_network(rng, 5, 4)
        inv = make_inventory(rng, net, density=0.7, max_qty=3)
        pol = flat_policy(split_penalty=float(rng.choice([0.0, 2.5])))
        k = int(rng.integers(1, 4))
        order = make_order(rng, net, f"O{trial}", max_lines=3, max_qty=3, max_shipments=k)
        fill, cost = naive.brute_force(net, pol, _atp_dict(inv), _demand(order, net), (order.lat, order.lon), k)
        d = Router(net, inv, pol).route(order)
        assert d.units == fill
        assert d.cost.total == pytest.approx(cost, rel=1e-9, abs=1e-7)


def test_unit_costs_match_reference(rng):
    net = make_network(rng, 15, 6)
    inv = make_inventory(rng, net, density=0.8)
    pol = flat_policy()
    p = Router(net, inv, pol)._base_params.copy()
    mark = np.full(net.n_nodes, -1, np.int64)
    nodef = K.pack_nodes(net)
    fee = net.fee_rate[inv.node] * net.price[np.repeat(np.arange(net.n_skus), np.diff(inv.sku_ptr))]
    zeros = np.zeros(inv.nnz)
    for _ in range(10):
        skus = rng.choice(net.n_skus, size=3, replace=False).astype(np.int64)
        lat, lon = rng.uniform(26, 48), rng.uniform(-123, -70)
        dest = unit_vectors(np.array([lat]), np.array([lon]))[0]
        cap = np.full(net.n_nodes, 10**9)
        cand, atp, ent, miles, lead = K.gather(skus, inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock,
                                                inv.reserved, net.usable, cap, cap, mark, dest, nodef, p, BANDS)
        K.fill_distances(cand, miles, lead, dest, nodef, p, BANDS)
        skuf = np.stack([net.price, net.weight_kg], axis=1)
        fixed, unit = K.unit_costs(cand, skus, ent, atp, miles, lead, nodef, skuf, fee, zeros, zeros,
                                    np.zeros(net.n_nodes, np.bool_), p, 0)
        for c, n in enumerate(cand):
            assert fixed[c] == pytest.approx(pol.cost.per_shipment + net.handling_per_shipment[n])
            for g, s in enumerate(skus):
                if ent[c, g] >= 0:
                    assert unit[c, g] == pytest.approx(naive.unit_cost(net, pol, n, s, (lat, lon)), rel=1e-9)


def _skewed_inventory(rng, net, densities):
    """Stock where SKU ``j`` sits at a ``densities[j]`` share of the nodes: rare and popular SKUs mixed."""
    from sourcewise.models import Inventory, StockRecord

    records = []
    for j, s in enumerate(net.skus):
        for n in net.nodes:
            if rng.random() < densities[j]:
                on_hand = int(rng.integers(0, 6))
                records.append(StockRecord(n.node_id, s.sku, on_hand, min(int(rng.integers(0, 2)), on_hand)))
    return Inventory.from_records(net, records)


def _best_single_twin(r, inv, dest, skus, qty, mask):
    """Cheapest node that ships every unit alone, by brute force over all nodes (planning cost)."""
    net = r.network
    p = r._base_params
    atp = r._on_hand - r._safety - r._reserved
    best, best_cost = -1, np.inf
    for n in range(net.n_nodes):
        if not mask[n] or r._cap_orders[n] <= 0 or r._cap_units[n] < qty.sum():
            continue
        cost = p[K.P_PER_SHIPMENT] + r._nodef[n, K.NF_HSHIP]
        miles = K.distance_miles(dest, r._nodef[:, :3], np.array([n]))[0]
        ok = True
        for s, q in zip(skus, qty, strict=True):
            e = _entry_of(inv, s, n)
            if e < 0 or atp[e] < q:
                ok = False
                break
            cost += q * (p[K.P_PER_UNIT] + r._nodef[n, K.NF_HUNIT] + p[K.P_PER_KG] * r._skuf[s, 1]
                         + r._entry_fee[e] + r._entry_risk[e] + p[K.P_PER_MILE] * miles)
        if ok and cost < best_cost - 1e-9:
            best, best_cost = n, cost
    return best, best_cost


def _entry_of(inv, s, n):
    """Position of node ``n`` in SKU ``s``'s entries, or -1."""
    lo, hi = inv.sku_ptr[s], inv.sku_ptr[s + 1]
    hit = np.flatnonzero(inv.node[lo:hi] == n)
    return int(lo + hit[0]) if len(hit) else -1


@pytest.mark.parametrize("bitsets", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_fast_path_on_rare_and_popular_skus_matches_brute_force(seed, bitsets):
    # 300 nodes; SKU densities from 1% to 95%, so the intersection runs both its
    # binary-search branch (few survivors, long list) and its merge branch; with
    # bitsets the candidates come from ANDing the SKUs' node sets instead
    rng = np.random.default_rng(700 + seed)
    net = make_network(rng, 300, 12)
    densities = np.array([0.01, 0.03, 0.1, 0.3, 0.6, 0.95, 0.95, 0.9, 0.8, 0.5, 0.05, 0.2])
    inv = _skewed_inventory(rng, net, densities)
    r = Router(net, inv, flat_policy())
    mask = r._tier_masks[0]
    bits = r._sku_bits if bitsets else np.zeros((0, 1), np.uint64)
    assert len(r._sku_bits) == net.n_skus
    accepted = declined = 0
    for _ in range(150):
        skus = rng.choice(net.n_skus, size=int(rng.integers(1, 5)), replace=False).astype(np.int64)
        qty = rng.integers(1, 3, len(skus)).astype(np.int64)
        dest = unit_vectors(np.array([rng.uniform(26, 48)]), np.array([rng.uniform(-123, -70)]))[0]
        k = int(rng.integers(1, 4))
        before = r._reserved.copy()
        ok, node, ent, need, miles, lead, costs, snap = K.route_fast(
            dest, skus, qty, k, 0, mask, inv.sku_ptr, inv.node, bits, r._ibuf, r._fbuf, r._base_params, False, True)
        np.testing.assert_array_equal(r._reserved, before)  # reserve=False changes nothing
        twin_node, twin_cost = _best_single_twin(r, inv, dest, skus, qty, mask)
        if not ok:
            declined += 1
            if k == 1:
                assert twin_node < 0  # with one parcel allowed, only "no covering node" declines
            continue
        accepted += 1
        # the explanation's snapshot: ATP before this order of every entry of its SKUs
        want_snap = np.concatenate([(r._on_hand - r._safety - r._reserved)[inv.sku_ptr[s]:inv.sku_ptr[s + 1]]
                                    for s in skus])
        np.testing.assert_array_equal(snap, want_snap)
        assert node == twin_node
        np.testing.assert_array_equal(need, qty)
        for g, s in enumerate(skus):
            assert ent[g] == _entry_of(inv, s, node)
        # the real cost (no risk term here) equals the twin's planning cost
        assert costs.sum() == pytest.approx(twin_cost, rel=1e-9)
        # and no plan of any split beats it: the full search agrees
        full = K.route_core(dest, skus, qty, k, 0, mask, inv.sku_ptr, inv.node, r._no_free, r._ibuf, r._fbuf,
                            r._base_params, False)
        assert full[8].sum() == pytest.approx(costs.sum(), rel=1e-9)
    assert accepted > 20 and declined > 5


def test_more_than_three_parcels_extends_greedily_within_limits(rng):
    # every SKU sits at a different node: five lines need five parcels
    from sourcewise.models import Inventory, Network, Node, OrderLine, Sku, StockRecord
    from sourcewise.models import Order as O

    nodes = [Node(f"N{i}", "warehouse", 30 + i, -90 - i) for i in range(6)]
    net = Network.build(nodes, [Sku(f"S{i}", 1, 10) for i in range(6)])
    inv = Inventory.from_records(net, [StockRecord(f"N{i}", f"S{i}", 2) for i in range(6)])
    order = O("o", tuple(OrderLine(str(i), f"S{i}", 1) for i in range(5)), 35, -95, max_shipments=4)
    d = Router(net, inv, flat_policy()).route(order)
    assert len(d.shipments) == 4 and d.units == 4
    d = Router(net, inv, flat_policy()).route(O("p", order.lines, 35, -95, max_shipments=6))
    assert len(d.shipments) == 5 and d.units == 5


def _random_order(rng, net, lines, units, parcels):
    """Distinct SKUs (1 to ``lines``), units per line, a US destination and a split limit."""
    skus = rng.choice(net.n_skus, size=int(rng.integers(1, lines + 1)), replace=False).astype(np.int64)
    qty = rng.integers(1, units + 1, len(skus)).astype(np.int64)
    dest = unit_vectors(np.array([rng.uniform(26, 48)]), np.array([rng.uniform(-123, -70)]))[0]
    return skus, qty, dest, int(rng.integers(1, parcels + 1))


@pytest.mark.parametrize("seed", range(3))
def test_fast_single_node_path_agrees_with_full_search(seed):
    rng = np.random.default_rng(300 + seed)
    net = make_network(rng, 30, 8)
    inv = make_inventory(rng, net, density=0.7, max_qty=5)
    r = Router(net, inv, flat_policy())
    taken = 0
    for _ in range(60):
        skus, qty, dest, k = _random_order(rng, net, 3, 3, 3)
        ok, node, ent, need, miles, lead, costs, _ = K.route_fast(
            dest, skus, qty, k, 0, r._tier_masks[0], inv.sku_ptr, inv.node, r._sku_bits, r._ibuf, r._fbuf,
            r._base_params, False, False)
        full = K.route_core(dest, skus, qty, k, 0, r._tier_masks[0], inv.sku_ptr, inv.node, r._no_free, r._ibuf,
                            r._fbuf, r._base_params, False)
        assert (r._mark == -1).all()
        if not ok:
            continue
        taken += 1
        alloc, fcosts = full[3], full[8]
        assert need.sum() == alloc.sum()
        assert costs.sum() == pytest.approx(fcosts.sum(), rel=1e-9, abs=1e-9)
        if node >= 0:
            assert miles == pytest.approx(naive.haversine_miles(net.lat[node], net.lon[node],
                                                                *np.degrees([np.arcsin(dest[2]),
                                                                             np.arctan2(dest[1], dest[0])])))
    assert taken > 10


def test_split_pool_keeps_a_source_of_every_line():
    # Ten cheap nodes near the customer stock A and B; only one dear, far node
    # stocks C. With a pool of four split candidates chosen by key alone, all
    # four would be near nodes and no split could ship C; the pool keeps C's
    # source, so the order ships whole in two parcels.
    from sourcewise.models import Inventory, Network, Node, Order, OrderLine, Sku, StockRecord

    near = [Node(f"W{i}", "warehouse", 40.0 + 0.01 * i, -75.0, handling_per_shipment=0.5) for i in range(10)]
    far = Node("FAR", "warehouse", 34.0, -118.0, handling_per_shipment=6.0, handling_per_unit=2.0)
    net = Network.build(near + [far], [Sku(s, 1.0, 20.0) for s in "ABC"])
    records = [StockRecord(n.node_id, s, 5) for n in near for s in "AB"] + [StockRecord("FAR", "C", 5)]
    inv = Inventory.from_records(net, records)
    order = Order("o1", (OrderLine("1", "A", 1), OrderLine("2", "B", 1), OrderLine("3", "C", 1)), 40.0, -75.0)
    d = Router(net, inv, flat_policy(split_candidates=4)).route(order)
    assert d.status.value == "routed" and d.units == 3
    assert sorted(s.node_id for s in d.shipments)[0] == "FAR" and len(d.shipments) == 2


def _pool_case(nodes, records, lines, pool):
    """Route one order to (40, -75) with a split pool of ``pool`` nodes; also solve it by brute force."""
    from sourcewise.models import Inventory, Network, Order, OrderLine, Sku, StockRecord

    skus = sorted({s for _, s, _ in records})
    net = Network.build(nodes, [Sku(s, 1.0, 20.0) for s in skus])
    inv = Inventory.from_records(net, [StockRecord(n, s, q) for n, s, q in records])
    order = Order("o1", tuple(OrderLine(str(i), s, q) for i, (s, q) in enumerate(lines)), 40.0, -75.0)
    pol = flat_policy(split_candidates=pool)
    want = naive.brute_force(net, pol, _atp_dict(inv), _demand(order, net), (40.0, -75.0), 3)
    return Router(net, inv, pol).route(order), want


def test_split_pool_keeps_nodes_that_ship_two_lines_whole():
    # Four cheap nodes next to the customer for each of A, B and C fill a pool
    # of six with each line's cheapest sources, and no two of them ship the
    # order. One dearer node 300 miles away holds A and B: with C from next
    # door that is two parcels, not three, and the pool must hold it.
    from sourcewise.models import Node

    near = [Node(f"{s}{i}", "warehouse", 40.0 + 0.01 * i, -75.0, handling_per_shipment=0.5)
            for s in "ABC" for i in range(4)]
    ab = Node("AB", "warehouse", 44.0, -75.0, handling_per_shipment=1.0)
    records = [(n.node_id, n.node_id[0], 5) for n in near] + [("AB", "A", 5), ("AB", "B", 5)]
    d, (fill, cost) = _pool_case(near + [ab], records, [("A", 1), ("B", 1), ("C", 1)], pool=6)
    assert d.status.value == "routed" and d.units == fill == 3
    assert sorted(s.node_id for s in d.shipments) == ["AB", "C0"]
    assert d.cost.total == pytest.approx(cost, rel=1e-9, abs=1e-7)


def test_split_pool_ranks_sources_of_every_unit_first():
    # Three units of C: four cheap nodes next door hold one each, one dearer
    # node 300 miles away holds five. Ranked by price alone, the near ones
    # take both of C's places in a pool of four and the order cannot ship
    # whole; ranked by whole units first, the far node ships all three.
    from sourcewise.models import Node

    near = [Node(f"A{i}", "warehouse", 40.0 + 0.01 * i, -75.0, handling_per_shipment=0.5) for i in range(3)]
    near += [Node(f"C{i}", "warehouse", 40.0 - 0.01 * i, -75.0, handling_per_shipment=0.5) for i in range(4)]
    far = Node("CF", "warehouse", 44.0, -75.0, handling_per_shipment=1.0)
    records = [(n.node_id, n.node_id[0], 5 if n.node_id[0] == "A" else 1) for n in near] + [("CF", "C", 5)]
    d, (fill, cost) = _pool_case(near + [far], records, [("A", 1), ("C", 3)], pool=4)
    assert d.status.value == "routed" and d.units == fill == 4
    assert sorted(s.node_id for s in d.shipments) == ["A0", "CF"]
    assert d.cost.total == pytest.approx(cost, rel=1e-9, abs=1e-7)


def test_entry_atp_matches_the_inventory_lookup(rng):
    net = make_network(rng, 25, 15)
    inv = make_inventory(rng, net, density=0.5, max_qty=6)
    r = Router(net, inv)
    for n in net.nodes:
        for s in net.skus:
            want = inv.atp(n.node_id, s.sku)
            got = K.entry_atp(inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock, inv.reserved,
                               net.sku_index[s.sku], net.node_index[n.node_id])
            assert got == want
            assert r.atp(n.node_id, s.sku) == want


def test_alloc_rows_match_numpy_nonzero(rng):
    for _ in range(20):
        alloc = rng.integers(0, 3, (int(rng.integers(0, 30)), int(rng.integers(1, 5)))) * (rng.random((1, 1)) < 0.9)
        alloc = np.ascontiguousarray(alloc, dtype=np.int64)
        ent = rng.integers(0, 1000, alloc.shape).astype(np.int64)
        rows, cols, qty, entries = K.alloc_rows(alloc, ent)
        want_r, want_c = np.nonzero(alloc)
        np.testing.assert_array_equal(rows, want_r)
        np.testing.assert_array_equal(cols, want_c)
        np.testing.assert_array_equal(qty, alloc[want_r, want_c])
        np.testing.assert_array_equal(entries, ent[want_r, want_c])


def test_sku_bitsets_match_the_entry_lists(rng):
    net = make_network(rng, 150, 20)  # three words per SKU, the last one partly used
    inv = make_inventory(rng, net, density=0.4)
    bits = K.sku_bitsets(inv.sku_ptr, inv.node, net.n_nodes)
    assert bits.shape == (net.n_skus, 3) and bits.dtype == np.uint64
    for s in range(net.n_skus):
        held = {n for n in range(net.n_nodes) if (int(bits[s, n // 64]) >> (n % 64)) & 1}
        assert held == set(inv.node[inv.sku_ptr[s]:inv.sku_ptr[s + 1]].tolist())
    for b in range(64):
        assert K.bit_index(np.uint64(1) << np.uint64(b)) == b


def test_kernel_unit_vector_is_the_routers_bit_for_bit(rng):
    # _route_one computes the destination itself; explanations recompute it in Python
    from sourcewise.engine.router import _unit_vector

    lat = np.r_[rng.uniform(-90, 90, 500), -90.0, 90.0, 0.0]
    lon = np.r_[rng.uniform(-180, 180, 500), -180.0, 180.0, 0.0]
    for la, lo in zip(lat.tolist(), lon.tolist(), strict=True):
        np.testing.assert_array_equal(K.unit_vector(la, lo), _unit_vector(la, lo))


def test_packed_state_views_are_the_routers_arrays(rng):
    net = make_network(rng, 30, 12)
    inv = make_inventory(rng, net, density=0.5)
    r = Router(net, inv)
    ints = [r._on_hand, r._safety, r._reserved, r._cap_orders, r._cap_units, r._mark]
    floats = [r._nodef, r._skuf, r._entry_fee, r._dual, r._entry_risk, r._entry_demand, r._sku_lb, r._bands]
    assert len(ints) == len(K.PACKED_INTS) and len(floats) == len(K.PACKED_FLOATS)
    for i, a in enumerate(ints):
        got = K.int_array(r._ibuf, i)
        np.testing.assert_array_equal(got, a)
        assert np.shares_memory(a, r._ibuf)
    for i, a in enumerate(floats):
        got = K.float_matrix(r._ibuf, r._fbuf, i) if a.ndim == 2 else K.float_array(r._ibuf, r._fbuf, i)
        assert got.shape == a.shape
        np.testing.assert_array_equal(got, a)
        assert np.shares_memory(a, r._fbuf)
    # a write through the router's array is what the kernel reads
    r._reserved[3] += 7
    assert K.int_array(r._ibuf, 2)[3] == r._reserved[3]
    with pytest.raises(ValueError):
        K.pack_ints(ints[:-1])


@pytest.mark.parametrize("seed", range(3))
def test_used_rows_are_the_rows_that_ship(seed):
    # _route_core's callers read only the rows it says ship: every strategy and
    # split limit must name exactly the candidates with units, ascending
    rng = np.random.default_rng(900 + seed)
    net = make_network(rng, 25, 10)
    inv = make_inventory(rng, net, density=0.5, max_qty=4)
    r = Router(net, inv, flat_policy())
    seen_split = 0
    for _ in range(80):
        skus, qty, dest, k = _random_order(rng, net, 5, 5, 5)
        strategy = int(rng.integers(0, 5))
        out = K.route_core(dest, skus, qty, k, strategy, r._tier_masks[0], inv.sku_ptr, inv.node, r._no_free,
                           r._ibuf, r._fbuf, r._base_params, False, bool(rng.integers(0, 2)))
        alloc, ent, used = out[3], out[2], out[9]
        np.testing.assert_array_equal(used, np.flatnonzero(alloc.any(axis=1)))
        seen_split += len(used) > 1
        for got, want in zip(K.rows_of(alloc, ent, used), K.alloc_rows(alloc, ent), strict=True):
            np.testing.assert_array_equal(got, want)
    assert seen_split > 5


@pytest.mark.parametrize("strategy", [0, 4])
def test_priced_gather_matches_gather_then_pricing(rng, strategy):
    # the one-scan priced gather against the lazy path it replaces (gather, distances,
    # unit costs, risk), plus the per-group totals and cheapest unit costs it hands the plan
    net = make_network(rng, 30, 10)
    inv = make_inventory(rng, net, density=0.6, max_qty=6)
    r = Router(net, inv, flat_policy())
    p = r._base_params.copy()
    p[K.P_DEPLETION] = 2.0
    fee = rng.uniform(0, 3, inv.nnz) * (rng.random(inv.nnz) < 0.3)
    risk = rng.uniform(0, 1, inv.nnz) * (rng.random(inv.nnz) < 0.3)
    demand = rng.uniform(0, 5, inv.nnz) * (rng.random(inv.nnz) < 0.5)
    dual = rng.uniform(0, 2, inv.nnz)
    free = rng.random(net.n_nodes) < 0.2
    mark = np.full(net.n_nodes, -1, np.int64)
    for _ in range(25):
        skus, _, dest, _ = _random_order(rng, net, 4, 1, 1)
        cap_o = rng.integers(0, 3, net.n_nodes)
        cap_u = rng.integers(0, 8, net.n_nodes)
        got = K.gather_priced(skus, inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock, inv.reserved,
                               net.usable, cap_o, cap_u, mark, dest, r._nodef, p, r._bands, fee, dual, risk, demand,
                               r._skuf, free, strategy)
        cand, atp, ent, miles, lead = K.gather(skus, inv.sku_ptr, inv.node, inv.on_hand, inv.safety_stock,
                                                inv.reserved, net.usable, cap_o, cap_u, mark, dest, r._nodef, p,
                                                r._bands)
        K.fill_distances(cand, miles, lead, dest, r._nodef, p, r._bands, False)
        fixed, unit = K.unit_costs(cand, skus, ent, atp, miles, lead, r._nodef, r._skuf, fee, dual, demand, free,
                                    p, strategy)
        unit += np.where(ent >= 0, risk[np.maximum(ent, 0)], 0.0)
        assert (mark == -1).all()
        for x, y in zip(got[:3], (cand, atp, ent), strict=True):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_allclose(got[3], miles, rtol=1e-12)
        np.testing.assert_allclose(got[5], fixed, rtol=1e-12)
        np.testing.assert_allclose(got[6], unit, rtol=1e-12)
        total, cheapest = got[7], got[8]
        np.testing.assert_array_equal(total, atp.sum(axis=0))
        want = np.where(atp > 0, got[6], np.inf).min(axis=0) if len(cand) else np.full(len(skus), np.inf)
        np.testing.assert_array_equal(cheapest, want)


def test_inline_asin_is_within_an_ulp_of_libm(rng):
    import math

    xs = np.r_[rng.random(20_000), rng.random(5_000) * 1e-3, rng.uniform(0.49, 0.51, 5_000),
               0.0, 0.5, np.nextafter(0.5, 0.0), 1.0, 5e-324]
    for x in xs.tolist():
        got, want = K.fast_asin(x), math.asin(x)
        assert abs(got - want) <= math.ulp(want), (x, got, want)
        assert got >= x  # so the chord (2 R x) stays a lower bound of the arc
    # the distance itself: chord -> miles, against the haversine twin
    lat = rng.uniform(25, 49, 200)
    lon = rng.uniform(-124, -67, 200)
    xyz = unit_vectors(lat, lon)
    got = K.distance_miles(xyz[0], xyz, np.arange(200))
    want = [naive.haversine_miles(lat[0], lon[0], la, lo) for la, lo in zip(lat, lon, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-6)


def test_atp_of_sku_matches_atp_per_source(rng):
    """The one-read ATP column of a SKU agrees, entry by entry, with the per-source lookup:
    on the loaded inventory, and on a router after orders reserved and released stock."""
    net = make_network(rng, 25, 15)
    inv = make_inventory(rng, net, density=0.5, max_qty=6)
    r = Router(net, inv)
    for i in range(30):
        r.route(make_order(rng, net, f"o{i}"))
    for i in range(0, 30, 3):
        r.release(f"o{i}")
    for s in net.skus:
        k = net.sku_index[s.sku]
        nodes = [net.nodes[n].node_id for n in inv.node[inv.sku_ptr[k]:inv.sku_ptr[k + 1]]]
        assert inv.atp_of_sku(s.sku).tolist() == [inv.atp(n, s.sku) for n in nodes]
        assert r.atp_of_sku(s.sku).tolist() == [r.atp(n, s.sku) for n in nodes]
