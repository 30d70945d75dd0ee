"""One of several processes routing against one PostgreSQL ledger (the multi-process test).

Run as ``python -m tests.engine.pg_worker URL WORKER WORKERS OUT`` from the
repository root. It joins the ledger (:meth:`Router.recover`), routes its
share of a stream every worker builds alike (orders ``i`` with
``i % WORKERS == WORKER``), commits or releases some of its own earlier
orders, and writes to ``OUT`` one JSON line per answer it gave its caller:
``{"op", "order_id", "decision"}``. It knows nothing of the other workers.
"""

from __future__ import annotations

import sys

import msgspec

from sourcewise.data.instances import build_inventory
from sourcewise.data.instances import build_network
from sourcewise.data.instances import build_orders
from sourcewise.data.instances import orders_as_objects
from sourcewise.engine.durable import bare
from sourcewise.engine.router import Router
from sourcewise.models.policy import Policy
from sourcewise.models.policy import StorePolicy

N_ORDERS = 20_000


def world():
    """The network, its scarce stock (far less than the stream asks for) and the order stream."""
    net = build_network(16, 120, seed=11, vendors=False)
    inv = build_inventory(net, 9_000, seed=11)
    orders = orders_as_objects(net, build_orders(net, N_ORDERS, seed=12, lines_per_order=2))
    policy = Policy(stores=StorePolicy(protect_units=0, depletion_weight=0.0))
    return net, inv, orders, policy


def main(url: str, worker: int, workers: int, out_path: str) -> None:
    _, _, orders, _ = world()
    mine = orders[worker::workers]
    enc = msgspec.json.encode
    with Router.recover(url) as router, open(out_path, "wb") as out:
        for i, order in enumerate(mine):
            d = router.route(order)
            out.write(enc({"op": "route", "order_id": d.order_id, "decision": bare(d)}) + b"\n")
            # now and then an earlier order of this worker ships, or is cancelled
            if i % 5 == 4:
                oid = mine[i - 3].order_id
                if router.is_open(oid):
                    d = router.commit(oid)
                    out.write(enc({"op": "commit", "order_id": oid, "decision": bare(d)}) + b"\n")
            if i % 9 == 8:
                oid = mine[i - 2].order_id
                if router.is_open(oid):
                    router.release(oid)
                    out.write(enc({"op": "release", "order_id": oid, "decision": None}) + b"\n")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
