"""KPIs of a replay: the per-day figures it records, the ratios derived from them, and their invariants.

What the replay records per strategy and day comes in three kinds, which
differ in how a ``total`` row (the whole horizon) combines the days:

* :data:`SUM_COLUMNS`: counts and money over the day; totals add them up;
* :data:`LEVEL_COLUMNS`: stock and backorders at the end of the day; totals
  take the last day's;
* :data:`MAX_COLUMNS`: the day's peaks; totals take the highest.

Every KPI of :data:`KPI_COLUMNS` is a ratio of recorded figures, recomputed
on total rows from the combined figures, never averaged over days. The
meaning and unit of every column are in
:mod:`sourcewise.engine.simulate.dictionary`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sourcewise.engine.simulate.config import KINDS

#: Per-day sums the replay records; totals add them up (``oversell`` takes the highest).
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
    "sales_value_ordered", "sales_value_routed", "value_warehouse", "value_store", "value_vendor",
    "orders_perfect", "orders_substituted", "processing_days_sum",
    "store_sku_days", "stockout_sku_store_days",
    "orders_foreign", "orders_out_of_reach",
    "decisions", "decisions_as_recorded", "adjust_short_units",
)

#: End-of-day levels the replay records; totals take the last day's.
LEVEL_COLUMNS: tuple[str, ...] = (
    "ending_units_warehouse", "ending_units_store", "ending_units_vendor",
    "ending_value_warehouse", "ending_value_store", "ending_value_vendor",
    "backorder_orders_open", "backorder_units_open", "backorder_unit_days_open", "backorder_age_max_days",
)

#: The day's peaks the replay records; totals take the highest.
MAX_COLUMNS: tuple[str, ...] = ("peak_util_warehouse", "peak_util_store", "peak_util_vendor")

#: Everything the replay records per day.
RECORDED_COLUMNS: tuple[str, ...] = SUM_COLUMNS + LEVEL_COLUMNS + MAX_COLUMNS

#: Money columns among the recorded ones (in the policy's currency).
MONEY_SUMS: tuple[str, ...] = ("cost", "shipping", "handling", "vendor_fees", "split_penalty", "penalties",
                               "sales_value_ordered", "sales_value_routed", "value_warehouse", "value_store",
                               "value_vendor", "ending_value_warehouse", "ending_value_store",
                               "ending_value_vendor")
_FLOATS = frozenset(MONEY_SUMS) | {"distance_km", "promised_days_sum", "processing_days_sum", *MAX_COLUMNS}

COST_PARTS: tuple[str, ...] = ("shipping", "handling", "vendor_fees", "split_penalty", "penalties")

#: KPI columns of :func:`kpi_frame`, after ``strategy``, ``day``, ``date`` and ``days``.
KPI_COLUMNS: tuple[str, ...] = (
    "cost_per_order", "shipping_per_order", "handling_per_order", "vendor_fees_per_order",
    "split_penalty_per_order", "penalties_per_order",
    "cost_per_unit", "shipping_per_unit", "handling_per_unit", "vendor_fees_per_unit",
    "split_penalty_per_unit", "penalties_per_unit",
    "shipments_per_order", "split_rate",
    "fill_rate", "lost_sales_value", "lost_sales_rate", "unsourced_rate", "backorder_rate",
    "perfect_order_rate", "processing_days", "promised_days", "on_time_rate",
    "share_warehouse", "share_store", "share_vendor",
    "spend_share_warehouse", "spend_share_store", "spend_share_vendor",
    "avg_distance_km",
    "days_of_supply_warehouse", "days_of_supply_store", "days_of_supply_vendor",
    "stockout_rate", "walkin_lost_rate", "walkin_lost_online_rate",
    "backorder_age_days",
    "util_warehouse", "util_store", "util_vendor",
)


def _ratio(a, b) -> np.ndarray:
    """``a / b`` elementwise, NaN where ``b`` is not positive (a day without orders has no rate)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=b > 0)
    return out


def _total(df: pd.DataFrame) -> pd.DataFrame:
    """The ``total`` row of one strategy's days."""
    total = df[list(SUM_COLUMNS)].sum(numeric_only=True).to_frame().T
    total["oversell"] = df["oversell"].max() if len(df) else 0
    for c in LEVEL_COLUMNS:
        total[c] = df[c].iloc[-1] if len(df) else 0
    for c in MAX_COLUMNS:
        total[c] = df[c].max() if len(df) else np.nan
    total["day"] = pd.NA
    total["date"] = "total"
    total["days"] = len(df)
    return total


def kpi_frame(daily: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """KPIs per strategy × day plus a ``total`` row per strategy.

    Parameters
    ----------
    daily : dict of str to DataFrame
        :attr:`StrategyResult.daily` per strategy: ``day``, ``date`` and the
        recorded columns (:data:`RECORDED_COLUMNS`; any it lacks count as 0).

    Returns
    -------
    DataFrame
        ``strategy, day, date, days`` (``day`` empty and ``date == "total"``
        on total rows; ``days`` the days a row covers), the ratios of
        :data:`KPI_COLUMNS` (recomputed from the combined figures on total
        rows, never averaged) and the recorded columns. Per order means count
        orders that shipped at least one unit; per unit means count units
        routed. See :mod:`sourcewise.engine.simulate.dictionary` for each column.
    """
    parts = []
    for name, df in daily.items():
        df = df.reindex(columns=["day", "date", *RECORDED_COLUMNS], fill_value=0)
        df["days"] = 1
        both = pd.concat([df, _total(df)], ignore_index=True)
        both.insert(0, "strategy", name)
        parts.append(both)
    k = pd.concat(parts, ignore_index=True)
    k["day"] = k["day"].astype("Int64")
    shipped, units = k["orders_shipped"], k["units_routed"]
    k["cost_per_order"] = _ratio(k["cost"], shipped)
    k["cost_per_unit"] = _ratio(k["cost"], units)
    for c in COST_PARTS:
        k[f"{c}_per_order"] = _ratio(k[c], shipped)
        k[f"{c}_per_unit"] = _ratio(k[c], units)
    k["shipments_per_order"] = _ratio(k["shipments"], shipped)
    k["split_rate"] = _ratio(k["split_orders"], shipped)
    k["fill_rate"] = _ratio(units, k["units_ordered"])
    k["lost_sales_value"] = k["sales_value_ordered"] - k["sales_value_routed"]
    k["lost_sales_rate"] = _ratio(k["lost_sales_value"], k["sales_value_ordered"])
    k["unsourced_rate"] = _ratio(k["orders_unroutable"], k["orders"])
    k["backorder_rate"] = _ratio(k["orders_partial"], k["orders"])
    k["perfect_order_rate"] = _ratio(k["orders_perfect"], k["orders"])
    k["processing_days"] = _ratio(k["processing_days_sum"], shipped)
    k["promised_days"] = _ratio(k["promised_days_sum"], shipped)
    k["on_time_rate"] = _ratio(k["orders_on_time"], shipped)
    for kind in KINDS:
        k[f"share_{kind}"] = _ratio(k[f"units_{kind}"], units)
        k[f"spend_share_{kind}"] = _ratio(k[f"value_{kind}"], k["sales_value_routed"])
        k[f"util_{kind}"] = _ratio(k[f"parcels_{kind}"], k[f"capacity_{kind}"])
        # what leaves the kind's shelves per day: online units, and walk-in sales at stores
        used = k[f"units_{kind}"] + (k["walkin_sold"] if kind == "store" else 0)
        k[f"days_of_supply_{kind}"] = _ratio(k[f"ending_units_{kind}"], _ratio(used, k["days"]))
    k["avg_distance_km"] = _ratio(k["distance_km"], k["shipments"])
    k["stockout_rate"] = _ratio(k["stockout_sku_store_days"], k["store_sku_days"])
    k["walkin_lost_rate"] = _ratio(k["walkin_lost"], k["walkin_demand"])
    k["walkin_lost_online_rate"] = _ratio(k["walkin_lost_online"], k["walkin_demand"])
    k["backorder_age_days"] = _ratio(k["backorder_unit_days_open"], k["backorder_units_open"])
    ints = [c for c in RECORDED_COLUMNS if c not in _FLOATS]
    k[ints] = k[ints].astype(np.int64)
    k["days"] = k["days"].astype(np.int64)
    # one block per dtype: the columns were added one by one, and a fragmented frame slows every later insert
    return k[["strategy", "day", "date", "days", *KPI_COLUMNS, *RECORDED_COLUMNS]].copy()


def daily_rows(kpis: pd.DataFrame) -> pd.DataFrame:
    """The per-day rows of a :func:`kpi_frame` table (``kpis.csv``)."""
    return kpis[kpis["date"] != "total"].reset_index(drop=True)


def total_rows(kpis: pd.DataFrame) -> pd.DataFrame:
    """The ``total`` rows of a :func:`kpi_frame` table, one per strategy, without ``day`` and ``date`` (``kpis_total.csv``)."""
    return kpis[kpis["date"] == "total"].drop(columns=["day", "date"]).reset_index(drop=True)


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


__all__ = ["COST_PARTS", "KPI_COLUMNS", "LEVEL_COLUMNS", "MAX_COLUMNS", "MONEY_SUMS", "RECORDED_COLUMNS",
           "SUM_COLUMNS", "check_invariants", "daily_rows", "kpi_frame", "total_rows"]
