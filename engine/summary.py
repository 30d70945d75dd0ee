"""Human-readable summaries of routing results, and how commands print them.

A command's summary (what it did, what it wrote) goes through :func:`say`:
an INFO record on the ``sourcewise.summary`` logger, which the command line
prints on stdout and ``--quiet`` silences. Output a command was asked for
(``adapt``'s JSON response) is data, not a summary, and is printed as is.
"""

from __future__ import annotations

import logging
import sys

import pandas as pd
from tqdm import tqdm

from sourcewise.models.network import Network

#: The commands' summaries; see :func:`say`.
SUMMARY = logging.getLogger("sourcewise.summary")


def say(text: str = "") -> None:
    """Print ``text`` as part of a command's summary: on stdout, unless ``--quiet``.

    Without the command line's logging set up (a library caller), the
    record goes where the caller's logging sends INFO records of
    ``sourcewise.summary``, by default nowhere.
    """
    SUMMARY.info(text)


def progress_bar(**kwargs) -> tqdm:
    """A progress bar on stderr, hidden under ``--quiet`` (and wherever summaries are not printed)."""
    kwargs["disable"] = kwargs.get("disable", False) or not SUMMARY.isEnabledFor(logging.INFO)
    return tqdm(file=sys.stderr, **kwargs)


def routing_summary(orders: pd.DataFrame, allocations: pd.DataFrame, network: Network) -> dict[str, float]:
    """Headline figures of a routed batch.

    Returns
    -------
    dict
        ``orders``, ``routed``, ``partial``, ``unroutable``, ``units``,
        ``unfilled``, ``shipments_per_order``, ``total_cost``,
        ``cost_per_order``, ``share_<kind>`` for each node kind and, when
        the orders table has ``reason``, ``reason_<code>``: how many orders
        not fully routed carry each reason code, most frequent first.
    """
    n = len(orders)
    status = orders["status"].value_counts()
    shipped = orders[orders["units"] > 0]
    out: dict[str, float] = {
        "orders": n,
        "routed": int(status.get("routed", 0)),
        "partial": int(status.get("partial", 0)),
        "unroutable": int(status.get("unroutable", 0)),
        "units": int(allocations["qty"].sum()),
        "unfilled": int(orders["unfilled"].sum()),
        "shipments_per_order": float(shipped["shipments"].mean()) if len(shipped) else 0.0,
        "total_cost": float(orders["cost"].sum()),
        "cost_per_order": float(shipped["cost"].mean()) if len(shipped) else 0.0,
    }
    kinds = pd.Series({nd.node_id: nd.kind.value for nd in network.nodes})
    by_kind = allocations.groupby(allocations["node_id"].map(kinds))["qty"].sum()
    total = max(1, out["units"])
    for kind in ("warehouse", "store", "vendor"):
        out[f"share_{kind}"] = float(by_kind.get(kind, 0)) / total
    if "reason" in orders:
        # orders not fully routed, by reason code, most frequent first
        counts = orders.loc[orders["reason"].astype(str) != "", "reason"].astype(str).value_counts()
        for code, k in counts.items():
            out[f"reason_{code}"] = int(k)
    return out


def format_summary(s: dict[str, float], title: str = "Routing summary") -> str:
    lines = [
        title,
        f"  orders            {s['orders']:>12,}  (routed {s['routed']:,}, partial {s['partial']:,}, "
        f"unroutable {s['unroutable']:,})",
        f"  units allocated   {s['units']:>12,}  (unfilled {s['unfilled']:,})",
        f"  shipments/order   {s['shipments_per_order']:>12.3f}",
        f"  total cost        {s['total_cost']:>12,.2f}",
        f"  cost per order    {s['cost_per_order']:>12.2f}",
        "  units by node kind "
        + ", ".join(f"{k} {100 * s[f'share_{k}']:.1f}%" for k in ("warehouse", "store", "vendor")),
    ]
    reasons = [(key[len("reason_"):], int(v)) for key, v in s.items() if key.startswith("reason_")]
    if reasons:
        lines.append("  not fully routed, by reason")
        lines.extend(f"    {code:<20}{k:>9,}" for code, k in reasons)
    return "\n".join(lines)
