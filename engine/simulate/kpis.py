"""KPIs of a replay: the per-day sums it records, the ratios derived from them, and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sourcewise.engine.simulate.config import KINDS

#: Per-day sums the replay records; every KPI is derived from them (see :func:`kpi_frame`).
SUM_COLUMNS: tuple[str, ...] = (
    "orders", "orders_shipped", "orders_routed", "orders_partial", "orders_unroutable",
    "units_ordered", "units_routed", "units_unfilled",
    "cost", "shipping", "handling", "vendor_fees", "split_penalty", "penalties",
    "shipments", "split_orders", "distance_km", "promised_days_sum", "orders_on_time",
    "units_warehouse", "units_store", "units_vendor",
    "pick_rejections", "vendor_failures", "resourced_orders", "reroute_errors", "rerouted_units",
    "written_off_units",
    "walkin_demand", "walkin_sold", "walkin_lost", "walkin_lost_online",
    "receipts", "receipts_units",
    "parcels_warehouse", "parcels_store", "parcels_vendor",
    "capacity_warehouse", "capacity_store", "capacity_vendor",
    "oversell", "ledger_mismatch",
)


#: KPI columns of :func:`kpi_frame`, after ``strategy``, ``day`` and ``date``.
KPI_COLUMNS: tuple[str, ...] = (
    "cost_per_order", "shipping_per_order", "handling_per_order", "vendor_fees_per_order",
    "split_penalty_per_order", "penalties_per_order", "shipments_per_order", "split_rate",
    "fill_rate", "cancel_rate", "backorder_rate",
    "share_warehouse", "share_store", "share_vendor",
    "avg_distance_km", "promised_days", "on_time_rate",
    "walkin_stockout_rate", "walkin_lost_online_rate",
    "util_warehouse", "util_store", "util_vendor",
)


def _ratio(a, b) -> np.ndarray:
    """``a / b`` elementwise, NaN where ``b`` is not positive (a day without orders has no rate)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=b > 0)
    return out


def kpi_frame(daily: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """KPIs per strategy × day plus a ``total`` row per strategy.

    Parameters
    ----------
    daily : dict of str to DataFrame
        :attr:`StrategyResult.daily` per strategy.

    Returns
    -------
    DataFrame
        ``strategy, day, date`` (``day`` empty and ``date == "total"`` on
        total rows), the ratios of :data:`KPI_COLUMNS` (recomputed from the
        summed counts on total rows, never averaged) and the raw sums of
        :data:`SUM_COLUMNS`. Per order means count orders that shipped at
        least one unit; ``cancel_rate`` is the share of orders nothing could
        be sourced for, ``backorder_rate`` the share partly sourced;
        utilization is parcels over the daily order capacity of
        capacity-limited nodes of that kind.
    """
    parts = []
    for name, df in daily.items():
        df = df.copy()
        total = df[list(SUM_COLUMNS)].sum(numeric_only=True).to_frame().T
        total["oversell"] = df["oversell"].max() if len(df) else 0
        total["day"] = pd.NA
        total["date"] = "total"
        both = pd.concat([df, total], ignore_index=True)
        both.insert(0, "strategy", name)
        parts.append(both)
    k = pd.concat(parts, ignore_index=True)
    k["day"] = k["day"].astype("Int64")
    shipped = k["orders_shipped"]
    k["cost_per_order"] = _ratio(k["cost"], shipped)
    for c in ("shipping", "handling", "vendor_fees", "split_penalty", "penalties"):
        k[f"{c}_per_order"] = _ratio(k[c], shipped)
    k["shipments_per_order"] = _ratio(k["shipments"], shipped)
    k["split_rate"] = _ratio(k["split_orders"], shipped)
    k["fill_rate"] = _ratio(k["units_routed"], k["units_ordered"])
    k["cancel_rate"] = _ratio(k["orders_unroutable"], k["orders"])
    k["backorder_rate"] = _ratio(k["orders_partial"], k["orders"])
    for kind in KINDS:
        k[f"share_{kind}"] = _ratio(k[f"units_{kind}"], k["units_routed"])
        k[f"util_{kind}"] = _ratio(k[f"parcels_{kind}"], k[f"capacity_{kind}"])
    k["avg_distance_km"] = _ratio(k["distance_km"], k["shipments"])
    k["promised_days"] = _ratio(k["promised_days_sum"], shipped)
    k["on_time_rate"] = _ratio(k["orders_on_time"], shipped)
    k["walkin_stockout_rate"] = _ratio(k["walkin_lost"], k["walkin_demand"])
    k["walkin_lost_online_rate"] = _ratio(k["walkin_lost_online"], k["walkin_demand"])
    ints = [c for c in SUM_COLUMNS if c not in ("cost", "shipping", "handling", "vendor_fees", "split_penalty",
                                                 "penalties", "distance_km", "promised_days_sum")]
    k[ints] = k[ints].astype(np.int64)
    return k[["strategy", "day", "date", *KPI_COLUMNS, *SUM_COLUMNS]]


def check_invariants(kpis: pd.DataFrame) -> list[str]:
    """Invariants every KPI table must satisfy; returns the violations (empty when all hold).

    * no oversell;
    * units routed + units unfilled == units ordered;
    * shipping + handling + vendor fees + split penalty + penalties == cost.
    """
    bad = []
    for _, r in kpis.iterrows():
        where = f"{r['strategy']} {r['date']}"
        if r["oversell"] != 0:
            bad.append(f"{where}: oversell {r['oversell']}")
        if r["units_routed"] + r["units_unfilled"] != r["units_ordered"]:
            bad.append(f"{where}: routed {r['units_routed']} + unfilled {r['units_unfilled']} "
                       f"!= ordered {r['units_ordered']}")
        parts = r["shipping"] + r["handling"] + r["vendor_fees"] + r["split_penalty"] + r["penalties"]
        if not math.isclose(parts, r["cost"], rel_tol=1e-9, abs_tol=1e-6):
            bad.append(f"{where}: cost components {parts:.6f} != total {r['cost']:.6f}")
    return bad


__all__ = ["KPI_COLUMNS", "SUM_COLUMNS", "check_invariants", "kpi_frame"]
