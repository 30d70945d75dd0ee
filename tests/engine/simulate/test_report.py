"""The simulation report (engine.simulate.report), written by the simulate command."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from matplotlib.ticker import PercentFormatter

from sourcewise import cli
from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate import charts
from sourcewise.engine.simulate import simulate
from sourcewise.engine.simulate.report import CHART_FILES
from sourcewise.engine.simulate.report import REPORT_FILES
from sourcewise.engine.simulate.report import figures
from sourcewise.engine.simulate.sweep import sweep_figure
from sourcewise.engine.simulate.sweep import sweep_table
from tests.conftest import SAMPLE
from tests.conftest import run_on_sample

COST_PARTS = ["shipping", "handling", "vendor_fees", "split_penalty", "penalties"]


def _check_kpis(daily: pd.DataFrame, totals: pd.DataFrame, strategies: list[str], n_days: int) -> None:
    """The invariants the issue names, read back from kpis.csv (days) and kpis_total.csv (totals)."""
    for kpis in (daily, totals):
        assert (kpis["oversell"] == 0).all()
        assert (kpis["units_routed"] + kpis["units_unfilled"] == kpis["units_ordered"]).all()
        np.testing.assert_allclose(kpis[COST_PARTS].sum(axis=1), kpis["cost"], rtol=1e-9, atol=1e-6)
        assert sorted(kpis["strategy"].unique()) == sorted(strategies)
    # one row per strategy x day, and one total row per strategy in a table of its own
    assert len(daily) == len(strategies) * n_days
    assert len(totals) == len(strategies)
    assert "total" not in set(daily["date"].astype(str))
    for name, days in daily.groupby("strategy"):
        total = totals[totals["strategy"] == name].iloc[0]
        for c in ("orders", "units_ordered", "units_routed", "shipments", "walkin_lost_online"):
            assert days[c].sum() == total[c], (name, c)
        assert total["cost_per_order"] == pytest.approx(total["cost"] / total["orders_shipped"])


def test_sample_simulation_writes_every_report_file(tmp_path, capsys):
    out = tmp_path / "report"
    run_on_sample(capsys, "simulate", out, prints=("cost per order", "shipments per order", "fill rate",
                                                  "on-time rate", "nearest", "batch15"))
    for name in REPORT_FILES:
        assert (out / name).stat().st_size > 0, name
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left behind
    kpis = pd.read_csv(out / "kpis.csv")
    totals = pd.read_csv(out / "kpis_total.csv")
    _check_kpis(kpis, totals, ["nearest", "priority", "cost", "dual", "batch15"], n_days=2)
    assert totals["orders"].eq(300).all()
    summary = (out / "summary.md").read_text()
    assert "| metric | nearest | priority | cost | dual | batch15 |" in summary
    assert "All hold" in summary
    assert (out / "ship_from_map.png").read_bytes()[:4] == b"\x89PNG"


# --------------------------------------------------------------------------- honest charts




@pytest.fixture(scope="module")
def euro_result():
    sc = load_scenario(SAMPLE)
    return simulate(sc, SimConfig(strategies=("nearest", "cost", "dual")), policy=sc.policy.replace(currency="EUR"))


def _is_rate_axis(ax, values, axis="y") -> None:
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    fmt = (ax.yaxis if axis == "y" else ax.xaxis).get_major_formatter()
    assert isinstance(fmt, PercentFormatter) and fmt.xmax == 1.0  # the axis holds fractions shown as percent
    assert 0.0 <= lo and hi <= 1.0 + 1e-12
    assert hi - lo >= charts.MIN_RATE_SPAN - 1e-12
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    assert lo <= v.min() and v.max() <= hi
    labels = [fmt(t, i) for i, t in enumerate(ax.get_yticks() if axis == "y" else ax.get_xticks()) if lo <= t <= hi]
    assert len(set(labels)) == len(labels) > 1  # no two ticks read the same


def _bars_start_at_zero(ax) -> None:
    assert ax.patches, "a bar chart"
    assert ax.get_ylim()[0] == 0.0
    tops = [p.get_y() + p.get_height() for p in ax.patches]
    assert max(tops) <= ax.get_ylim()[1]


def _legend_shows_every_series(fig_or_ax, labels) -> None:
    legend = fig_or_ax.legends[0] if hasattr(fig_or_ax, "legends") and fig_or_ax.legends else fig_or_ax.get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert list(labels) == texts[: len(labels)] or set(labels) <= set(texts)


def test_cost_and_split_charts(euro_result):
    figs = figures(euro_result)
    assert set(figs) == set(CHART_FILES)
    cost = figs["cost_per_order.png"][0]
    for ax in cost.axes:
        _bars_start_at_zero(ax)
        assert "EUR" in ax.get_ylabel() and "EUR" in ax.get_title()  # the policy's currency on money axes
    _legend_shows_every_series(cost, ["shipping", "handling", "vendor fees", "split penalty", "penalties"])
    per_order, split = figs["splits.png"][0].axes
    _bars_start_at_zero(per_order)
    _bars_start_at_zero(split)
    _is_rate_axis(split, euro_result.totals["split_rate"])
    assert "%" in split.get_ylabel()


def test_fill_rate_lines_all_visible_with_a_meaningful_range(euro_result):
    fig = figures(euro_result)["fill_rate.png"][0]
    ax = fig.axes[0]
    lines = ax.get_lines()
    names = list(euro_result.results)
    assert [ln.get_label() for ln in lines] == names
    assert len({(ln.get_marker(), ln.get_linestyle()) for ln in lines}) == len(lines)  # none looks like another
    assert all(ln.get_visible() and ln.get_alpha() > 0 and ln.get_marker() not in ("", "None") for ln in lines)
    _legend_shows_every_series(fig, names)
    d = euro_result.kpis[euro_result.kpis["date"] != "total"]
    _is_rate_axis(ax, d["fill_rate"])


def test_a_one_day_fill_rate_is_not_zoomed_into_identical_ticks():
    sc = load_scenario(SAMPLE)
    one = simulate(sc, SimConfig(strategies=("cost", "dual"), days=1))
    ax = charts.fill_rate_figure(one.kpis).axes[0]
    _is_rate_axis(ax, one.kpis["fill_rate"])


@pytest.mark.parametrize("strategies", [("cost",), ("cost", "nearest", "priority", "dual")])
def test_every_chart_lays_out_without_a_warning(strategies):
    """matplotlib warns (on the user's terminal) when constrained layout cannot fit a figure; one strategy's
    planner chart used to be too narrow for its titles and legends."""
    import warnings

    from sourcewise.engine.simulate.report import png_bytes

    one = simulate(load_scenario(SAMPLE), SimConfig(strategies=strategies, days=1))
    for name, (fig, _) in figures(one).items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            assert png_bytes(fig)[:4] == b"\x89PNG", name


def test_planner_and_workload_charts(euro_result):
    figs = figures(euro_result)
    axes = figs["planner_kpis.png"][0].axes
    for ax in axes:
        _bars_start_at_zero(ax)
    t = euro_result.totals
    _is_rate_axis(axes[0], t["perfect_order_rate"])
    _is_rate_axis(axes[4], np.r_[t["stockout_rate"], t["walkin_lost_rate"]])
    _is_rate_axis(axes[5], np.r_[t["share_vendor"], t["spend_share_vendor"]])
    assert "EUR" in axes[2].get_ylabel()
    for ax in axes[3:]:
        assert len(ax.get_legend().get_texts()) == 2
    work = figs["workload.png"][0]
    for ax in work.axes:
        assert ax.get_ylim()[0] == 0.0 and ax.get_ylim()[1] >= 1.0  # capacity (100 %) always in view
    _legend_shows_every_series(work, ["capacity"])


def test_map_shows_the_contiguous_us_with_insets_only_when_used(euro_result):
    cust = (load_scenario(SAMPLE).orders.lat, load_scenario(SAMPLE).orders.lon)
    fig = charts.map_figure(euro_result.nodes, cust)
    assert len(fig.axes) == len(euro_result.results)  # one panel per strategy
    for ax in fig.axes:
        assert ax.get_xlim() == charts.CONUS[:2] and ax.get_ylim() == charts.CONUS[2:]
    assert not [c for ax in fig.axes for c in ax.child_axes]  # no point in Alaska or Hawaii: no inset
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    for want in ("warehouse that shipped", "store that shipped", "vendor that shipped", "node that shipped nothing",
                 "order destination"):
        assert want in texts
    assert any(t.endswith(" units") for t in texts)  # the size scale
    # a node in Anchorage and a customer in Honolulu: both insets appear, in every panel
    nodes = euro_result.nodes.copy()
    first = nodes["node_id"] == nodes["node_id"].iloc[0]
    nodes.loc[first, ["lat", "lon"]] = (61.2, -149.9)
    fig = charts.map_figure(nodes, (np.r_[cust[0], 21.3], np.r_[cust[1], -157.86]))
    labels = [c.get_label() for ax in fig.axes for c in ax.child_axes]
    assert labels.count("alaska") == labels.count("hawaii") == len(euro_result.results)
    for ax in fig.axes:
        for inset in ax.child_axes:
            frame = charts.ALASKA if inset.get_label() == "alaska" else charts.HAWAII
            assert inset.get_xlim() == frame[:2] and inset.get_ylim() == frame[2:]


def test_sweep_chart_bars_start_at_zero(euro_result):
    k = euro_result.kpis.assign(variant=euro_result.kpis["strategy"])
    k = k[["variant", *[c for c in k.columns if c != "variant"]]]
    table = sweep_table(k.assign(seconds=1.0))
    cost, fill, walk = sweep_figure(table, "EUR").axes
    assert cost.get_xlim()[0] == 0.0 and "EUR" in cost.get_xlabel()
    _is_rate_axis(fill, table["fill_rate"] * 1.1, axis="x")
    assert fill.get_xlim()[0] == 0.0 and walk.get_xlim()[0] == 0.0


# --------------------------------------------------------------------------- report.html and the dictionary
class _Refs(HTMLParser):
    """Every tag and every reference a page makes."""

    def __init__(self):
        super().__init__()
        self.tags, self.refs, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("src", "href", "data", "srcset", "poster", "action"):
            if a.get(key):
                self.refs.append((tag, key, a[key]))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    assert cli.main(["simulate", "--scenario", str(SAMPLE), "--out", str(out), "--strategies", "cost,batch15"]) == 0
    return out


def _check_self_contained(page: str, charts_expected) -> _Refs:
    p = _Refs()
    p.feed(page)
    assert not [t for t, a in p.tags if t in ("link", "script", "iframe", "object", "embed")]
    for tag, key, ref in p.refs:
        if tag == "a":
            assert ref.startswith("#") and ref[1:] in p.ids, ref  # links stay on the page
        else:
            assert tag == "img" and key == "src" and ref.startswith("data:image/png;base64,"), (tag, ref[:40])
            assert base64.b64decode(ref.split(",", 1)[1])[:4] == b"\x89PNG"
    assert "url(" not in page and "@import" not in page  # nothing fetched by the style sheet
    imgs = [a for t, a in p.tags if t == "img"]
    assert len(imgs) == len(charts_expected)
    assert set(charts_expected) <= p.ids  # every chart is on the page
    return p


def test_report_html_holds_every_chart_and_table(written):
    page = (written / "report.html").read_text(encoding="utf-8")
    p = _check_self_contained(page, CHART_FILES)
    assert {"comparison", "charts", "definitions", "run", "geography", "how"} <= p.ids
    for image in CHART_FILES:  # the embedded image is the PNG written beside the page
        assert base64.b64encode((written / image).read_bytes()).decode() in page
    totals = pd.read_csv(written / "kpis_total.csv")
    assert "<table" in page and "perfect order rate" in page
    for word in ("sourcewise version", "seed", "scenario", "currency", "Policy", "Perfect order:"):
        assert word in page
    # the dictionary on the page and in dictionary.csv names every column of every table, nothing else
    dictionary = pd.read_csv(written / "dictionary.csv")
    for table in ("kpis.csv", "kpis_total.csv", "nodes.csv", "node_days.csv"):
        cols = list(pd.read_csv(written / table, nrows=0).columns)
        assert list(dictionary.loc[dictionary["table"] == table, "column"]) == cols, table
        for c in cols:
            assert f"<td>{c}</td>" in page, (table, c)
    assert dictionary["meaning"].str.len().min() > 3
    assert set(totals["strategy"]) == {"cost", "batch15"}


def test_sweep_writes_a_self_contained_report(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[sweep]\ndays = 1\n[grid]\n"stores.protect_units" = [0, 2]\n')
    out = tmp_path / "sweep"
    assert cli.main(["sweep", "--scenario", str(SAMPLE), "--grid", str(grid), "--out", str(out),
                     "--workers", "1"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    _check_self_contained(page, ["sweep.png"])
    assert "stores.protect_units=2" in page and "perfect_order_rate" in page
