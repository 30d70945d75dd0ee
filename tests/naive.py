"""Slow, obviously correct reference twins of the routing kernels."""

from __future__ import annotations

import itertools
import math

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


def brute_force(net, policy, inv_atp: dict, demand: dict[int, int], dest, k: int):
    """Every integer allocation within ATP and the shipment limit; best is
    maximum units first, then minimum cost. Returns ``(fill, cost)``."""
    cands = candidates(net, inv_atp, list(demand))
    per_sku = []
    for s, q in demand.items():
        holders = [n for n in cands if inv_atp.get((n, s), 0) > 0]
        options = []
        for xs in itertools.product(*[range(min(q, inv_atp[(n, s)]) + 1) for n in holders]):
            if sum(xs) <= q:
                options.append({(n, s): x for n, x in zip(holders, xs, strict=True) if x})
        per_sku.append(options or [{}])
    best = (-1, math.inf)
    for combo in itertools.product(*per_sku):
        alloc: dict = {}
        for part in combo:
            alloc.update(part)
        if len({n for n, _ in alloc}) > k:
            continue
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
