"""Simulation reports: the KPI tables and their dictionary, a side-by-side summary, charts and one HTML page.

:func:`write_report` writes, into one folder:

* ``kpis.csv``: one row per strategy × day; ``kpis_total.csv``: one row per
  strategy over the whole horizon (with ``fmt="parquet"`` also as Parquet;
  see :func:`sourcewise.engine.simulate.kpis.kpi_frame`);
* ``nodes.csv``: units, parcels and utilization per strategy × node over the
  horizon; ``node_days.csv``: the same per day, against daily capacity;
* ``as_recorded.csv`` (journal replays only): per strategy, every decision the
  recorded history made and whether the replay made it exactly so;
* ``dictionary.csv``: unit and meaning of every column of those tables;
* ``summary.md``: the strategies side by side, the run's settings and notes;
* the charts (:mod:`~sourcewise.engine.simulate.charts`): ``cost_per_order.png``,
  ``splits.png``, ``fill_rate.png``, ``planner_kpis.png``, ``workload.png``,
  ``ship_from_map.png``;
* ``report.html``: all of the above on one self-contained page (charts as
  data URIs, no external file, font, style sheet or script).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
from collections.abc import Callable
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sourcewise.engine.scenario import staged_output
from sourcewise.engine.simulate import charts
from sourcewise.engine.simulate.dictionary import PERFECT_ORDER
from sourcewise.engine.simulate.dictionary import dictionary_frame
from sourcewise.engine.simulate.kpis import check_invariants
from sourcewise.engine.simulate.kpis import daily_rows
from sourcewise.engine.simulate.kpis import total_rows
from sourcewise.engine.simulate.replay import SimulationResult
from sourcewise.models.policy import Policy

Cell = Callable[[pd.Series], str]


def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or pd.isna(value):
        return "-"
    return spec.format(value)


def _of(part: str, whole: str) -> Cell:
    """``"31.2% of 7,602"``: a rate with its denominator (the row's label names the unit)."""
    def cell(r: pd.Series) -> str:
        if not r[whole]:
            return "-"
        return f"{r[part] / r[whole]:.1%} of {r[whole]:,.0f}"
    return cell


def _count_of(part: str, whole: str) -> Cell:
    """``"1,204 of 1,210"``: a count out of another."""
    def cell(r: pd.Series) -> str:
        return f"{r[part]:,.0f} of {r[whole]:,.0f}"
    return cell


#: The side-by-side row of a journal replay's check (shown only when the history recorded decisions).
AS_RECORDED_ROW = ("recorded decisions made as recorded", _count_of("decisions_as_recorded", "decisions"), "")


def summary_rows(currency: str = "USD") -> tuple[tuple[str, str | Cell, str], ...]:
    """Rows of the side-by-side table: label, KPI column (or a function of the total row), format."""
    c = currency
    return (
        ("orders", "orders", "{:,.0f}"),
        (f"cost per order ({c})", "cost_per_order", "{:.2f}"),
        ("  shipping", "shipping_per_order", "{:.2f}"),
        ("  handling", "handling_per_order", "{:.2f}"),
        ("  vendor fees", "vendor_fees_per_order", "{:.2f}"),
        ("  split penalty", "split_penalty_per_order", "{:.2f}"),
        ("  penalties", "penalties_per_order", "{:.2f}"),
        (f"cost per unit ({c})", "cost_per_unit", "{:.2f}"),
        ("shipments per order", "shipments_per_order", "{:.3f}"),
        ("split orders (% of shipped orders)", "split_rate", "{:.1%}"),
        ("fill rate (% of units)", "fill_rate", "{:.1%}"),
        (f"lost sales value ({c}, list price)", "lost_sales_value", "{:,.0f}"),
        ("perfect order rate", "perfect_order_rate", "{:.1%}"),
        ("order processing days (order to ship)", "processing_days", "{:.2f}"),
        ("promised days", "promised_days", "{:.2f}"),
        ("on-time rate (promise vs service level)", "on_time_rate", "{:.1%}"),
        ("orders nothing was routed for", "unsourced_rate", "{:.1%}"),
        ("orders partly routed", "backorder_rate", "{:.1%}"),
        ("open backorder units at the end", "backorder_units_open", "{:,.0f}"),
        ("  mean age, days", "backorder_age_days", "{:.2f}"),
        ("units from warehouses", "share_warehouse", "{:.1%}"),
        ("units from stores", "share_store", "{:.1%}"),
        ("units from vendors", "share_vendor", "{:.1%}"),
        ("vendor share of value routed", "spend_share_vendor", "{:.1%}"),
        ("avg distance km / parcel", "avg_distance_km", "{:,.0f}"),
        ("days of supply, warehouses", "days_of_supply_warehouse", "{:.1f}"),
        ("days of supply, stores", "days_of_supply_store", "{:.1f}"),
        ("ending units, warehouses", "ending_units_warehouse", "{:,.0f}"),
        ("ending units, stores", "ending_units_store", "{:,.0f}"),
        ("store stock-outs (of SKU-store-days)", _of("stockout_sku_store_days", "store_sku_days"), ""),
        ("walk-in demand lost (of units wanted)", _of("walkin_lost", "walkin_demand"), ""),
        ("  lost to online orders", _of("walkin_lost_online", "walkin_demand"), ""),
        ("pick rejections re-routed", "pick_rejections", "{:,.0f}"),
        ("vendor failures re-routed", "vendor_failures", "{:,.0f}"),
        ("warehouse utilization", "util_warehouse", "{:.1%}"),
        ("store utilization", "util_store", "{:.1%}"),
        ("vendor utilization", "util_vendor", "{:.1%}"),
        ("busiest node-day, % of capacity", lambda r: _fmt(np.nanmax([r["peak_util_warehouse"],
                                                                   r["peak_util_store"],
                                                                   r["peak_util_vendor"]])
                                                           if np.isfinite([r["peak_util_warehouse"],
                                                                           r["peak_util_store"],
                                                                           r["peak_util_vendor"]]).any()
                                                           else np.nan, "{:.0%}"), ""),
        ("destinations flagged outside node countries", "orders_foreign", "{:,.0f}"),
        ("destinations flagged beyond every node's reach", "orders_out_of_reach", "{:,.0f}"),
        ("oversold entries", "oversell", "{:,.0f}"),
    )


#: The side-by-side rows in US dollars (see :func:`summary_rows`).
SUMMARY_ROWS = summary_rows()

#: Charts of a simulation report, by file name.
CHART_FILES: tuple[str, ...] = ("cost_per_order.png", "splits.png", "fill_rate.png", "planner_kpis.png",
                                "workload.png", "ship_from_map.png")
REPORT_FILES: tuple[str, ...] = ("kpis.csv", "kpis_total.csv", "nodes.csv", "node_days.csv", "dictionary.csv",
                                 "summary.md", *CHART_FILES, "report.html")


def comparison_table(kpis: pd.DataFrame, rows: Sequence[tuple[str, str | Cell, str]] | None = None,
                     currency: str = "USD") -> pd.DataFrame:
    """The strategies' totals side by side: one row per metric, one column per strategy (formatted text)."""
    totals = kpis[kpis["date"] == "total"].set_index("strategy")
    if rows is None:
        rows = summary_rows(currency)
        if "decisions" in totals.columns and totals["decisions"].sum() > 0:
            rows = (AS_RECORDED_ROW, *rows)  # a journal replay: its check comes first
    out = {name: [col(totals.loc[name]) if callable(col) else _fmt(totals.at[name, col], spec)
                  for _, col, spec in rows] for name in totals.index}
    return pd.DataFrame(out, index=[label for label, _, _ in rows])


def format_table(kpis: pd.DataFrame, currency: str = "USD") -> str:
    """:func:`comparison_table` as aligned plain text, for the terminal."""
    t = comparison_table(kpis, currency=currency)
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


def currency_of(result: SimulationResult) -> str:
    """The currency of a result's money figures (the replayed policy's)."""
    return result.policy.currency if result.policy is not None else Policy().currency


def definitions(result: SimulationResult) -> list[str]:
    """The sentences that say what the summary's figures are."""
    cfg = result.config
    sla = ", ".join(f"{k} {v:g} d" for k, v in cfg.sla)
    return [
        "Per order figures count orders that shipped at least one unit; per unit figures count units routed.",
        f"Perfect order: {PERFECT_ORDER}.",
        "Order processing time: days from order to ship (node processing days, a day past the node's cutoff, "
        "a day for a re-sourced parcel); promised days add the transit band.",
        f"On-time rate compares each order's promised days (plus a day when re-sourced) with its service level's "
        f"promise ({sla}, unless the policy sets a deadline): a promise check, not a measured delivery.",
        "Orders nothing was routed for, and the unfilled units of partly routed orders, stay open backorders: the "
        "replay neither cancels them nor fills them later.",
        "Store stock-outs count store x SKU pairs with no unit on hand at a day's end, out of every stocked pair "
        "and day; walk-in demand lost is units walk-in shoppers could not buy, out of the units they wanted.",
        "Days of supply: units on hand at the end over units leaving per day (online units, plus walk-in sales "
        "at stores). Vendor share of value: units from vendors x SKU list price over all units routed x price.",
        "Utilization: parcels over the daily order capacity of capacity-limited nodes.",
        "Destinations outside every node's country, or beyond every node's service radius, are flagged: the "
        "cost model and transit bands are domestic, so their costs and promises are estimates.",
    ]


#: What a journal replay generates, in the words of the summary and the run table.
JOURNAL_EVENTS = ("the recorded history (a journal): its events replayed in ledger order; no walk-in sales, pick "
                  "rejections, vendor failures or replenishment generated")


def _settings(result: SimulationResult) -> str:
    """The replay's events in one line: the recorded history, or the generated events' settings."""
    cfg = result.config
    if result.journal:
        return f"events: {JOURNAL_EVENTS}"
    return (f"seed: {cfg.seed}; store pick rejections: {cfg.pick_reject_rate:.1%} of orders shipped from a store; "
            f"vendor failures: {'1 - reliability per shipment' if cfg.vendor_failures else 'off'}; "
            f"walk-in sales: {'on' if cfg.walkin else 'off'}")


def report_files(result: SimulationResult) -> tuple[str, ...]:
    """The files :func:`write_report` writes for ``result`` (a journal replay adds ``as_recorded.csv``)."""
    if result.checks is None:
        return REPORT_FILES
    return (*REPORT_FILES[:5], "as_recorded.csv", *REPORT_FILES[5:])


def summary_markdown(result: SimulationResult, title: str = "Simulation summary") -> str:
    """``summary.md``: settings, the side-by-side table, definitions, invariants and notes."""
    kpis = result.kpis
    days = kpis[kpis["date"] != "total"]["date"].unique()
    problems = check_invariants(kpis)
    currency = currency_of(result)
    lines = [
        f"# {title}", "",
        f"- scenario: `{result.scenario_path or '(in memory)'}`",
        f"- days: {len(days)} ({days[0]} to {days[-1]})" if len(days) else "- days: 0",
        f"- {_settings(result)}; money in {currency}",
        "", "## Strategies side by side (whole horizon)", "",
        _markdown_table(comparison_table(kpis, currency=currency)), "",
        *[f"- {d}" for d in definitions(result)], "",
        "Every column of the tables is defined in `dictionary.csv`.", "",
        "## Invariants", "",
        "All hold: no oversell; units routed + units unfilled = units ordered; cost components add up to the "
        "total." if not problems else "\n".join(f"- VIOLATED: {p}" for p in problems), "",
        "## Run", "",
    ]
    for name, r in result.results.items():
        lines.append(f"- `{name}`: {r.seconds:.1f} s" + "".join(f"; {n}" for n in r.notes))
    lines += ["", "Files: " + ", ".join(f"`{f}`" for f in report_files(result)), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures
def figures(result: SimulationResult, customers: tuple[np.ndarray, np.ndarray] | None = None
            ) -> dict[str, tuple[Figure, str]]:
    """Every chart of the report, by file name, with its caption (nothing is saved)."""
    kpis, currency = result.kpis, currency_of(result)
    out = {
        "cost_per_order.png": (charts.cost_figure(kpis, currency),
                               f"Cost per shipped order and per unit routed, by component ({currency})."),
        "splits.png": (charts.splits_figure(kpis), "Parcels per shipped order, and the share of orders split."),
        "fill_rate.png": (charts.fill_rate_figure(kpis), "Fill rate per day: units routed over units ordered."),
        "planner_kpis.png": (charts.planner_figure(kpis, currency),
                             "Perfect orders, processing time, lost sales, days of supply, store stock-outs and "
                             "vendor share over the whole horizon."),
    }
    if result.node_days is not None:
        out["workload.png"] = (charts.workload_figure(result.node_days),
                               "Each capacity-limited node's parcels per day over its daily capacity.")
    out["ship_from_map.png"] = (charts.map_figure(result.nodes, customers),
                                "Where units shipped from; marker area is proportional to units.")
    return out


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;
color:#222;line-height:1.4;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}
table.text td,table.text th{text-align:left}
tr:nth-child(even) td{background:#fafafa}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.85em;color:#555}
pre{background:#f6f6f6;padding:.6em;font-size:.8em;overflow-x:auto}
.flag{background:#fff4e5;border-left:4px solid #f0a030;padding:.4em .8em}
nav a{margin-right:1em}
"""


def table_html(df: pd.DataFrame, *, index: bool = True, css: str = "") -> str:
    head = ([""] if index else []) + [str(c) for c in df.columns]
    rows = ["<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for label, row in df.iterrows():
        cells = ([f"<td>{html.escape(str(label))}</td>"] if index else []) + \
                [f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}>\n" + "\n".join(rows) + "\n</table>"


def _policy_text(policy: Policy | None) -> str:
    """The replayed policy as ``key = value`` lines."""
    if policy is None:
        return "(scenario policy)"
    lines = []
    for f in dataclasses.fields(policy):
        v = getattr(policy, f.name)
        if dataclasses.is_dataclass(v):
            lines.append(f"[{f.name}]")
            lines += [f"  {g.name} = {getattr(v, g.name)!r}" for g in dataclasses.fields(v)]
        elif f.name == "tiers":
            lines += [f"[[tiers]] {t.name}: kinds={list(t.kinds)}, max_distance_km={t.max_distance_km:g}"
                      + (f", regions={list(t.regions)}" if t.regions else "")
                      + (f", channels={list(t.channels)}" if t.channels else "") for t in v]
        else:
            lines.append(f"{f.name} = {v!r}")
    return "\n".join(lines)


def html_page(title: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """A self-contained page: ``sections`` are (anchor, heading, inner HTML)."""
    nav = "".join(f'<a href="#{a}">{html.escape(h)}</a>' for a, h, _ in sections)
    body = "\n".join(f'<section id="{a}">\n<h2>{html.escape(h)}</h2>\n{inner}\n</section>'
                     for a, h, inner in sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}'
            f"</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n<nav>{nav}</nav>\n"
            f"{body}\n</body>\n</html>\n")


def figure_html(name: str, png: bytes, caption: str) -> str:
    """One chart as an embedded image (a data URI) with its caption."""
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure id="{html.escape(name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{html.escape(caption)}"><figcaption>{html.escape(name)}: {html.escape(caption)}'
            "</figcaption></figure>")


def run_metadata(result: SimulationResult) -> pd.DataFrame:
    """Version, scenario, seed and replay settings, one row each."""
    from sourcewise import __version__

    cfg = result.config
    days = result.kpis[result.kpis["date"] != "total"]["date"].unique()
    rows = [
        ("sourcewise version", __version__),
        ("written", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("scenario", result.scenario_path or "(in memory)"),
        ("strategies", ", ".join(cfg.strategies)),
        ("days", f"{len(days)} ({days[0]} to {days[-1]})" if len(days) else "0"),
    ]
    if result.journal:
        rows.append(("events", JOURNAL_EVENTS))
    else:
        rows += [
            ("seed", cfg.seed),
            ("store pick rejections", f"{cfg.pick_reject_rate:.1%} of orders shipped from a store"),
            ("vendor failures", "1 - reliability per shipment" if cfg.vendor_failures else "off"),
            ("walk-in sales", "on" if cfg.walkin else "off"),
        ]
    rows.append(("currency", currency_of(result)))
    return pd.DataFrame({"value": [str(v) for _, v in rows]}, index=[k for k, _ in rows])


def dictionary_html(dictionary: pd.DataFrame) -> str:
    """The data dictionary as one table per file."""
    parts = []
    for table, g in dictionary.groupby("table", sort=False):
        parts.append(f"<h3>{html.escape(str(table))}</h3>")
        parts.append(table_html(g[["column", "unit", "meaning"]], index=False, css="text"))
    return "\n".join(parts)


def report_html(result: SimulationResult, charts_png: dict[str, tuple[bytes, str]], dictionary: pd.DataFrame,
                title: str) -> str:
    """``report.html`` of a simulation: comparison table, charts, definitions, metadata; self-contained."""
    kpis = result.kpis
    currency = currency_of(result)
    t = comparison_table(kpis, currency=currency)
    flagged = total_rows(kpis)[["strategy", "orders_foreign", "orders_out_of_reach"]]
    n_foreign, n_far = int(flagged["orders_foreign"].max()), int(flagged["orders_out_of_reach"].max())
    if n_foreign or n_far:
        flags = (f'<p class="flag">{n_foreign:,} order destinations lie outside every node\'s country and '
                 f"{n_far:,} beyond every node's service radius. They were routed on the domestic cost model and "
                 "transit bands, so their costs and promise dates are estimates; the decisions carry the same "
                 "flags.</p>")
    else:
        flags = "<p>Every destination lies in a node's country and within a node's service radius.</p>"
    problems = check_invariants(kpis)
    inv = ("<p>All hold: no oversell; units routed + units unfilled = units ordered; cost components add up "
           "to the total.</p>" if not problems else
           "<ul>" + "".join(f"<li>VIOLATED: {html.escape(p)}</li>" for p in problems) + "</ul>")
    how = ("<p>Each column of the comparison table is one strategy replayed over the same orders, stock and "
           "random events; read across a row to compare them. Rates are shares of the denominator the row "
           "names; money is in " + html.escape(currency) + ". The charts repeat the table (bars start at zero; "
           "rate axes are in percent); the workload chart shows each capacity-limited node-day, and the map "
           "where units shipped from. The tables behind every figure are the CSV files beside this page, "
           "their columns defined below.</p>")
    notes = "".join(f"<li><code>{html.escape(name)}</code>: {r.seconds:.1f} s"
                    + "".join(f"; {html.escape(n)}" for n in r.notes) + "</li>" for name, r in result.results.items())
    sections = [
        ("how", "How to read this page", how),
        ("comparison", "Strategies side by side (whole horizon)", table_html(t)),
        ("geography", "Geography checks", flags),
        ("charts", "Charts", "\n".join(figure_html(n, png, cap) for n, (png, cap) in charts_png.items())),
        ("definitions", "KPI definitions", "<ul>" + "".join(f"<li>{html.escape(d)}</li>"
                                                             for d in definitions(result)) + "</ul>"
         + dictionary_html(dictionary)),
        ("invariants", "Invariants", inv),
        ("run", "Run", table_html(run_metadata(result), css="text") + f"<ul>{notes}</ul>"
         + "<h3>Policy</h3><pre>" + html.escape(_policy_text(result.policy)) + "</pre>"
         + "<p>Files beside this page: " + ", ".join(f"<code>{html.escape(f)}</code>" for f in report_files(result))
         + "</p>"),
    ]
    return html_page(title, sections)


# --------------------------------------------------------------------------- writing
def report_tables(result: SimulationResult) -> dict[str, pd.DataFrame]:
    """The tables of a report, by file name: daily KPIs, totals, nodes and node-days."""
    out = {"kpis.csv": daily_rows(result.kpis), "kpis_total.csv": total_rows(result.kpis),
           "nodes.csv": result.nodes}
    if result.node_days is not None:
        out["node_days.csv"] = result.node_days
    if result.checks is not None:
        out["as_recorded.csv"] = result.checks
    return out


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
        ``parquet`` writes the KPI and node tables as Parquet as well.
    customers : (lat, lon) arrays, optional
        Order destinations drawn faintly under the map.
    title : str

    Returns
    -------
    list of Path
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be csv or parquet, got {fmt!r}")
    currency = currency_of(result)
    tables = report_tables(result)
    dictionary = dictionary_frame({name: list(df.columns) for name, df in tables.items()}, currency)
    with staged_output(out, ".report-") as (stage, written):
        for name, df in tables.items():
            df.to_csv(stage / name, index=False)
            if fmt == "parquet":
                df.to_parquet(stage / name.replace(".csv", ".parquet"), index=False)
        dictionary.to_csv(stage / "dictionary.csv", index=False)
        (stage / "summary.md").write_text(summary_markdown(result, title), encoding="utf-8")
        rendered = {}
        for name, (fig, caption) in figures(result, customers).items():
            png = png_bytes(fig)
            (stage / name).write_bytes(png)
            rendered[name] = (png, caption)
        (stage / "report.html").write_text(report_html(result, rendered, dictionary, title), encoding="utf-8")
    return written


__all__ = ["AS_RECORDED_ROW", "CHART_FILES", "JOURNAL_EVENTS", "REPORT_FILES", "SUMMARY_ROWS", "comparison_table", "currency_of", "definitions",
           "dictionary_html", "figure_html", "figures", "format_table", "html_page", "png_bytes", "report_files", "report_html", "report_tables",
           "run_metadata", "summary_markdown", "summary_rows", "table_html", "write_report"]


