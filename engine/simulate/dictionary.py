"""The data dictionary of the simulation's tables: the unit and meaning of every column.

:func:`dictionary_frame` gives one row per (table, column) for the tables
the report writes (``kpis.csv``, ``kpis_total.csv``, ``nodes.csv``,
``node_days.csv``, and ``as_recorded.csv`` for journal replays); the report
writes it as ``dictionary.csv`` beside them and shows it in ``report.html``. ``{cur}`` in a unit stands for the policy's
currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence

import pandas as pd

from sourcewise.engine.simulate.config import KINDS

_KIND_PLURAL = {"warehouse": "warehouses", "store": "stores", "vendor": "vendors"}

#: Definition of the perfect order, as the report states it.
PERFECT_ORDER = ("an order whose every unit was routed (status routed), whose one promise to the customer "
                 "(the latest parcel's promised days, plus a day when a parcel was re-sourced) is within its "
                 "service level's promise, and none of whose units is a substitute SKU")

#: Column -> (unit, meaning); shared by every table that has the column unless :data:`_BY_TABLE` says otherwise.
COLUMNS: dict[str, tuple[str, str]] = {
    "strategy": ("", "replayed strategy (cost, priority, nearest, high_stock, dual, batchN; as_recorded for "
                     "journals)"),
    "day": ("day", "day of the replay, 0 for the first"),
    "date": ("date", "calendar date of the day (ISO)"),
    "days": ("days", "days the row covers (1 on daily rows, the horizon on totals)"),
    # cost
    "cost_per_order": ("{cur}/order", "total cost (shipping + handling + vendor fees + split penalty + penalties) "
                                      "per order that shipped at least one unit"),
    "cost_per_unit": ("{cur}/unit", "total cost per unit routed"),
    "shipments_per_order": ("parcels/order", "parcels per order that shipped at least one unit (pickups excluded)"),
    "split_rate": ("fraction", "share of shipped orders sent in more than one parcel"),
    "fill_rate": ("fraction", "units routed / units ordered"),
    "lost_sales_value": ("{cur}", "list-price value of the units ordered but not routed "
                                  "(sales_value_ordered - sales_value_routed)"),
    "lost_sales_rate": ("fraction", "lost_sales_value / sales_value_ordered"),
    "unsourced_rate": ("fraction", "share of orders nothing could be routed for; their units stay open "
                                   "backorders (the replay does not assume they are cancelled)"),
    "backorder_rate": ("fraction", "share of orders partly routed; the rest of their units stay open backorders"),
    "perfect_order_rate": ("fraction", "share of orders that were perfect: " + PERFECT_ORDER),
    "processing_days": ("days", "order processing time, order to ship: per shipped order, the latest parcel's "
                                "node processing days, plus a day when the order reached the node after its "
                                "cutoff hour (for batch strategies, when the wave was released), plus the day a "
                                "re-sourced parcel loses"),
    "promised_days": ("days", "promised delivery days per shipped order (latest parcel: processing, cutoff wait "
                              "and transit band, plus a day when re-sourced)"),
    "on_time_rate": ("fraction", "share of shipped orders whose promised days are within the service level's "
                                 "promise: a promise-vs-service-level check, not a delivery measurement"),
    "avg_distance_km": ("km/parcel", "great-circle distance per parcel"),
    "stockout_rate": ("fraction", "stockout_sku_store_days / store_sku_days"),
    "walkin_lost_rate": ("fraction", "walk-in demand lost: walkin_lost / walkin_demand (units shoppers wanted)"),
    "walkin_lost_online_rate": ("fraction", "walkin_lost_online / walkin_demand"),
    "backorder_age_days": ("days", "mean age of the open backordered units at the end of the day "
                                   "(backorder_unit_days_open / backorder_units_open)"),
    # recorded sums
    "orders": ("orders", "orders placed"),
    "orders_shipped": ("orders", "orders with at least one unit routed"),
    "orders_routed": ("orders", "orders with every unit routed"),
    "orders_partial": ("orders", "orders with some units routed"),
    "orders_unroutable": ("orders", "orders with no unit routed"),
    "units_ordered": ("units", "units ordered"),
    "units_routed": ("units", "units routed (and shipped at the end of the day)"),
    "units_unfilled": ("units", "units no node could ship (left as backorders)"),
    "cost": ("{cur}", "total cost of the day's orders"),
    "shipping": ("{cur}", "parcel shipping cost (per shipment, per unit, per unit-mile, per kg)"),
    "handling": ("{cur}", "node handling cost (per shipment and per unit)"),
    "vendor_fees": ("{cur}", "marketplace vendor fees (fee rate x item price, or the vendor offer's)"),
    "split_penalty": ("{cur}", "policy split penalty per parcel beyond the first"),
    "penalties": ("{cur}", "lateness and store-depletion penalties"),
    "shipments": ("parcels", "parcels shipped (pickups excluded)"),
    "split_orders": ("orders", "shipped orders sent in more than one parcel"),
    "distance_km": ("km", "great-circle distance summed over parcels"),
    "promised_days_sum": ("days", "promised days summed over shipped orders"),
    "orders_on_time": ("orders", "shipped orders promised within their service level"),
    "pick_rejections": ("orders", "store picks that failed and were re-sourced"),
    "vendor_failures": ("orders", "vendor parcels that failed and were re-sourced"),
    "resourced_orders": ("orders", "orders released and routed again after a vendor failure"),
    "reroute_errors": ("orders", "failed picks or parcels the router could not re-source"),
    "rerouted_units": ("units", "units re-sourced after a failed pick or vendor parcel"),
    "written_off_units": ("units", "units a failed pick or parcel showed were not there, removed from stock"),
    "walkin_demand": ("units", "units walk-in shoppers wanted at stores"),
    "walkin_sold": ("units", "walk-in units sold"),
    "walkin_lost": ("units", "walk-in units not sold for lack of free stock"),
    "walkin_lost_online": ("units", "walk-in units lost that the day's online orders took from that store and SKU"),
    "receipts": ("receipts", "replenishment receipts landed"),
    "receipts_units": ("units", "units received"),
    "oversell": ("entries", "inventory entries the independent ledger shows below zero (must be 0; totals: highest)"),
    "ledger_mismatch": ("entries", "entries where the router and the ledger disagree (must be 0)"),
    "sales_value_ordered": ("{cur}", "units ordered x SKU list price"),
    "sales_value_routed": ("{cur}", "units routed x SKU list price"),
    "orders_perfect": ("orders", "perfect orders: " + PERFECT_ORDER),
    "orders_substituted": ("orders", "orders with a unit of a SKU they did not order"),
    "processing_days_sum": ("days", "order processing days (see processing_days) summed over shipped orders"),
    "store_sku_days": ("SKU-store-days", "store x SKU pairs stocked (inventory entries at stores) x days"),
    "stockout_sku_store_days": ("SKU-store-days", "store x SKU pairs with no unit on hand at the end of the day"),
    "orders_foreign": ("orders", "orders whose destination is outside every node's country (flagged: routed on "
                                 "the domestic cost model)"),
    "orders_out_of_reach": ("orders", "orders whose destination is farther than every node's service radius "
                                      "(flagged)"),
    "decisions": ("decisions", "journal replays: decisions the recorded history made this day (a routing, each "
                               "order of a batch, a re-route, a swapped plan); 0 for generated scenarios"),
    "decisions_as_recorded": ("decisions", "journal replays: recorded decisions this replay made exactly so (same "
                                           "allocations, shipments, costs, promise and status; the strategy's name "
                                           "aside)"),
    "adjust_short_units": ("units", "journal replays: units of recorded stock decreases (adjustments, re-route "
                                    "corrections) this replay could not take because its open orders held them"),
    "backorder_orders_open": ("orders", "orders with units left unfilled so far (open at the end of the day; the "
                                        "replay does not source backorders later)"),
    "backorder_units_open": ("units", "units left unfilled so far, open at the end of the day"),
    "backorder_unit_days_open": ("unit-days", "open backordered units x their age in days, at the end of the day"),
    "backorder_age_max_days": ("days", "age of the oldest open backorder at the end of the day"),
    # nodes.csv and node_days.csv
    "node_id": ("", "node"),
    "kind": ("", "warehouse, store or vendor"),
    "lat": ("degrees", "latitude"),
    "lon": ("degrees", "longitude"),
    "units": ("units", "units the node shipped"),
    "parcels": ("parcels", "parcels the node shipped"),
    "util_orders": ("fraction", "parcels / capacity_orders (empty for unlimited nodes)"),
    "util_units": ("fraction", "units / capacity_units (empty for unlimited nodes)"),
}
for _part, _what in (("shipping", "shipping"), ("handling", "handling"), ("vendor_fees", "vendor fees"),
                     ("split_penalty", "split penalty"), ("penalties", "penalties")):
    COLUMNS[f"{_part}_per_order"] = ("{cur}/order", f"{_what} per order that shipped at least one unit")
    COLUMNS[f"{_part}_per_unit"] = ("{cur}/unit", f"{_what} per unit routed")
for _k in KINDS:
    _pl = _KIND_PLURAL[_k]
    COLUMNS[f"share_{_k}"] = ("fraction", f"share of units routed from {_pl}")
    COLUMNS[f"spend_share_{_k}"] = ("fraction", f"share of the routed merchandise value (units x SKU list price) "
                                                f"sourced from {_pl}")
    COLUMNS[f"util_{_k}"] = ("fraction", f"parcels / daily order capacity of capacity-limited {_pl}")
    COLUMNS[f"peak_util_{_k}"] = ("fraction", f"the busiest capacity-limited {_k}'s parcels / its daily order "
                                              "capacity (totals: highest day)")
    COLUMNS[f"days_of_supply_{_k}"] = ("days", f"ending_units_{_k} / units leaving {_pl} per day (online units"
                                               + (" plus walk-in sales" if _k == "store" else "")
                                               + "; totals: the horizon's daily mean)")
    COLUMNS[f"units_{_k}"] = ("units", f"units routed from {_pl}")
    COLUMNS[f"value_{_k}"] = ("{cur}", f"units routed from {_pl} x SKU list price")
    COLUMNS[f"parcels_{_k}"] = ("parcels", f"parcels from capacity-limited {_pl}")
    COLUMNS[f"capacity_{_k}"] = ("parcels", f"daily order capacity of capacity-limited {_pl}")
    COLUMNS[f"ending_units_{_k}"] = ("units", f"units on hand at {_pl} at the end of the day (independent ledger; "
                                              "totals: last day)")
    COLUMNS[f"ending_value_{_k}"] = ("{cur}", f"ending_units_{_k} x SKU list price")

#: Columns whose meaning differs by table.
_BY_TABLE: dict[tuple[str, str], tuple[str, str]] = {
    ("nodes.csv", "capacity_orders"): ("parcels", "order capacity over the horizon (-1: unlimited)"),
    ("nodes.csv", "utilization"): ("fraction", "parcels / capacity_orders (empty for unlimited nodes)"),
    ("nodes.csv", "units"): ("units", "units the node shipped over the horizon"),
    ("nodes.csv", "parcels"): ("parcels", "parcels the node shipped over the horizon"),
    ("node_days.csv", "capacity_orders"): ("parcels/day", "daily order capacity (-1: unlimited)"),
    ("node_days.csv", "capacity_units"): ("units/day", "daily unit capacity (-1: unlimited)"),
    ("kpis_total.csv", "days"): ("days", "days in the horizon"),
    ("as_recorded.csv", "seq"): ("", "the ledger entry (journal seq) that recorded the decision"),
    ("as_recorded.csv", "day"): ("day", "business day of the replay the decision was made on, 0 for the first"),
    ("as_recorded.csv", "date"): ("date", "that business day (ISO)"),
    ("as_recorded.csv", "kind"): ("", "what made the decision: route, batch (an order of a route_many batch), "
                                      "reroute or swap (an optimizer re-plan)"),
    ("as_recorded.csv", "order_id"): ("", "the order"),
    ("as_recorded.csv", "as_recorded"): ("", "whether this strategy's replay made exactly the recorded decision "
                                             "(allocations, shipments, costs, promise, status)"),
}


def describe(table: str, column: str, currency: str = "USD") -> tuple[str, str]:
    """Unit and meaning of ``column`` of ``table``.

    Raises
    ------
    KeyError
        For a column the dictionary does not know (a test keeps every written column known).
    """
    unit, meaning = _BY_TABLE.get((table, column)) or COLUMNS[column]
    return unit.format(cur=currency), meaning


def dictionary_frame(tables: Mapping[str, Sequence[str]], currency: str = "USD") -> pd.DataFrame:
    """One row per (table, column): ``table, column, unit, meaning``."""
    rows = [(t, c, *describe(t, c, currency)) for t, cols in tables.items() for c in cols]
    return pd.DataFrame(rows, columns=["table", "column", "unit", "meaning"])


__all__ = ["COLUMNS", "PERFECT_ORDER", "describe", "dictionary_frame"]
