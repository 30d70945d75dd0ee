"""Simulation reports: the KPI table, a side-by-side summary and plots.

:func:`write_report` writes, into one folder:

* ``kpis.csv`` (and ``kpis.parquet`` with ``fmt="parquet"``): one row per
  strategy × day plus a ``total`` row per strategy (see
  :func:`sourcewise.engine.simulate.kpis.kpi_frame`);
* ``nodes.csv``: units, parcels and utilization per strategy × node;
* ``summary.md``: the strategies side by side, the run's settings and notes;
* ``cost_per_order.png``: cost per order by strategy, split into its components;
* ``splits.png``: shipments per order and the share of split orders;
* ``fill_rate.png``: fill rate per day and strategy;
* ``ship_from_map.png``: where units shipped from, per strategy (nodes at
  their coordinates, sized by units).

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas,
never through ``pyplot``, so no global backend or figure state is touched
(safe in Dask workers and threads).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sourcewise.engine.scenario import staged_output
from sourcewise.engine.simulate.kpis import check_invariants
from sourcewise.engine.simulate.replay import SimulationResult

#: Rows of the side-by-side table: label, KPI column, format.
SUMMARY_ROWS: tuple[tuple[str, str, str], ...] = (
    ("orders", "orders", "{:,.0f}"),
    ("cost per order", "cost_per_order", "{:.2f}"),
    ("  shipping", "shipping_per_order", "{:.2f}"),
    ("  handling", "handling_per_order", "{:.2f}"),
    ("  vendor fees", "vendor_fees_per_order", "{:.2f}"),
    ("  split penalty", "split_penalty_per_order", "{:.2f}"),
    ("  penalties", "penalties_per_order", "{:.2f}"),
    ("shipments per order", "shipments_per_order", "{:.3f}"),
    ("split orders", "split_rate", "{:.1%}"),
    ("fill rate", "fill_rate", "{:.1%}"),
    ("cancel rate", "cancel_rate", "{:.1%}"),
    ("backorder rate", "backorder_rate", "{:.1%}"),
    ("units from warehouses", "share_warehouse", "{:.1%}"),
    ("units from stores", "share_store", "{:.1%}"),
    ("units from vendors", "share_vendor", "{:.1%}"),
    ("avg distance km / parcel", "avg_distance_km", "{:,.0f}"),
    ("promised days", "promised_days", "{:.2f}"),
    ("on-time rate", "on_time_rate", "{:.1%}"),
    ("walk-in stock-outs", "walkin_lost", "{:,.0f}"),
    ("  caused by online orders", "walkin_lost_online", "{:,.0f}"),
    ("pick rejections re-routed", "pick_rejections", "{:,.0f}"),
    ("vendor failures re-routed", "vendor_failures", "{:,.0f}"),
    ("warehouse utilization", "util_warehouse", "{:.1%}"),
    ("store utilization", "util_store", "{:.1%}"),
    ("vendor utilization", "util_vendor", "{:.1%}"),
    ("oversold entries", "oversell", "{:,.0f}"),
)

COST_PARTS: tuple[tuple[str, str], ...] = (
    ("shipping", "shipping_per_order"), ("handling", "handling_per_order"),
    ("vendor fees", "vendor_fees_per_order"), ("split penalty", "split_penalty_per_order"),
    ("penalties", "penalties_per_order"),
)
KIND_COLORS = {"warehouse": "#1f77b4", "store": "#2ca02c", "vendor": "#d62728"}

REPORT_FILES: tuple[str, ...] = ("kpis.csv", "nodes.csv", "summary.md", "cost_per_order.png", "splits.png",
                                 "fill_rate.png", "ship_from_map.png")


def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or pd.isna(value):
        return "-"
    return spec.format(value)


def comparison_table(kpis: pd.DataFrame, rows: Sequence[tuple[str, str, str]] = SUMMARY_ROWS) -> pd.DataFrame:
    """The strategies' totals side by side: one row per metric, one column per strategy (formatted text)."""
    totals = kpis[kpis["date"] == "total"].set_index("strategy")
    out = {name: [_fmt(totals.at[name, col], spec) for _, col, spec in rows] for name in totals.index}
    return pd.DataFrame(out, index=[label for label, _, _ in rows])


def format_table(kpis: pd.DataFrame) -> str:
    """:func:`comparison_table` as aligned plain text, for the terminal."""
    t = comparison_table(kpis)
    label_w = max(len(s) for s in t.index)
    widths = [max(len(c), *(len(v) for v in t[c])) for c in t.columns]
    lines = [" " * label_w + "  " + "  ".join(c.rjust(w) for c, w in zip(t.columns, widths, strict=True))]
    for label, row in t.iterrows():
        lines.append(label.ljust(label_w) + "  " + "  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _markdown_table(t: pd.DataFrame) -> str:
    head = "| metric | " + " | ".join(t.columns) + " |"
    sep = "|---|" + "---:|" * len(t.columns)
    body = ["| " + label.strip() + (" (part)" if label.startswith("  ") else "") + " | " + " | ".join(row) + " |"
            for label, row in t.iterrows()]
    return "\n".join([head, sep, *body])


def summary_markdown(result: SimulationResult, title: str = "Simulation summary") -> str:
    """``summary.md``: settings, the side-by-side table, invariants and notes."""
    cfg = result.config
    kpis = result.kpis
    days = kpis[kpis["date"] != "total"]["date"].unique()
    problems = check_invariants(kpis)
    lines = [
        f"# {title}", "",
        f"- scenario: `{result.scenario_path or '(in memory)'}`",
        f"- days: {len(days)} ({days[0]} to {days[-1]})" if len(days) else "- days: 0",
        f"- seed: {cfg.seed}; store pick rejections: {cfg.pick_reject_rate:.1%} of orders shipped from a store; "
        f"vendor failures: {'1 - reliability per shipment' if cfg.vendor_failures else 'off'}; "
        f"walk-in sales: {'on' if cfg.walkin else 'off'}",
        "", "## Strategies side by side (whole horizon)", "",
        _markdown_table(comparison_table(kpis)), "",
        "Per order figures count orders that shipped at least one unit. Cancel rate: orders nothing could be "
        "sourced for; backorder rate: orders partly sourced. On time: promised days (plus a day when an order "
        f"was re-sourced) within the service level's promise ({', '.join(f'{k} {v:g} d' for k, v in cfg.sla)}, "
        "unless the policy sets a deadline). Utilization: parcels over the daily order capacity of "
        "capacity-limited nodes.", "",
        "## Invariants", "",
        "All hold: no oversell; units routed + units unfilled = units ordered; cost components add up to the "
        "total." if not problems else "\n".join(f"- VIOLATED: {p}" for p in problems), "",
        "## Run", "",
    ]
    for name, r in result.results.items():
        lines.append(f"- `{name}`: {r.seconds:.1f} s" + "".join(f"; {n}" for n in r.notes))
    lines += ["", "Files: " + ", ".join(f"`{f}`" for f in REPORT_FILES), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots
def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=110)


def plot_cost(kpis: pd.DataFrame, path: Path) -> None:
    """Stacked bars: cost per order by strategy, by component."""
    t = kpis[kpis["date"] == "total"].set_index("strategy")
    fig = Figure(figsize=(1.6 + 1.3 * len(t), 4.2))
    ax = fig.add_subplot()
    bottom = np.zeros(len(t))
    x = np.arange(len(t))
    for label, col in COST_PARTS:
        v = t[col].fillna(0).to_numpy(float)
        ax.bar(x, v, bottom=bottom, label=label, width=0.6)
        bottom += v
    for i, v in enumerate(t["cost_per_order"].fillna(0)):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, t.index, rotation=20)
    ax.set_ylabel("cost per shipped order")
    ax.set_title("Cost per order by strategy")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    _save(fig, path)


def plot_splits(kpis: pd.DataFrame, path: Path) -> None:
    """Shipments per order and the share of orders split over several parcels."""
    t = kpis[kpis["date"] == "total"].set_index("strategy")
    fig = Figure(figsize=(2.0 + 2.0 * len(t), 3.8))
    x = np.arange(len(t))
    for k, (col, label, fmt) in enumerate((("shipments_per_order", "shipments per order", "{:.3f}"),
                                           ("split_rate", "orders split", "{:.1%}"))):
        ax = fig.add_subplot(1, 2, k + 1)
        v = t[col].fillna(0).to_numpy(float)
        ax.bar(x, v, color="#8c564b" if k else "#9467bd", width=0.6)
        for i, y in enumerate(v):
            ax.text(i, y, fmt.format(y), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(x, t.index, rotation=20)
        ax.set_title(label)
        if k == 0:
            ax.set_ylim(min(1.0, v.min() if len(v) else 1.0) * 0.95, max(v.max() if len(v) else 1.0, 1.0) * 1.05)
    fig.suptitle("Splits by strategy")
    fig.tight_layout()
    _save(fig, path)


def plot_fill_rate(kpis: pd.DataFrame, path: Path) -> None:
    """Fill rate per day, one line per strategy."""
    d = kpis[kpis["date"] != "total"]
    fig = Figure(figsize=(7.5, 3.8))
    ax = fig.add_subplot()
    for name, g in d.groupby("strategy", sort=False):
        ax.plot(pd.to_datetime(g["date"]), g["fill_rate"], marker="o" if len(g) < 40 else None, label=name)
    ax.set_ylabel("fill rate (units routed / ordered)")
    ax.set_title("Fill rate per day")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.legend(fontsize=8)
    n_days = d["date"].nunique()
    ax.xaxis.set_major_locator(mdates.DayLocator(interval=max(1, n_days // 10)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    if n_days == 1:
        ax.set_xlim(pd.to_datetime(d["date"]).min() - pd.Timedelta(days=1),
                    pd.to_datetime(d["date"]).max() + pd.Timedelta(days=1))
    fig.autofmt_xdate()
    fig.tight_layout()
    _save(fig, path)


def plot_map(nodes: pd.DataFrame, path: Path, customers: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Where units shipped from: nodes at (lon, lat), area by units, colour by kind; one panel per strategy."""
    names = list(dict.fromkeys(nodes["strategy"]))
    cols = min(3, len(names))
    rows = int(np.ceil(len(names) / cols))
    fig = Figure(figsize=(4.6 * cols, 3.4 * rows + 0.4))
    top = max(1.0, float(nodes["units"].max()))
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        g = nodes[nodes["strategy"] == name]
        if customers is not None:
            ax.scatter(customers[1], customers[0], s=1, c="#cccccc", alpha=0.5, linewidths=0)
        idle = g[g["units"] == 0]
        ax.scatter(idle["lon"], idle["lat"], s=6, facecolors="none", edgecolors="#999999", linewidths=0.5)
        busy = g[g["units"] > 0]
        for kind, color in KIND_COLORS.items():
            k = busy[busy["kind"] == kind]
            ax.scatter(k["lon"], k["lat"], s=8 + 400 * k["units"] / top, c=color, alpha=0.6, label=kind,
                       edgecolors="white", linewidths=0.4)
        ax.set_title(f"{name}: {int(g['units'].sum()):,} units", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect(1.25)
        if i == 0:
            ax.legend(fontsize=7, loc="lower left", markerscale=0.6)
    fig.suptitle("Where units shipped from (marker area ~ units)")
    fig.tight_layout()
    _save(fig, path)


# --------------------------------------------------------------------------- writing
def write_report(result: SimulationResult, out: str | Path, fmt: str = "csv", *,
                 customers: tuple[np.ndarray, np.ndarray] | None = None, title: str = "Simulation summary"
                 ) -> list[Path]:
    """Write every report file into ``out``; all of them land, or none.

    Parameters
    ----------
    result : SimulationResult
    out : path
        Created if missing; files of the same names are replaced.
    fmt : {"csv", "parquet"}
        ``parquet`` writes ``kpis.parquet`` and ``nodes.parquet`` as well.
    customers : (lat, lon) arrays, optional
        Order destinations drawn faintly under the map.
    title : str

    Returns
    -------
    list of Path
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be csv or parquet, got {fmt!r}")
    with staged_output(out, ".report-") as (stage, written):
        result.kpis.to_csv(stage / "kpis.csv", index=False)
        result.nodes.to_csv(stage / "nodes.csv", index=False)
        if fmt == "parquet":
            result.kpis.to_parquet(stage / "kpis.parquet", index=False)
            result.nodes.to_parquet(stage / "nodes.parquet", index=False)
        (stage / "summary.md").write_text(summary_markdown(result, title), encoding="utf-8")
        plot_cost(result.kpis, stage / "cost_per_order.png")
        plot_splits(result.kpis, stage / "splits.png")
        plot_fill_rate(result.kpis, stage / "fill_rate.png")
        plot_map(result.nodes, stage / "ship_from_map.png", customers)
    return written
