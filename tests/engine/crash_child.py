"""The process the crash test kills: routes a stream of orders against a ledger (SQLite or PostgreSQL).

Run as ``python -m tests.engine.crash_child LEDGER_URL START`` (from the
repository root). It recovers the router from the ledger (or creates it when
the ledger is new), then works through the stream from order ``START``:
route each order, and commit or release some earlier ones. After every call
returns it prints one line, ``ack <op> <order id> <decision as JSON>``: what
the caller was told, which the ledger must still hold after a ``kill -9``.
Before every call it prints ``intent <op> <order id>``: at a kill, the last
intent without its ack is the one call that may or may not have happened.
"""

from __future__ import annotations

import sys

import msgspec

from sourcewise.data.instances import build_inventory
from sourcewise.data.instances import build_network
from sourcewise.data.instances import build_orders
from sourcewise.data.instances import orders_as_objects
from sourcewise.engine.durable import bare
from sourcewise.engine.ledger import open_store
from sourcewise.engine.router import Router

N_ORDERS = 3000


def stream():
    """The orders, the same in every process: a small network with thin stock, so it runs out."""
    net = build_network(12, 60, seed=3)
    inv = build_inventory(net, 900, seed=3)
    orders = orders_as_objects(net, build_orders(net, N_ORDERS, seed=4, lines_per_order=2))
    return net, inv, orders


def main(url: str, start: int) -> None:
    net, inv, orders = stream()
    store = open_store(url)
    new = store.setup() is None
    store.close()
    router = Router(net, inv, store=url) if new else Router.recover(url)
    out = sys.stdout
    enc = msgspec.json.encode
    for i in range(start, len(orders)):
        out.write(f"intent route {orders[i].order_id}\n")
        out.flush()
        d = router.route(orders[i])
        out.write(f"ack route {d.order_id} {enc(bare(d)).decode()}\n")
        # every 7th order an earlier one ships, every 11th one is cancelled
        if i % 7 == 0 and i >= 5 and orders[i - 5].order_id in router.open_orders:
            out.write(f"intent commit {orders[i - 5].order_id}\n")
            out.flush()
            d = router.commit(orders[i - 5].order_id)
            out.write(f"ack commit {d.order_id} {enc(bare(d)).decode()}\n")
        if i % 11 == 0 and i >= 3 and orders[i - 3].order_id in router.open_orders:
            out.write(f"intent release {orders[i - 3].order_id}\n")
            out.flush()
            d = router.release(orders[i - 3].order_id)
            out.write(f"ack release {d.order_id} -\n")
        out.flush()
    out.write("done\n")
    out.flush()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
