"""Slow, obviously correct reference twins of the engine's kernels.

Every compiled kernel in :mod:`sourcewise.engine._kernels` has a twin here,
named after it, written from the documented cost model rather than from the
kernel's code; ``tests/engine/kernels/`` compares each kernel with its twin
on random inputs. Twins take plain Python values (dicts, lists, floats)
where that is clearer, and read only the layout's column and parameter
positions from the package.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from sourcewise.engine import _kernels as K

if TYPE_CHECKING:
    from sourcewise.engine.substitutes import SimilarityWeights

EARTH_RADIUS_MI = 3958.7613


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MI * math.asin(min(1.0, math.sqrt(a)))


def candidates(net, inv_atp: dict, skus: list[int]) -> list[int]:
    """Usable nodes with ATP for any SKU, in order of first appearance (SKU, then node)."""
    out: list[int] = []
    for s in skus:
        for n in range(net.n_nodes):
            if net.usable[n] and inv_atp.get((n, s), 0) > 0 and n not in out:
                out.append(n)
    return out


def unit_cost(net, policy, n: int, s: int, dest: tuple[float, float]) -> float:
    cm = policy.cost
    miles = haversine_miles(net.lat[n], net.lon[n], *dest)
    return (cm.per_unit + net.handling_per_unit[n] + cm.per_unit_mile * miles
            + net.fee_rate[n] * net.price[s] + cm.per_kg * net.weight_kg[s])


def plan_cost(net, policy, alloc: dict, dest) -> float:
    """Total cost of ``{(node, sku): units}``."""
    nodes = {n for (n, _), q in alloc.items() if q > 0}
    total = sum(policy.cost.per_shipment + net.handling_per_shipment[n] for n in nodes)
    total += sum(q * unit_cost(net, policy, n, s, dest) for (n, s), q in alloc.items() if q > 0)
    return total + policy.split_penalty * max(0, len(nodes) - 1)


def allocations(inv_atp: dict, demand: dict[int, int], nodes: Iterable[int], k: int) -> Iterator[dict]:
    """Every integer allocation ``{(node, sku): units}`` from ``nodes`` within their ATP.

    At most ``demand[s]`` units of each SKU ``s`` (the empty allocation
    included), from at most ``k`` distinct nodes; the brute forces of the
    router's and of the optimizer's tests both search this set.
    """
    nodes = list(nodes)
    per_sku = []
    for s, q in demand.items():
        holders = [n for n in nodes if inv_atp.get((n, s), 0) > 0]
        options = []
        for xs in itertools.product(*[range(min(q, inv_atp[(n, s)]) + 1) for n in holders]):
            if sum(xs) <= q:
                options.append({(n, s): x for n, x in zip(holders, xs, strict=True) if x})
        per_sku.append(options or [{}])
    for combo in itertools.product(*per_sku):
        alloc: dict = {}
        for part in combo:
            alloc.update(part)
        if len({n for n, _ in alloc}) <= k:
            yield alloc


def brute_force(net, policy, inv_atp: dict, demand: dict[int, int], dest, k: int):
    """Every integer allocation within ATP and the shipment limit; best is
    maximum units first, then minimum cost. Returns ``(fill, cost)``."""
    best = (-1, math.inf)
    for alloc in allocations(inv_atp, demand, candidates(net, inv_atp, list(demand)), k):
        fill = sum(alloc.values())
        cost = plan_cost(net, policy, alloc, dest)
        if fill > best[0] or (fill == best[0] and cost < best[1] - 1e-9):
            best = (fill, cost)
    return best


def greedy(net, inv_atp: dict, demand: dict[int, int], dest, k: int, strategy: str) -> dict:
    """Rule-based fill: priority, nearest or high_stock, opening at most k nodes."""
    cands = candidates(net, inv_atp, list(demand))
    dist = {n: haversine_miles(net.lat[n], net.lon[n], *dest) for n in cands}

    def ranked(s):
        if strategy == "priority":
            return sorted(cands, key=lambda n: net.priority_rank[n])
        if strategy == "nearest":
            return sorted(cands, key=lambda n: dist[n])
        return sorted(cands, key=lambda n: -inv_atp.get((n, s), 0))

    if k == 1:
        first_sku = next(iter(demand))
        for n in ranked(first_sku):
            if all(inv_atp.get((n, s), 0) >= q for s, q in demand.items()):
                return {(n, s): q for s, q in demand.items()}
    alloc: dict = {}
    used: list[int] = []
    for s, q in demand.items():
        rem = q
        for n in ranked(s):
            if rem == 0:
                break
            a = inv_atp.get((n, s), 0)
            if a <= 0:
                continue
            if n not in used:
                if len(used) >= k:
                    continue
                used.append(n)
            take = min(a, rem)
            alloc[(n, s)] = take
            rem -= take
    return alloc


# -------------------- inputs: inventory and orders as dicts


def atp_dict(inv):
    sku_of = np.repeat(np.arange(inv.network.n_skus), np.diff(inv.sku_ptr))
    atp = inv.atp_array()
    return {(int(n), int(s)): int(a) for n, s, a in zip(inv.node, sku_of, atp, strict=True)}


def demand(order, net):
    out: dict[int, int] = {}
    for line in order.lines:
        s = net.sku_index[line.sku]
        out[s] = out.get(s, 0) + line.qty
    return out


# -------------------- geometry, scoring


def proximity_score(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Cosine of the central angle, by spherical trigonometry (no unit vectors)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    return math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(math.radians(lon2 - lon1))


def proximity_scores(dlat, dlon, nlat, nlon) -> np.ndarray:
    return np.array([[proximity_score(a, b, c, d) for c, d in zip(nlat, nlon, strict=True)]
                     for a, b in zip(dlat, dlon, strict=True)])


def nearest_k(dlat, dlon, nlat, nlon, allowed, k):
    """Sorted distances of the k nearest allowed nodes, padded with inf."""
    out = []
    for a, b in zip(dlat, dlon, strict=True):
        d = sorted(haversine_miles(a, b, c, e) for c, e, ok in zip(nlat, nlon, allowed, strict=True) if ok)
        out.append((d + [math.inf] * k)[:k])
    return np.array(out)


# -------------------- gather


def gather_eligible(net, n, lat, lon, p, cap_orders, cap_units, cutoff, pdays, bands):
    """Whether node ``n`` may serve a destination, spelled out rule by rule."""
    if cap_orders[n] <= 0 or cap_units[n] <= 0:
        return False
    if p[K.P_REQUIRE_CUTOFF] and p[K.P_HOUR] >= cutoff[n]:
        return False
    miles = haversine_miles(net.lat[n], net.lon[n], lat, lon)
    if miles > p[K.P_MAX_MILES]:
        return False
    km = miles * K.MILE_KM
    transit = next((d for lim, d in bands if km <= lim), bands[-1, 1])
    lead = pdays[n] + transit + (1 if p[K.P_HOUR] >= cutoff[n] else 0)
    return not (p[K.P_MAX_DAYS] >= 0 and p[K.P_LATE_MODE] == 0 and lead > p[K.P_MAX_DAYS])


def nearby_holders(net, inv_atp: dict, lat, lon, hour, skus, qty, cand, cap_orders, cap_units, cutoff):
    """(node, units, flags, miles) of each candidate row ``(z, x, y, node, pickup miles, same-day miles)``,
    nearest first (ties by node), that could hand over every SKU's units whole today: an order slot, unit capacity
    for the total, ATP of at least the units of each SKU (units: the least ATP, capped by the capacity);
    flag 1 within its pickup miles, flag 2 within its same-day miles and before its cutoff at ``hour``."""
    out = []
    for *_, node, pick, same in cand:
        n = int(node)
        if cap_orders[n] < 1 or cap_units[n] < sum(qty):
            continue
        miles = haversine_miles(net.lat[n], net.lon[n], lat, lon)
        flags = (1 if miles <= pick else 0) | (2 if miles <= same and hour < cutoff[n] else 0)
        atp = [inv_atp.get((n, int(s)), 0) for s in skus]
        if flags and all(a >= q for a, q in zip(atp, qty, strict=True)):
            out.append((n, min([*atp, int(cap_units[n])]), flags, miles))
    return sorted(out, key=lambda row: (row[3], row[0]))


def entry_position(inv, s, n):
    """Position of node ``n`` in SKU ``s``'s entries, or -1."""
    lo, hi = inv.sku_ptr[s], inv.sku_ptr[s + 1]
    hit = np.flatnonzero(inv.node[lo:hi] == n)
    return int(lo + hit[0]) if len(hit) else -1


# -------------------- drivers


def route_fast(r, inv, dest, skus, qty, mask):
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
            e = entry_position(inv, s, n)
            if e < 0 or atp[e] < q:
                ok = False
                break
            cost += q * (p[K.P_PER_UNIT] + r._nodef[n, K.NF_HUNIT] + p[K.P_PER_KG] * r._skuf[s, 1]
                         + r._entry_fee[e] + r._entry_risk[e] + p[K.P_PER_MILE] * miles)
        if ok and cost < best_cost - 1e-9:
            best, best_cost = n, cost
    return best, best_cost


# -------------------- similarity


def similarity_scores(attrs: list[dict], target: int, w: SimilarityWeights) -> list[float]:
    """Score of every SKU, straight from the raw attribute dicts.

    Works on the un-encoded values (strings, Python sets, prices) so that a
    mismatch catches encoding bugs as well as kernel bugs.
    """
    t = attrs[target]
    we = w.explicit if t["subs"] else 0.0
    wc = w.category if t["category"] is not None else 0.0
    wb = w.brand if t["brand"] is not None else 0.0
    wt = w.tags if t["tags"] else 0.0
    wp = w.price if t["price"] > 0 else 0.0
    total = we + wc + wb + wt + wp
    out = []
    for j, a in enumerate(attrs):
        if total == 0:
            out.append(0.0)
            continue
        s = we * (j in t["subs"])
        s += wc * (t["category"] is not None and a["category"] == t["category"])
        s += wb * (t["brand"] is not None and a["brand"] == t["brand"])
        union = t["tags"] | a["tags"]
        s += wt * (len(t["tags"] & a["tags"]) / len(union) if union else 0.0)
        if t["price"] > 0 and a["price"] > 0:
            s += wp * math.exp(-abs(math.log(t["price"]) - math.log(a["price"])))
        out.append(s / total)
    return out


def propose(attrs, target, stock: set[int], k, w, min_score=0.0):
    sc = similarity_scores(attrs, target, w)
    subs = attrs[target]["subs"]
    first = sorted(range(len(subs)), key=lambda p: (-sc[subs[p]], p))
    ranked = [subs[p] for p in first]
    rest = sorted((j for j in range(len(attrs)) if j != target and j not in subs and sc[j] > min_score),
                  key=lambda j: (-sc[j], j))
    return [(j, sc[j]) for j in ranked + rest if j in stock][:k]


def top_m(key, eligible, m):
    return sorted((i for i in range(len(key)) if eligible[i]), key=lambda i: (-key[i], i))[:m]



# -------------------- layout: the node matrix and the parameter vector


def pack_skus(net) -> np.ndarray:
    """Twin of ``layout.pack_skus``: per SKU its price, then its weight in kg."""
    return np.array([[sku.price, sku.weight_kg] for sku in net.skus], dtype=np.float64).reshape(-1, 2)


def pack_nodes(net) -> np.ndarray:
    """Twin of ``layout.pack_nodes``: per node its unit vector (from latitude and longitude),
    handling per shipment and per unit, priority rank, processing days and cutoff hour."""
    rows = []
    for n in range(net.n_nodes):
        la, lo = math.radians(net.lat[n]), math.radians(net.lon[n])
        xyz = [math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)]
        rows.append([0.0] * K.NODE_COLS)
        for col, v in zip((K.NF_X, K.NF_Y, K.NF_Z), xyz, strict=True):
            rows[-1][col] = v
        rows[-1][K.NF_HSHIP] = net.handling_per_shipment[n]
        rows[-1][K.NF_HUNIT] = net.handling_per_unit[n]
        rows[-1][K.NF_PRIO] = net.priority_rank[n]
        rows[-1][K.NF_PDAYS] = net.processing_days[n]
        rows[-1][K.NF_CUTOFF] = net.cutoff_hour[n]
    return np.array(rows, np.float64).reshape(net.n_nodes, K.NODE_COLS)


def cost_params(policy, net) -> np.ndarray:
    """Twin of ``layout.cost_params``: the policy's prices by name, per-order values neutral
    (no distance limit, hour 0, no cutoff rule, no deadline)."""
    cm = policy.cost
    named = {
        K.P_PER_SHIPMENT: cm.per_shipment, K.P_PER_UNIT: cm.per_unit, K.P_PER_MILE: cm.per_unit_mile,
        K.P_PER_KG: cm.per_kg, K.P_SPLIT: policy.split_penalty, K.P_SPLIT_CANDS: policy.split_candidates,
        K.P_MAX_MILES: math.inf, K.P_HOUR: 0.0, K.P_REQUIRE_CUTOFF: 0.0, K.P_MAX_DAYS: -1.0,
        K.P_LATE_MODE: 0.0 if policy.service.late == "exclude" else 1.0,
        K.P_LATE_PENALTY: policy.service.late_penalty_per_day, K.P_DEPLETION: policy.stores.depletion_weight,
        K.P_SHIP_LB: cm.per_shipment + min(net.handling_per_shipment, default=0.0),
    }
    assert sorted(named) == list(range(K.N_PARAMS))
    return np.array([named[i] for i in range(K.N_PARAMS)])


# -------------------- cost: the cost model, from the policy and the network


def parcel_cost(net, policy, n) -> float:
    """A parcel from node ``n``: the carrier's charge per shipment plus the node's handling per shipment."""
    return policy.cost.per_shipment + net.handling_per_shipment[n]


def late_cost(lead, max_days, policy) -> float:
    """The late penalty per day for every day ``lead`` passes a deadline ``max_days`` (none when negative)."""
    days_late = lead - max_days if max_days >= 0 else 0.0
    return policy.service.late_penalty_per_day * max(0.0, days_late)


def unit_handling(net, policy, n) -> float:
    """A unit through node ``n`` before distance: the carrier's charge per unit plus the node's handling per unit."""
    return policy.cost.per_unit + net.handling_per_unit[n]


def unit_cost_at(net, policy, n, miles) -> float:
    """A unit through node ``n`` carried ``miles``: handling plus the carrier's charge per unit-mile."""
    return unit_handling(net, policy, n) + policy.cost.per_unit_mile * miles


def weight_cost(kg, policy) -> float:
    return policy.cost.per_kg * kg


def unit_shipping(miles, kg, policy) -> float:
    """The carrier's part of a unit: per unit, per unit-mile, per kg."""
    cm = policy.cost
    return cm.per_unit + cm.per_unit_mile * miles + cm.per_kg * kg


def depletion_cost(demand, atp, weight) -> float:
    """``weight * d / (d + atp)`` for a store with walk-in demand ``d > 0`` per day; nothing otherwise."""
    if demand <= 0 or weight <= 0:
        return 0.0
    return weight * demand / (demand + atp)


def transit_days(miles, bands) -> float:
    """Days of the first band (ascending km limits) whose limit the distance does not pass; the
    last band's days beyond every limit."""
    km = miles * 1.609344
    for limit, days in bands:
        if km <= limit:
            return days
    return bands[-1][1]


def lead_days(net, n, miles, hour, bands) -> float:
    """Processing days, one more day for an order at or after the node's cutoff hour, and transit."""
    late_order = 1.0 if hour >= net.cutoff_hour[n] else 0.0
    return net.processing_days[n] + late_order + transit_days(miles, bands)


def unit_costs(net, policy, cand, g_sku, ent, atp, miles, lead, fee, plan, demand, free, max_days, dual):
    """Twin of ``cost.unit_costs``: per candidate the parcel (free when the node already ships) plus
    lateness, per (candidate, group) a unit plus, where an entry holds it, its fee, the depletion
    penalty at the candidate's ATP and, for ``dual``, the entry's shadow price."""
    fixed = np.zeros(len(cand))
    unit = np.zeros((len(cand), len(g_sku)))
    for c, n in enumerate(cand):
        fixed[c] = (0.0 if free[n] else parcel_cost(net, policy, n)) + late_cost(lead[c], max_days, policy)
        for g, s in enumerate(g_sku):
            u = unit_cost_at(net, policy, n, miles[c]) + weight_cost(net.weight_kg[s], policy)
            e = ent[c][g]
            if e >= 0:
                u += fee[e] + depletion_cost(demand[e], atp[c][g], policy.stores.depletion_weight)
                u += plan[e] if dual else 0.0
            unit[c, g] = u
    return fixed, unit


def plan_unit(net, policy, e, n, s, a, fee, dual_price, risk, demand, cap_units, dual):
    """Twin of ``cost.plan_unit``: a unit's distance-free planning cost: handling, weight, fee and
    risk of the entry, depletion at the ATP the node can still ship, and for ``dual`` the shadow price."""
    atp = min(a, cap_units[n])
    return (unit_handling(net, policy, n) + weight_cost(net.weight_kg[s], policy) + fee[e] + risk[e]
            + depletion_cost(demand[e], atp, policy.stores.depletion_weight) + (dual_price[e] if dual else 0.0))


# -------------------- plans: the batch optimizer's plan kernels


def plan_candidates(net, policy, g_sku, sku_ptr, ent_node, atp_e, mask, cap_o, cap_u, lat, lon, hour, max_days,
                    maxm, bands, fee_e, pen_e):
    """Twin of ``plans._candidates``: the nodes ``mask`` admits that hold ATP for a group, in order of
    first appearance (group, then entry), with order and unit capacity left, within ``maxm[node]``
    miles and, when late nodes are excluded, on time; their ATP per group (at most their unit
    capacity), entries (-1: none), miles, lead days, parcel cost with lateness and unit costs with the
    entry's fee and penalty ``pen_e``."""
    entry = {}  # (node, group) -> entry with ATP
    order = []
    for g, s in enumerate(g_sku):
        for e in range(sku_ptr[s], sku_ptr[s + 1]):
            n = int(ent_node[e])
            if mask[n] and atp_e[e] > 0:
                entry[(n, g)] = e
                if n not in order:
                    order.append(n)
    rows = []
    for n in order:
        miles = haversine_miles(net.lat[n], net.lon[n], lat, lon)
        lead = lead_days(net, n, miles, hour, bands)
        on_time = max_days < 0 or lead <= max_days or policy.service.late != "exclude"
        if cap_o[n] > 0 and cap_u[n] > 0 and miles <= maxm[n] and on_time:
            rows.append((n, miles, lead))
    G = len(g_sku)
    atp = [[min(atp_e[entry[(n, g)]], cap_u[n]) if (n, g) in entry else 0 for g in range(G)] for n, _, _ in rows]
    ent = [[entry.get((n, g), -1) for g in range(G)] for n, _, _ in rows]
    fixed = [parcel_cost(net, policy, n) + late_cost(lead, max_days, policy) for n, _, lead in rows]
    unit = [[unit_cost_at(net, policy, n, miles) + weight_cost(net.weight_kg[s], policy)
             + (fee_e[ent[c][g]] + pen_e[ent[c][g]] if ent[c][g] >= 0 else 0.0)
             for g, s in enumerate(g_sku)] for c, (n, miles, _) in enumerate(rows)]
    return ([n for n, _, _ in rows], atp, ent, [m for _, m, _ in rows], [ld for _, _, ld in rows], fixed, unit)


def priced(cand, ent, fixed, unit, lam, mu, nu):
    """Twin of ``plans._priced``: a parcel pays its node's ``mu``, a unit its node's ``nu`` and its entry's ``lam``."""
    f = [fixed[c] + mu[n] for c, n in enumerate(cand)]
    r = [[unit[c][g] + nu[n] + (lam[e] if e >= 0 else 0.0) for g, e in enumerate(ent[c])] for c, n in enumerate(cand)]
    return f, r


def plan_price(S, take, qty, r, f, penalty, split_penalty) -> float:
    """Price of ``take[i][g]`` units of group ``g`` from member ``S[i]``: units at ``r``, each unfilled
    unit at ``penalty``, a parcel ``f`` per member that carries units, the split penalty per extra parcel."""
    used = [i for i in range(len(S)) if sum(take[i]) > 0]
    units = sum(take[i][g] * r[S[i]][g] for i in range(len(S)) for g in range(len(qty)))
    unfilled = sum(qty) - sum(map(sum, take))
    return units + penalty * unfilled + sum(f[S[i]] for i in used) + split_penalty * max(0, len(used) - 1)


def eval_pen(S, qty, atp, r, f, penalty, split_penalty):
    """Twin of ``plans._eval_pen``: each group fills from the members of ``S`` cheapest unit first
    (ties in ``S`` order) while a unit costs less than leaving it unfilled. Returns ``(price, take)``."""
    take = [[0] * len(qty) for _ in S]
    for g, q in enumerate(qty):
        for i in sorted(range(len(S)), key=lambda i, g=g: r[S[i]][g]):
            if r[S[i]][g] < penalty:
                take[i][g] = min(max(atp[S[i]][g], 0), q - sum(t[g] for t in take))
    return plan_price(S, take, qty, r, f, penalty, split_penalty), take


def plan_search(qty, atp, r, f, kk, penalty, split_penalty) -> float:
    """Twin of ``plans._search``: the least price of any plan, by brute force over every set of at
    most ``kk`` candidates and every split of every group's units over the set."""
    best = penalty * sum(qty)  # ship nothing
    for size in range(1, kk + 1):
        for S in itertools.combinations(range(len(atp)), size):
            per_group = [[xs for xs in itertools.product(*[range(min(q, atp[c][g]) + 1) for c in S]) if sum(xs) <= q]
                         for g, q in enumerate(qty)]
            for combo in itertools.product(*per_group):
                take = [[combo[g][i] for g in range(len(qty))] for i in range(size)]
                best = min(best, plan_price(S, take, qty, r, f, penalty, split_penalty))
    return best


def batch_facts(net, policy, orders, **stock):
    """Twin of ``plans.batch_facts``: per order ``(g_sku, g_qty, lat, lon, hour, max_days, maxm)``, the
    dearest single unit shipped alone (parcel plus unit) from a candidate holding it, and the units
    beyond all the candidates' ATP."""
    top, short = [], []
    for g_sku, g_qty, lat, lon, hour, max_days, maxm in orders:
        _, atp, _, _, _, fixed, unit = plan_candidates(net, policy, g_sku, lat=lat, lon=lon, hour=hour,
                                                      max_days=max_days, maxm=maxm, **stock)
        top.append(max([fixed[c] + unit[c][g] for c in range(len(atp)) for g in range(len(g_sku)) if atp[c][g] > 0],
                       default=0.0))
        short.append(sum(max(0, q - sum(a[g] for a in atp)) for g, q in enumerate(g_qty)))
    return top, short


def breakdown(net, policy, plans, lat, lon, hour, max_days, bands, fee_e, pen_e):
    """Twin of ``plans.breakdown``. Plan ``j`` is a list of rows ``(node, qty, sku, entry)`` shipping to
    ``(lat[j], lon[j])``. Per plan: shipping (carrier per parcel and per unit), handling (node per
    parcel and per unit), vendor fees, split penalty, penalties (lateness per parcel, ``pen_e`` per
    unit); parcels; km over parcels; the slowest parcel's lead days (-1 if none). Per row: its
    parcel's km and lead days."""
    costs, ships, km, days, node_km, node_days = [], [], [], [], [], []
    for j, rows in enumerate(plans):
        c = [0.0] * 5
        lead = {}
        for n, q, s, e in rows:
            miles = haversine_miles(net.lat[n], net.lon[n], lat[j], lon[j])
            if n not in lead:
                lead[n] = lead_days(net, n, miles, hour[j], bands)
                c[0] += policy.cost.per_shipment
                c[1] += net.handling_per_shipment[n]
                c[4] += late_cost(lead[n], max_days[j], policy)
                km.append((j, miles * 1.609344))
            c[0] += q * unit_shipping(miles, net.weight_kg[s], policy)
            c[1] += q * net.handling_per_unit[n]
            c[2] += q * fee_e[e]
            c[4] += q * pen_e[e]
            node_km.append(miles * 1.609344)
            node_days.append(lead[n])
        c[3] = policy.split_penalty * max(0, len(lead) - 1)
        costs.append(c)
        ships.append(len(lead))
        days.append(max(lead.values(), default=-1.0))
    km_sum = [sum(k for i, k in km if i == j) for j in range(len(plans))]
    return costs, ships, km_sum, days, node_km, node_days
