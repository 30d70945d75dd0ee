"""Policy sweeps on a Dask cluster: every task is one whole replay.

A grid file (TOML) names the values to cross::

    [sweep]                      # settings shared by every variant (all optional)
    strategy = "cost"            # routing strategy of every variant
    seed = 0
    pick_reject_rate = 0.02
    vendor_failures = true
    walkin = true
    days = 7                     # replay only the first days

    [grid]                       # each key lists its values; the sweep runs their cross product
    "stores.protect_units" = [0, 2, 5]
    batch_window = [0, 15]       # minutes; 0 routes on arrival, N > 0 holds orders for N minutes (batchN)
    vendors = [true, false]      # marketplace vendors as backup tier, or not

Grid keys:

* ``strategy``, ``batch_window``, ``vendors`` (vendor nodes in the sourcing
  tiers or not), ``stores_ship`` (stores ship online orders or not);
* ``seed``, ``pick_reject_rate``, ``vendor_failures``, ``walkin``: replay
  settings (a seed list replays the same policies under other random events);
* any policy field: top level (``max_shipments``, ``split_penalty``,
  ``split_candidates``) or ``section.field`` (``stores.protect_units``,
  ``stores.protect_days``, ``stores.depletion_weight``, ``cost.per_shipment``,
  ``service.late_penalty_per_day``, ``vendors.unreliability_penalty``, ...).

Each variant is submitted as one task that replays the whole scenario with
its own router, so no engine state is ever shared between workers. The
scenario is scattered to the workers once. Results are gathered into one
table (``sweep.csv``: one row per variant, its totals; ``sweep_kpis.csv``: per day), one
plot (``sweep.png``) and one self-contained page (``report.html``).

By default the sweep starts an in-process
``distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``;
``scheduler="tcp://host:port"`` uses an existing cluster instead (its workers
need this package installed).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import tomllib
import uuid
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sourcewise.engine.scenario import Scenario
from sourcewise.engine.scenario import staged_output
from sourcewise.engine.simulate.config import SimConfig
from sourcewise.engine.simulate.config import parse_strategy
from sourcewise.engine.simulate.kpis import daily_rows
from sourcewise.engine.simulate.replay import simulate
from sourcewise.models.errors import Collector
from sourcewise.models.errors import ValidationError
from sourcewise.models.policy import Policy
from sourcewise.models.policy import Tier

#: Grid keys that are not policy fields.
SPECIAL_KEYS: tuple[str, ...] = ("strategy", "batch_window", "vendors", "stores_ship")
#: Grid and [sweep] keys that set the replay (:class:`SimConfig`).
CONFIG_KEYS: tuple[str, ...] = ("seed", "pick_reject_rate", "vendor_failures", "walkin", "days",
                                "wave_time_limit")
_POLICY_TOP = ("max_shipments", "split_penalty", "split_candidates")
_POLICY_SECTIONS = ("cost", "stores", "service", "methods", "substitutes", "vendors")
#: Totals columns of ``sweep.csv`` after the variant columns.
SWEEP_COLUMNS: tuple[str, ...] = (
    "orders", "cost_per_order", "shipping_per_order", "handling_per_order", "vendor_fees_per_order",
    "penalties_per_order", "cost_per_unit", "shipments_per_order", "split_rate", "fill_rate", "lost_sales_value",
    "unsourced_rate", "backorder_rate", "perfect_order_rate", "processing_days",
    "share_warehouse", "share_store", "share_vendor", "spend_share_vendor", "avg_distance_km", "promised_days",
    "on_time_rate", "days_of_supply_warehouse", "days_of_supply_store", "stockout_rate",
    "walkin_demand", "walkin_lost", "walkin_lost_rate", "walkin_lost_online", "walkin_lost_online_rate",
    "backorder_units_open", "backorder_age_days", "pick_rejections", "vendor_failures", "util_store",
    "orders_foreign", "orders_out_of_reach", "oversell",
)


@dataclass(frozen=True)
class Variant:
    """One point of the grid.

    Attributes
    ----------
    name : str
        ``key=value`` pairs of the grid values, for tables and plots.
    params : dict
        The grid values of this point.
    strategy : str
        Strategy replayed (``batchN`` when a batch window is set).
    policy : Policy
    config : SimConfig
    """

    name: str
    params: dict
    strategy: str
    policy: Policy
    config: SimConfig


def _values(key: str, raw: Any, col: Collector) -> list:
    vals = raw if isinstance(raw, list) else [raw]
    if not vals:
        col.add("grid", "grid", key, "needs at least one value")
    for v in vals:
        if isinstance(v, dict | list):
            col.add("grid", "grid", key, f"values must be numbers, strings or booleans, got {v!r}")
    return vals


def _without_kind(tiers: Iterable[Tier], kind: str) -> tuple[Tier, ...]:
    out = []
    for t in tiers:
        kinds = tuple(k for k in t.kinds if k != kind)
        if kinds:
            out.append(dataclasses.replace(t, kinds=kinds))
    return tuple(out)


def apply_params(policy: Policy, params: Mapping[str, Any]) -> Policy:
    """``policy`` with the grid's policy keys applied (raises ValidationError)."""
    col = Collector()
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    tiers = policy.tiers
    for key, v in params.items():
        if key in SPECIAL_KEYS[:2] or key in CONFIG_KEYS:
            continue
        if key in ("vendors", "stores_ship"):
            if not isinstance(v, bool):
                col.add("grid", "grid", key, f"must be true or false, got {v!r}")
            elif not v:
                tiers = _without_kind(tiers, "vendor" if key == "vendors" else "store")
                if not tiers:
                    col.add("grid", "grid", key, "no sourcing tier would be left")
            continue
        if key in _POLICY_TOP:
            top[key] = v
            continue
        section, _, field = key.partition(".")
        if section in _POLICY_SECTIONS and field:
            obj = getattr(policy, section)
            if field not in {f.name for f in dataclasses.fields(obj)}:
                col.add("grid", "grid", key, f"{section} has no field {field!r}")
            else:
                sections.setdefault(section, {})[field] = v
            continue
        col.add("grid", "grid", key, "unknown key")
    col.raise_if_any()
    changes: dict[str, Any] = dict(top)
    for section, fields in sections.items():
        try:
            changes[section] = dataclasses.replace(getattr(policy, section), **fields)
        except ValidationError as exc:
            col.extend(exc.problems)
        except TypeError as exc:
            col.add("grid", "grid", section, str(exc))
    if tiers != policy.tiers:
        changes["tiers"] = tiers
    col.raise_if_any()
    try:
        return policy.replace(**changes)
    except ValidationError as exc:
        col.extend(exc.problems)
        col.raise_if_any()
        raise


def variants_from_grid(grid: Mapping[str, Any], base_policy: Policy,
                       base_config: SimConfig | None = None) -> list[Variant]:
    """Every variant of a parsed grid file, validated together.

    Parameters
    ----------
    grid : mapping
        Parsed TOML with an optional ``[sweep]`` and a required ``[grid]`` table.
    base_policy : Policy
        The scenario's policy; grid values change it.
    base_config : SimConfig, optional
        Replay defaults; ``[sweep]`` and grid values change them.

    Raises
    ------
    ValidationError
        Listing every bad key and value of every variant.
    """
    col = Collector()
    for key in sorted(set(grid) - {"sweep", "grid"}):
        col.add("grid", None, key, "unknown table; use [sweep] and [grid]")
    sweep = grid.get("sweep", {})
    table = grid.get("grid")
    if not isinstance(sweep, dict):
        col.add("grid", None, "sweep", "must be a table")
        sweep = {}
    if not isinstance(table, dict) or not table:
        col.add("grid", None, "grid", "a [grid] table with at least one key is required")
        table = {}
    for key in sorted(set(sweep) - {"strategy", *CONFIG_KEYS}):
        col.add("grid", "sweep", key, "unknown key")
    base = base_config or SimConfig(strategies=("cost",))
    settings = {k: sweep[k] for k in CONFIG_KEYS if k in sweep}
    strategy = sweep.get("strategy", "cost")
    axes = {k: _values(k, v, col) for k, v in table.items()}
    for key in axes:
        _check_key(key, base_policy, col)
    if col:
        col.raise_if_any()
    out: list[Variant] = []
    seen: set[str] = set()
    for combo in itertools.product(*axes.values()):
        params = dict(zip(axes, combo, strict=True))
        name = ", ".join(f"{k}={_show(v)}" for k, v in params.items())
        policy = None
        try:
            policy = apply_params(base_policy, params)
        except ValidationError as exc:
            col.extend(exc.problems)
        strat = str(params.get("strategy", strategy))
        window = params.get("batch_window", 0)
        if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 1440:
            col.add("grid", name, "batch_window", f"must be whole minutes 0..1440, got {window!r}")
            continue
        if window:
            if strat != "cost":
                col.add("grid", name, "batch_window", f"batch windows optimize by cost; strategy is {strat!r}")
                continue
            strat = f"batch{window}"
        try:
            parse_strategy(strat)
            cfg = dataclasses.replace(base, strategies=(strat,),
                                      **{**settings, **{k: params[k] for k in CONFIG_KEYS if k in params}})
        except ValidationError as exc:
            col.extend(exc.problems)
            continue
        except TypeError as exc:
            col.add("grid", name, "sweep", str(exc))
            continue
        if name in seen:
            col.add("grid", name, "grid", "repeated variant")
        seen.add(name)
        if policy is not None:
            out.append(Variant(name, params, strat, policy, cfg))
    # every variant reports its bad values; the same problem met in several variants is listed once
    if col:
        raise ValidationError(list(dict.fromkeys(col.problems)))
    return out


def _check_key(key: str, policy: Policy, col: Collector) -> None:
    if key in SPECIAL_KEYS or key in CONFIG_KEYS or key in _POLICY_TOP:
        return
    section, _, field = key.partition(".")
    if section in _POLICY_SECTIONS and field:
        if field not in {f.name for f in dataclasses.fields(getattr(policy, section))}:
            col.add("grid", "grid", key, f"{section} has no field {field!r}")
        return
    col.add("grid", "grid", key, "unknown key")


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return str(v)


def load_grid(path: str | Path, base_policy: Policy, base_config: SimConfig | None = None) -> list[Variant]:
    """Read and validate a grid file (see the module notes).

    Raises
    ------
    ValidationError
        For a missing or unreadable file and every bad key or value.
    """
    p = Path(path)
    col = Collector()
    if not p.is_file():
        col.add("grid", str(p), "path", "not a file")
        col.raise_if_any()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        col.add("grid", str(p), "toml", str(exc))
        col.raise_if_any()
    return variants_from_grid(data, base_policy, base_config)


# --------------------------------------------------------------------------- tasks
def run_variant(scenario: Scenario, variant: Variant) -> pd.DataFrame:
    """One whole replay of ``variant`` (the unit of work of a Dask task).

    Returns
    -------
    DataFrame
        The KPI rows (per day and total) with ``variant`` and the grid values first.
    """
    # the sweep keeps only the KPI rows: per-order records would only travel back and be dropped
    res = simulate(scenario, variant.config.replace(records=False), policy=variant.policy)
    k = res.kpis.copy()
    front = {"variant": variant.name, **{key: _show(v) if isinstance(v, bool) else v
                                         for key, v in variant.params.items()}}
    for i, (key, v) in enumerate(front.items()):
        if key in k.columns:
            # a grid axis the KPI rows already name (``strategy``): the grid's value, moved to the front
            k = k.drop(columns=key)
        k.insert(i, key, v)
    k["seconds"] = res.results[variant.strategy].seconds
    return k


def open_client(scheduler: str | None = None, n_workers: int | None = 2):
    """A Dask client: on ``scheduler`` when given, else on a new in-process ``LocalCluster``.

    On a scheduler, ``n_workers`` (any number; None: none) is how many
    workers to wait for before the tasks go out; the cluster's own workers,
    however many, run them. Locally it is the cluster's size.

    Returns
    -------
    (client, cluster)
        ``cluster`` is ``None`` for a remote scheduler; close both when done.
    """
    from distributed import Client
    from distributed import LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="20s")
        if n_workers:
            try:
                # the cluster decides how many workers run the tasks; wait until it has as many as asked for
                client.wait_for_workers(n_workers, timeout=60)
            except BaseException:
                client.close()
                raise
        return client, None
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.ERROR)
    try:
        return Client(cluster), cluster
    except BaseException:
        cluster.close()
        raise


def run_sweep(scenario: Scenario, variants: list[Variant], client,
              progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Replay every variant on the cluster; one task per variant.

    Returns
    -------
    DataFrame
        Every variant's KPI rows (per day and total), in grid order.
    """
    from distributed import as_completed

    # unique keys per sweep: a later sweep on the same client must not meet this one's data or results
    token = uuid.uuid4().hex[:12]
    shared = client.scatter(scenario, broadcast=True, hash=False)
    futures = [client.submit(run_variant, shared, v, key=f"replay-{token}-{i}", pure=False)
               for i, v in enumerate(variants)]
    order = {f.key: i for i, f in enumerate(futures)}
    parts: list[pd.DataFrame | None] = [None] * len(futures)
    for fut in as_completed(futures):
        parts[order[fut.key]] = fut.result()
        if progress is not None:
            progress(1)
    return pd.concat(parts, ignore_index=True)


def sweep_table(kpis: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: the grid values and its totals."""
    tot = kpis[kpis["date"] == "total"]
    front = list(kpis.columns[: list(kpis.columns).index("strategy") + 1])
    return tot[[*front, *SWEEP_COLUMNS, "seconds"]].reset_index(drop=True)


def sweep_figure(table: pd.DataFrame, currency: str = "USD"):
    """Cost per order, fill rate and walk-in demand lost to online orders, per variant (a matplotlib Figure).

    Bars start at zero; the fill rate is in percent of units ordered.
    """
    from matplotlib.figure import Figure

    from sourcewise.engine.simulate.charts import rate_axis

    n = len(table)
    fig = Figure(figsize=(13, 1.8 + 0.32 * n), layout="constrained")
    y = np.arange(n)[::-1]
    panels = (("cost_per_order", f"cost per shipped order ({currency})", "{:.2f}", "#1f77b4"),
              ("fill_rate", "fill rate (% of units ordered)", "{:.1%}", "#2ca02c"),
              ("walkin_lost_online_rate", "walk-in demand lost to online orders (% of units wanted)", "{:.1%}",
               "#d62728"))
    for k, (col, title, fmt, color) in enumerate(panels):
        ax = fig.add_subplot(1, 3, k + 1)
        v = table[col].to_numpy(float)
        ax.barh(y, np.nan_to_num(v), color=color, height=0.7)
        for yi, vi in zip(y, v, strict=True):
            if math.isfinite(vi):
                ax.text(vi, yi, " " + fmt.format(vi), va="center", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.set_yticks(y, table["variant"] if k == 0 else [""] * n, fontsize=7)
        if col == "cost_per_order":
            ax.set_xlabel(f"{currency} per shipped order")
            # the value axis of horizontal bars is x: start it at zero with room for the labels
            top = float(np.nanmax(v)) if n and np.isfinite(v).any() else 0.0
            ax.set_xlim(0.0, top * 1.25 if top > 0 else 1.0)
        else:
            rate_axis(ax, v * 1.1, bars=True, axis="x")  # room for the value labels
    fig.suptitle(f"Sweep: {n} variants (totals over the replay)")
    return fig


def plot_sweep(table: pd.DataFrame, path: Path, currency: str = "USD") -> None:
    """Write :func:`sweep_figure` as a PNG."""
    from sourcewise.engine.simulate.report import png_bytes

    Path(path).write_bytes(png_bytes(sweep_figure(table, currency)))


def sweep_html(table: pd.DataFrame, png: bytes, currency: str, meta: Mapping[str, Any] | None = None) -> str:
    """``report.html`` of a sweep: the variants side by side, the chart, definitions and the run; self-contained."""
    from sourcewise import __version__
    from sourcewise.engine.simulate.dictionary import dictionary_frame
    from sourcewise.engine.simulate.report import dictionary_html
    from sourcewise.engine.simulate.report import figure_html
    from sourcewise.engine.simulate.report import html_page
    from sourcewise.engine.simulate.report import table_html

    shown = table.set_index("variant")
    shown = shown[[c for c in SWEEP_COLUMNS if c in shown.columns]].T
    shown = shown.map(lambda v: f"{v:,.4g}" if isinstance(v, float) else str(v))
    flagged = int(table["orders_foreign"].max()) if "orders_foreign" in table and len(table) else 0
    meta_rows = {"sourcewise version": __version__, "currency": currency, **(meta or {})}
    cols = [c for c in SWEEP_COLUMNS if c in table.columns]
    sections = [
        ("how", "How to read this page",
         "<p>Each column of the table is one variant of the grid (its policy and replay settings in its name), "
         "replayed over the same scenario as one Dask task; rates are fractions of the denominator in their "
         f"definition, money is in {currency}. sweep.csv holds these totals, sweep_kpis.csv the same per day."
         "</p>"),
        ("comparison", "Variants side by side (whole replay)", table_html(shown)),
        ("geography", "Geography checks",
         f"<p>{flagged:,} order destinations lie outside every node's country (flagged in the decisions; routed "
         "on the domestic cost model).</p>" if flagged else
         "<p>Every destination lies in a node's country.</p>"),
        ("charts", "Charts", figure_html("sweep.png", png, "cost per order, fill rate and walk-in demand lost "
                                                          "to online orders per variant")),
        ("definitions", "KPI definitions", dictionary_html(dictionary_frame({"sweep.csv": cols}, currency))),
        ("run", "Run", table_html(pd.DataFrame({"value": [str(v) for v in meta_rows.values()]},
                                               index=list(meta_rows)), css="text")),
    ]
    return html_page("Policy sweep", sections)


def write_sweep(kpis: pd.DataFrame, out: str | Path, fmt: str = "csv", *, currency: str = "USD",
                meta: Mapping[str, Any] | None = None) -> list[Path]:
    """Write ``sweep.csv``, ``sweep_kpis.csv``, ``sweep.png`` and ``report.html`` (all or nothing).

    Parameters
    ----------
    kpis : DataFrame
        :func:`run_sweep`'s rows.
    out : path
    fmt : {"csv", "parquet"}
    currency : str
        Of the money figures (the scenario policy's).
    meta : mapping, optional
        Run metadata for the page (scenario, grid, seed, ...).
    """
    from sourcewise.engine.simulate.report import png_bytes

    with staged_output(out, ".sweep-") as (stage, written):
        table = sweep_table(kpis)
        table.to_csv(stage / "sweep.csv", index=False)
        # the days only: each variant's totals are its row of sweep.csv
        daily = daily_rows(kpis)
        daily.to_csv(stage / "sweep_kpis.csv", index=False)
        if fmt == "parquet":
            table.to_parquet(stage / "sweep.parquet", index=False)
            daily.to_parquet(stage / "sweep_kpis.parquet", index=False)
        png = png_bytes(sweep_figure(table, currency))
        (stage / "sweep.png").write_bytes(png)
        (stage / "report.html").write_text(sweep_html(table, png, currency, meta), encoding="utf-8")
    return written


__all__ = ["Variant", "apply_params", "load_grid", "open_client", "plot_sweep", "run_sweep", "run_variant",
           "sweep_figure", "sweep_html", "sweep_table", "variants_from_grid", "write_sweep"]


def cluster_workers(client) -> int:
    """How many workers the client's cluster has now."""
    return len(client.scheduler_info().get("workers", {}))
