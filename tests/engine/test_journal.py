"""History a planner can replay (engine.journal, engine.simulate.journal): a real router's ledger exported
with the CLI, replayed by simulate, each replay checked against the ledger itself."""

from __future__ import annotations

import dataclasses
from datetime import date
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from sourcewise import cli
from sourcewise.engine.batch import orders_from_batch
from sourcewise.engine.durable import bare
from sourcewise.engine.ledger import SQLiteStore
from sourcewise.engine.router import Router
from sourcewise.engine.scenario import build_router
from sourcewise.engine.scenario import load_scenario
from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate import check_invariants
from sourcewise.engine.simulate import simulate
from sourcewise.engine.simulate.journal import JournalReplay
from sourcewise.engine.simulate.journal import prepare
from sourcewise.models import Inventory
from sourcewise.models import Network
from sourcewise.models import Node
from sourcewise.models import Order
from sourcewise.models import OrderLine
from sourcewise.models import Policy
from sourcewise.models import Sku
from sourcewise.models import StockRecord
from sourcewise.models import ValidationError
from tests.conftest import SAMPLE

DAY = date(2024, 3, 4)


def _export(url: str, out, *extra: str) -> None:
    assert cli.main(["journal", "export", "--store", url, "--out", str(out), *extra]) == 0


def _record(router: Router, sc) -> None:
    """A day and a half of a production router's life, every call with the policy's strategy."""
    net = sc.network
    orders = orders_from_batch(net, sc.orders)
    for o in orders[:50]:
        router.route(o)
    router.route_many(sc.orders.slice(50, 120))                 # one compiled batch
    b = sc.orders.slice(120, 140)                               # a batch with a same-day line: routed order by order
    method = np.full(b.n_lines, "ship", dtype=object)
    method[0] = "same_day"
    router.route_many(dataclasses.replace(b, method=method))
    rerouted = 0
    for o in orders[:30]:                                       # nodes that could not pick
        d = router.decision(o.order_id)
        if d.allocations:
            a = d.allocations[0]
            router.reroute(o.order_id, a.node_id, shortfall={a.sku: 1} if rerouted % 2 else None)
            rerouted += 1
        if rerouted == 4:
            break
    slow = router.decision(str(b.order_id[1]))                 # an order of the batch routed order by order
    if slow.allocations:
        router.reroute(slow.order_id, slow.allocations[0].node_id, shortfall=0)
    for o in orders[30:35]:
        router.release(o.order_id)
    for o in orders[35:40]:
        router.commit(o.order_id)
    router.commit_many([str(x) for x in sc.orders.order_id[50:90]])
    router.adjust_stock(net.nodes[0].node_id, net.skus[1].sku, 6)            # a receipt
    router.adjust_stock_many(np.array([3, 4, 5, 3]), np.array([2, -1, -50, 1]))  # sales, shrink, receipts
    left = np.array([router.capacity_left(n.node_id) for n in net.nodes])
    router.set_capacity_left(left[:, 0] + 2, left[:, 1] + 5)
    router.set_business_day(DAY + timedelta(days=1))
    for o in orders[140:180]:
        router.route(o)
    router.route(orders[31])                                   # a released id, routed again
    router.commit_many([o.order_id for o in orders[140:160]])
    router.set_dual_prices(np.linspace(0.0, 2.0, router.inventory.nnz))
    router.route_many(sc.orders.slice(180, 220))
    router.release(str(sc.orders.order_id[185]))
    rec = router.inventory.records()[10]
    router.adjust_stock(rec.node_id, rec.sku, -1)


@pytest.fixture(scope="module")
def sample():
    return load_scenario(SAMPLE)


@pytest.fixture(scope="module")
def history(tmp_path_factory, sample):
    """A recorded ledger, its export (through the CLI) and the replay of the export."""
    tmp = tmp_path_factory.mktemp("journal")
    url = f"sqlite:///{tmp / 'ledger.db'}"
    with build_router(sample, business_day=DAY, store=url) as router:
        _record(router, sample)
    _export(url, tmp / "journal")
    sc = load_scenario(tmp / "journal")
    res = simulate(sc, SimConfig(strategies=("as_recorded", "cost", "nearest")))
    return url, tmp / "journal", sc, res


def _recorded(url: str, order_ids) -> dict[str, list]:
    """Per order id, every decision the ledger holds for it, in ledger order: (kind, decision); an order of a
    batch route_many routed order by order is a ``batch`` decision, as an order of a compiled batch is."""
    with Router.recover(url) as back:
        return {oid: [("batch" if e.kind == "route" and e.why.endswith("of a batch") else e.kind, e.decision)
                      for e in back.history(oid) if e.decision is not None]
                for oid in dict.fromkeys(order_ids)}


def test_the_export_is_the_routers_set_up(history, sample):
    url, folder, sc, _ = history
    assert {p.name for p in folder.iterdir()} >= {"nodes.csv", "skus.csv", "inventory.csv", "walkin.csv",
                                                  "vendor_offers.csv", "policy.toml", "orders.csv", "events.csv",
                                                  "recorded_orders.csv", "recorded_allocations.csv"}
    assert sc.network.nodes == sample.network.nodes and sc.network.skus == sample.network.skus
    assert sc.policy == sample.policy
    for name in ("sku_ptr", "node", "on_hand", "safety_stock", "reserved"):
        assert getattr(sc.inventory, name).tolist() == getattr(sample.inventory, name).tolist(), name
    events = sc.tables["events"]
    assert events.iloc[0]["kind"] == "day" and events.iloc[0]["day"] == DAY.isoformat()
    kinds = set(events["kind"])
    assert {"route", "batch", "reroute", "release", "commit", "commit_many", "adjust", "capacity", "day",
            "prices"} <= kinds
    # an id routed again after its release is a second order, each under the seq that routed it
    orders = sc.tables["orders"].drop_duplicates(["seq", "order_id"])
    again = orders[orders["order_id"] == "O-000032"]
    assert len(again) == 2 and again["seq"].is_unique
    assert sc.orders.n_orders == len(orders)


@pytest.mark.parametrize("strategy", ["as_recorded", "cost"])
def test_recorded_strategy_and_as_recorded_make_every_recorded_decision(history, strategy):
    url, _, sc, res = history
    checks = res.results[strategy].checks
    ledger = _recorded(url, sc.orders.order_id.tolist())
    # every decision the ledger holds was checked, in the ledger's order per order id, and made exactly so
    seen = {oid: list(g["kind"]) for oid, g in checks.groupby("order_id", sort=False)}
    assert {oid: [k for k, _ in v] for oid, v in ledger.items()} == seen
    assert len(checks) == sum(len(v) for v in ledger.values())
    assert checks["as_recorded"].all()
    t = res.totals.loc[strategy]
    assert t["decisions"] == t["decisions_as_recorded"] == len(checks)
    assert f"{len(checks):,} of {len(checks):,} recorded decisions as recorded" in " ".join(res.results[strategy].notes)


@pytest.mark.parametrize("strategy", ["as_recorded", "cost"])
def test_each_order_ends_with_its_recorded_decision(history, strategy):
    """The replay's per-order records (what its KPIs are computed from) against the ledger's last decision of
    each routing of each order."""
    url, _, sc, res = history
    r = res.results[strategy]
    ledger = _recorded(url, sc.orders.order_id.tolist())
    finals: dict[str, list] = {}
    for oid, decisions in ledger.items():
        for kind, d in decisions:
            if kind in ("route", "batch"):
                finals.setdefault(oid, []).append(d)
            else:
                finals[oid][-1] = d  # a re-route or a swap replaces the routing's decision
    net = sc.network
    alloc = r.allocations
    for oid, g in r.orders.sort_values("pos").groupby("order_id", sort=False):
        for (_, row), d in zip(g.iterrows(), finals[oid], strict=True):
            assert row["status"] == d.status.value and row["units"] == d.units, oid
            assert row["cost"] == pytest.approx(d.cost.total, rel=1e-12, abs=1e-9)
            mine = alloc[alloc["pos"] == row["pos"]]
            got = sorted(zip(mine["node"], mine["sku"], mine["qty"], strict=True))
            want = {}
            for a in d.allocations:
                key = (net.node_index[a.node_id], net.sku_index[a.sku])
                want[key] = want.get(key, 0) + a.qty
            assert sorted(_merge(got).items()) == sorted(want.items()), oid


def _merge(rows):
    out: dict = {}
    for n, s, q in rows:
        out[(n, s)] = out.get((n, s), 0) + q
    return out


def test_the_recorded_strategy_ends_in_the_recorded_state(history):
    url, _, sc, _ = history
    replay = JournalReplay(prepare(sc, SimConfig(strategies=("cost",))), "cost")
    replay.run()
    mine = replay.router
    with Router.recover(url) as back:
        assert mine.business_day == back.business_day
        assert mine.snapshot().on_hand.tolist() == back.snapshot().on_hand.tolist()
        assert mine.snapshot().reserved.tolist() == back.snapshot().reserved.tolist()
        assert sorted(mine.open_orders) == sorted(back.open_orders)
        for oid in back.open_orders:
            assert bare(mine.decision(oid)) == bare(back.decision(oid)), oid
        for n in sc.network.nodes:
            assert mine.capacity_left(n.node_id) == back.capacity_left(n.node_id)


def test_another_strategy_runs_the_same_history_with_the_usual_kpis(history):
    _, _, sc, res = history
    assert check_invariants(res.kpis) == []
    t = res.totals
    assert (t["orders"] == sc.orders.n_orders).all()
    assert t.at["nearest", "decisions"] == t.at["cost", "decisions"]
    assert t.at["nearest", "decisions_as_recorded"] < t.at["nearest", "decisions"]
    assert t.at["nearest", "cost_per_order"] != t.at["cost", "cost_per_order"]
    for name in ("as_recorded", "cost", "nearest"):
        assert len(res.results[name].daily) == 2  # the two recorded business days
        assert res.results[name].orders is not None and len(res.results[name].orders) == sc.orders.n_orders
    assert res.journal


def test_days_limits_a_journal_to_its_first_business_days(history):
    _, _, sc, res = history
    one = simulate(sc, SimConfig(strategies=("cost",), days=1))
    first = res.kpis[(res.kpis["strategy"] == "cost") & (res.kpis["day"] == 0)].iloc[0]
    t = one.totals.loc["cost"]
    assert t["days"] == 1 and t["orders"] == first["orders"] and t["decisions"] == first["decisions"]
    assert t["decisions_as_recorded"] == t["decisions"]


def test_simulate_command_on_a_journal_writes_the_report_and_the_check(history, tmp_path, capsys):
    _, folder, _, res = history
    out = tmp_path / "report"
    assert cli.main(["simulate", "--scenario", str(folder), "--out", str(out),
                     "--strategies", "as_recorded,cost,priority"]) == 0
    printed = capsys.readouterr().out
    n = int(res.totals.at["cost", "decisions"])
    assert f"{n:,} of {n:,}" in printed and "the recorded events" in printed
    checks = pd.read_csv(out / "as_recorded.csv")
    assert set(checks["strategy"]) == {"as_recorded", "cost", "priority"}
    assert checks[checks["strategy"] != "priority"]["as_recorded"].all()
    summary = (out / "summary.md").read_text()
    assert "recorded decisions made as recorded" in summary and "recorded history" in summary
    dictionary = pd.read_csv(out / "dictionary.csv")
    assert list(dictionary.loc[dictionary["table"] == "as_recorded.csv", "column"]) == list(checks.columns)
    assert (out / "report.html").stat().st_size > 0
    # without --strategies: as_recorded, the recorded policy's strategy, then the others
    out2 = tmp_path / "report2"
    assert cli.main(["simulate", "--scenario", str(folder), "--out", str(out2)]) == 0
    assert list(pd.read_csv(out2 / "kpis_total.csv")["strategy"]) == ["as_recorded", "cost", "nearest", "priority",
                                                                      "dual"]


def test_a_call_with_its_own_strategy_is_as_recorded_only_under_as_recorded(sample, tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    orders = orders_from_batch(sample.network, sample.orders)
    with build_router(sample, business_day=DAY, store=url) as router:
        for i, o in enumerate(orders[:60]):
            router.route(o, "nearest" if i % 3 == 0 else None)
    _export(url, tmp_path / "journal")
    res = simulate(load_scenario(tmp_path / "journal"), SimConfig(strategies=("as_recorded", "cost")))
    t = res.totals
    assert t.at["as_recorded", "decisions_as_recorded"] == t.at["as_recorded", "decisions"] == 60
    assert t.at["cost", "decisions_as_recorded"] < 60


def test_optimizer_swaps_replay_where_the_plans_they_replaced_are_held(tmp_path):
    from sourcewise.engine.optimize import reoptimize
    from tests.engine.optimize.support import PENALTY
    from tests.engine.optimize.support import contested

    for seed in range(6):
        net, inv, orders = contested(seed, n_nodes=4, n_orders=6)
        url = f"sqlite:///{tmp_path / f'ledger{seed}.db'}"
        with Router(net, inv, business_day=DAY, store=url) as r:
            for o in orders:
                r.route(o, strategy="nearest")
            if not reoptimize(r, time_limit=5, unfilled_penalty=PENALTY).applied:
                continue
            r.commit(orders[0].order_id)
        folder = tmp_path / f"journal{seed}"
        _export(url, folder)
        sc = load_scenario(folder)
        assert "swap" in set(sc.tables["events"]["kind"])
        res = simulate(sc, SimConfig(strategies=("as_recorded", "nearest", "cost")))
        t = res.totals
        for name in ("as_recorded", "nearest"):  # both hold the plans the optimizer started from
            assert t.at[name, "decisions_as_recorded"] == t.at[name, "decisions"], name
        return
    pytest.skip("the optimizer improved none of the contested instances")


# --------------------------------------------------------------------------- the rules for other strategies


def _two_nodes():
    """A warehouse far away and a store next door with a costly parcel: cost ships from the warehouse,
    nearest from the store."""
    net = Network.build([Node("WH", "warehouse", 40.0, -100.0), Node("ST", "store", 40.7, -74.0,
                                                                     handling_per_shipment=80.0)],
                        [Sku("A", 1.0, 10.0)])
    inv = Inventory.from_records(net, [StockRecord("WH", "A", 10), StockRecord("ST", "A", 3)])
    return net, inv


def test_recorded_events_on_another_plan_follow_the_rules(tmp_path):
    net, inv = _two_nodes()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Router(net, inv, Policy(), business_day=DAY, store=url) as r:
        d = r.route(Order("O1", (OrderLine("1", "A", 2),), 40.71, -74.01))
        assert [a.node_id for a in d.allocations] == ["WH"]
        assert r.adjust_stock("ST", "A", -3) == -3      # the store sells all three units over the counter
        r.reroute("O1", "WH", shortfall={"A": 1})      # the warehouse finds one unit missing
        r.commit("O1")
    _export(url, tmp_path / "journal")
    res = simulate(load_scenario(tmp_path / "journal"), SimConfig(strategies=("cost", "nearest")))
    t = res.totals
    # cost: the recorded plan, every event as recorded
    assert t.at["cost", "decisions_as_recorded"] == t.at["cost", "decisions"] == 2
    assert t.at["cost", "adjust_short_units"] == 0 and t.at["cost", "pick_rejections"] == 1
    # nearest holds two of the store's units: the sale takes only the free one, the warehouse's rejection
    # concerns no plan of nearest's and is booked as the stock correction it was, and the commit ships the store's
    assert t.at["nearest", "adjust_short_units"] == 2
    assert t.at["nearest", "pick_rejections"] == 0 and t.at["nearest", "written_off_units"] == 1
    assert t.at["nearest", "decisions_as_recorded"] == 0
    assert t.at["nearest", "units_store"] == 2 and t.at["cost", "units_routed"] == 0
    assert t.at["nearest", "ending_units_store"] == 0 and t.at["nearest", "ending_units_warehouse"] == 9
    assert t.at["cost", "ending_units_store"] == 0 and t.at["cost", "ending_units_warehouse"] == 9


def test_as_recorded_keeps_the_recorded_plan_where_the_router_would_differ(tmp_path):
    net, inv = _two_nodes()
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Router(net, inv, Policy(), business_day=DAY, store=url) as r:
        r.route(Order("O1", (OrderLine("1", "A", 2),), 40.71, -74.01))
    folder = tmp_path / "journal"
    _export(url, folder)
    # the history as another engine recorded it: the order shipped from the store
    rec = pd.read_csv(folder / "recorded_allocations.csv")
    rec.loc[0, "node_id"] = "ST"
    rec.to_csv(folder / "recorded_allocations.csv", index=False)
    ro = pd.read_csv(folder / "recorded_orders.csv", keep_default_na=False)
    ro.loc[0, "decision"] = ro.loc[0, "decision"].replace('"node_id":"WH"', '"node_id":"ST"')
    ro.to_csv(folder / "recorded_orders.csv", index=False)
    res = simulate(load_scenario(folder), SimConfig(strategies=("as_recorded", "cost")))
    t = res.totals
    assert t.at["as_recorded", "decisions_as_recorded"] == 1 and t.at["as_recorded", "units_store"] == 2
    assert t.at["cost", "decisions_as_recorded"] == 0 and t.at["cost", "units_warehouse"] == 2
    assert "(1 imposed)" in res.results["as_recorded"].notes[0]


def test_parquet_export_replays_the_same(history, tmp_path):
    url, _, _, res = history
    _export(url, tmp_path / "pq", "--format", "parquet")
    assert (tmp_path / "pq" / "events.parquet").exists() and not (tmp_path / "pq" / "events.csv").exists()
    again = simulate(load_scenario(tmp_path / "pq"), SimConfig(strategies=("as_recorded", "cost", "nearest")))
    pd.testing.assert_frame_equal(again.kpis, res.kpis)


# --------------------------------------------------------------------------- bad input


def test_export_reads_while_the_router_writes(sample, tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    orders = orders_from_batch(sample.network, sample.orders)
    with build_router(sample, business_day=DAY, store=url) as router:
        router.route(orders[0])
        _export(url, tmp_path / "journal")  # the router holds the write lock
        router.route(orders[1])
    assert load_scenario(tmp_path / "journal").orders.n_orders == 1


@pytest.mark.parametrize("case", ["scheme", "no file", "no ledger", "no entry", "not empty", "a file"])
def test_export_refuses_bad_input_with_one_line_and_writes_nothing(sample, tmp_path, capsys, case):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    out = tmp_path / "out"
    if case == "scheme":
        url = "postgresql://nowhere/ledger"
    elif case == "no ledger":
        SQLiteStore(url).close()  # a store no router was ever built on
    elif case == "no entry":
        build_router(sample, business_day=DAY, store=url).close()
    else:
        with build_router(sample, business_day=DAY, store=url) as r:
            r.route(orders_from_batch(sample.network, sample.orders.slice(0, 1))[0])
        if case == "not empty":
            out.mkdir()
            (out / "keep.txt").write_text("mine")
        elif case == "a file":
            out.write_text("mine")
    if case == "no file":
        url = f"sqlite:///{tmp_path / 'missing.db'}"
    assert cli.main(["journal", "export", "--store", url, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    if case in ("not empty", "a file"):
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
        assert (out / "keep.txt").read_text() == "mine" if case == "not empty" else out.read_text() == "mine"
    else:
        assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".export-" in p.name]


def test_simulate_refuses_what_a_journal_cannot_replay(history, tmp_path, capsys):
    _, folder, _, _ = history
    assert cli.main(["simulate", "--scenario", str(folder), "--out", str(tmp_path / "a"),
                     "--strategies", "cost,batch15"]) == 2
    assert "batch15" in capsys.readouterr().err
    assert cli.main(["simulate", "--scenario", str(SAMPLE), "--out", str(tmp_path / "b"),
                     "--strategies", "as_recorded"]) == 2
    assert "journal" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(ValidationError, match="as_recorded"):
        simulate(load_scenario(SAMPLE), SimConfig(strategies=("cost", "as_recorded"), days=1))


def test_a_broken_journal_is_refused_with_every_problem(history, tmp_path, capsys):
    import shutil

    _, folder, _, _ = history
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    ev = pd.read_csv(folder / "events.csv", keep_default_na=False, dtype=str)
    broken = ev.copy()
    broken.loc[broken.index[broken["kind"] == "adjust"][0], "node_id"] = "NOWHERE"
    broken.loc[broken.index[-1], "kind"] = "teleport"
    broken.to_csv(bad / "events.csv", index=False)
    assert cli.main(["simulate", "--scenario", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "NOWHERE" in err and "teleport" in err and "Traceback" not in err
    broken = ev.copy()
    broken.loc[broken.index[broken["kind"] == "commit"][0], "order_id"] = "NEVER-ROUTED"
    broken.to_csv(bad / "events.csv", index=False)
    assert cli.main(["simulate", "--scenario", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "NEVER-ROUTED" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_commands_that_would_ignore_the_events_refuse_a_journal(history, tmp_path, capsys):
    _, folder, _, _ = history
    for argv in (["route", "--scenario", str(folder), "--out", str(tmp_path / "r")],
                 ["optimize", "--scenario", str(folder), "--out", str(tmp_path / "o")]):
        assert cli.main(argv) == 2
        assert "replay it with sourcewise simulate" in capsys.readouterr().err
    grid = tmp_path / "grid.toml"
    grid.write_text('[grid]\nbatch_window = [0, 30]\n')
    assert cli.main(["sweep", "--scenario", str(folder), "--grid", str(grid), "--out", str(tmp_path / "s"),
                     "--workers", "1"]) == 2
    assert "batch30" in capsys.readouterr().err
    assert not any((tmp_path / x).exists() for x in ("r", "o", "s"))


def test_a_shared_ledger_with_holds_exports_and_replays_as_recorded(sample, tmp_path):
    """A PostgreSQL ledger written by two routers, with holds that expire, are confirmed or extended: an
    expired hold replays as the release it was, and the recorded strategy makes every recorded decision."""
    from sourcewise.engine.clock import ManualClock
    from tests.pg import fresh_database

    url = fresh_database()
    orders = orders_from_batch(sample.network, sample.orders)
    clock = ManualClock()
    with build_router(sample, business_day=DAY, store=url, clock=clock) as a:
        with Router.recover(url, clock=clock) as b:
            for i, o in enumerate(orders[:40]):
                (a if i % 2 else b).route(o)
            for o in orders[40:50]:
                a.hold(o, 600)
            b.confirm(orders[40].order_id)
            a.extend(orders[41].order_id, 3600)
            b.commit(orders[40].order_id)
            clock.advance(601)
            a.expire_holds()
            b.expire_holds()  # nothing left for the second process: the first one's turn came first
            for o in orders[50:60]:
                b.route(o)
            expired = [o.order_id for o in orders[42:50]]
            assert all(not a.is_open(x) for x in expired) and a.is_open(orders[41].order_id)
    _export(url, tmp_path / "journal")
    sc = load_scenario(tmp_path / "journal")
    events = sc.tables["events"]
    released = set(events.loc[events["kind"] == "release", "order_id"])
    assert released == set(expired)
    assert set(events.loc[events["why"].str.startswith("hold expired"), "order_id"]) == set(expired)
    res = simulate(sc, SimConfig(strategies=("as_recorded", "cost")))
    for strategy in ("as_recorded", "cost"):
        t = res.totals.loc[strategy]
        assert t["decisions"] == t["decisions_as_recorded"] == 60
