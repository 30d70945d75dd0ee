"""Why an order line was not fully routed: one reason code and one sentence per line.

The kernels decide and say nothing about the units they leave: reasons are
worked out here, in Python, after routing and only for orders with unfilled
units, so a routed order never pays for them. The diagnosis replays the
gates a node with stock passes before the kernels may use it, in the order
the router applies them, against the stock and capacity the order met:

1. the node is usable and in a sourcing tier open to the order's channel
   (else ``not_eligible``);
2. it is within the tier's ``max_distance_km`` (and the same-day radius for
   a same-day line): ``too_far``;
3. a same-day line: the order came before the node's cutoff: ``past_cutoff``;
4. it would keep the service level's promise when ``late = "exclude"``:
   ``late_excluded``;
5. it has an order slot and units left today: ``capacity_full``;
6. it passed every gate and still did not ship: the order's split limit
   (``max_shipments``, 1 without ``allow_split``) allowed no further
   parcel or no plan within it: ``split_limit``.

A line's code is the furthest gate any node holding its SKU reached (in
the order of :data:`~sourcewise.models.decision.REASON_CODES`); without any
such node it is ``no_stock``, or ``vendor_failed`` when a vendor offering
the SKU failed its live check. Pickup lines have their own:
``pickup_not_offered`` (the store takes no pickups) and
``pickup_store_empty`` (it lacks the units, and no transfer covered them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field

import numpy as np

from sourcewise.engine import _kernels as K
from sourcewise.models.decision import REASON_CODES
from sourcewise.models.decision import LineReason

# the gates of a node with stock, furthest first (a node that failed a later gate got further)
_GATE_RANK = {code: i for i, code in enumerate(REASON_CODES)}


@dataclass
class OrderMoment:
    """What the router knew about an order right after routing it, for its reasons.

    ``atp``, ``cap_orders`` and ``cap_units`` are the stock and today's
    capacity left at that moment (for a batch order: before later orders of
    its batch took theirs); ``used`` are the nodes already shipping for it.
    """

    dest: np.ndarray
    hour: float
    deadline: float
    service_level: str
    channel: str | None
    k: int
    ships: int
    used: set[int]
    atp: np.ndarray
    cap_orders: np.ndarray
    cap_units: np.ndarray
    vendor_failures: dict[str, str] = field(default_factory=dict)


def _node_gate(router, n: int, s: int, method: str, m: OrderMoment, miles: float) -> tuple[str, str]:
    """The first gate node ``n`` (holding SKU ``s`` with ATP left) fails for the line, with its detail."""
    net, pol = router.network, router.policy
    node_id = net.nodes[n].node_id
    tiers = [t for t, tier in enumerate(pol.tiers)
             if (not tier.channels or m.channel in tier.channels) and router._tier_masks[t, n]]
    if not net.usable[n] or not tiers:
        return "not_eligible", node_id
    reach = max(router._tier_miles[t] for t in tiers)
    if method == "same_day":
        reach = min(reach, pol.methods.same_day_radius_km / K.MILE_KM)
    if miles > reach:
        return "too_far", f"{node_id}, {miles * K.MILE_KM:,.0f} km"
    if method == "same_day" and m.hour >= net.cutoff_hour[n]:
        return "past_cutoff", f"{node_id}, cutoff {net.cutoff_hour[n]:g}:00"
    if method == "ship" and m.deadline >= 0 and pol.service.late == "exclude":
        lead = float(K.lead_days(n, miles, m.hour, router._nodef, router._bands))
        if lead > m.deadline:
            return "late_excluded", f"{node_id}: {math.ceil(lead)} days"
    if m.cap_units[n] <= 0 or (n not in m.used and m.cap_orders[n] <= 0):
        return "capacity_full", node_id
    return "split_limit", node_id


def _text(code: str, sku: str, detail: str, m: OrderMoment, failures: list[str]) -> str:
    if code == "split_limit":
        if m.ships >= m.k:
            return (f"the order's limit of {m.k} shipment(s) was used up; {detail} had {sku} "
                    "for another parcel")
        return f"no plan of at most {m.k} shipment(s) covered it ({detail} had {sku})"
    if code == "capacity_full":
        return f"every node with {sku} in reach was at today's capacity (e.g. {detail})"
    if code == "late_excluded":
        return (f"every node with {sku} would miss the {m.service_level} promise of {m.deadline:g} day(s) "
                f"(e.g. {detail})")
    if code == "past_cutoff":
        return f"every node with {sku} within the same-day radius was past its cutoff (e.g. {detail})"
    if code == "too_far":
        return f"every node with {sku} was beyond its tier's reach (nearest {detail})"
    if code == "not_eligible":
        channel = f" for channel {m.channel!r}" if m.channel else ""
        return f"the nodes with {sku} were disabled or in no sourcing tier{channel} (e.g. {detail})"
    if code == "vendor_failed":
        return f"no own stock of {sku}, and the vendors offering it failed their live check ({'; '.join(failures)})"
    return f"no node had {sku} available to promise"


def line_reason(router, s: int, method: str, pickup_node: str | None, m: OrderMoment) -> tuple[str, str]:
    """Reason code and sentence for a line of SKU position ``s`` that kept unfilled units."""
    net, inv, pol = router.network, router._inv, router.policy
    sku = net.skus[s].sku
    if method == "pickup":
        n = net.node_index[pickup_node]
        store = net.nodes[n]
        if not (store.pickup and store.enabled):
            return "pickup_not_offered", f"{pickup_node} does not offer pickup"
        tail = ("; no node within the transfer radius had it" if pol.methods.pickup_transfer
                else "; transfers are off")
        return "pickup_store_empty", f"pickup store {pickup_node} lacked {sku}{tail}"
    lo, hi = int(inv.sku_ptr[s]), int(inv.sku_ptr[s + 1])
    nodes = inv.node[lo:hi][m.atp[lo:hi] > 0]
    best, detail = "no_stock", ""
    if len(nodes):
        miles = K.distance_miles(m.dest, router._nodef, np.ascontiguousarray(nodes, np.int64))
        for i in np.argsort(miles, kind="stable"):
            code, what = _node_gate(router, int(nodes[i]), s, method, m, float(miles[i]))
            if _GATE_RANK[code] < _GATE_RANK[best]:
                best, detail = code, what
    failures: list[str] = []
    if best in ("no_stock", "not_eligible", "too_far") and m.vendor_failures and router._offers is not None:
        offered = {net.nodes[v].node_id for v in router._offers.vendors_for(s)}
        failures = [f"{v}: {why}" for v, why in m.vendor_failures.items() if v in offered]
        if failures:
            best = "vendor_failed"
    return best, _text(best, sku, detail, m, failures)


def order_reasons(router, lines, left, sku_idx, m: OrderMoment) -> tuple[LineReason, ...]:
    """One :class:`LineReason` per line with units ``left`` unfilled.

    ``lines`` are the order's :class:`~sourcewise.models.order.OrderLine`
    values (or anything with ``line_id``, ``sku``, ``method`` and
    ``pickup_node``), ``sku_idx`` their SKU positions.
    """
    out = []
    memo: dict[tuple, tuple[str, str]] = {}
    for line, s, units in zip(lines, sku_idx, left, strict=True):
        if units <= 0:
            continue
        key = (s, line.method, line.pickup_node)
        if key not in memo:
            memo[key] = line_reason(router, s, line.method, line.pickup_node, m)
        code, text = memo[key]
        out.append(LineReason(line.line_id, line.sku, int(units), code, text))
    return tuple(out)


def order_reason(reasons: tuple[LineReason, ...]) -> tuple[str, str]:
    """The order's code (that of the line with the most unfilled units) and its sentence.

    The sentence names each line's reason; lines sharing a sentence are named together.
    """
    if not reasons:
        return "", ""
    main = max(reasons, key=lambda r: r.units)
    by_text: dict[str, list[str]] = {}
    for r in reasons:
        by_text.setdefault(r.text, []).append(r.line_id)
    parts = [f"line{'s' if len(ids) > 1 else ''} {', '.join(ids)}: {text}" for text, ids in by_text.items()]
    return main.code, "; ".join(parts)
