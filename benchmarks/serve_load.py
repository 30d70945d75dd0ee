"""Load benchmark of ``sourcewise serve`` over HTTP on 127.0.0.1, with the durable SQLite ledger on.

Run it (bounded: about a minute at the default sizes)::

    .venv/bin/python -m benchmarks.serve_load [--clients 16] [--seconds 10] [--rate 1000] [--batch 50]
                                              [--latency-only]

It writes a scenario (20 warehouses across the US, 1,000 SKUs, ample stock,
no capacity limits), starts the real server (``python -m sourcewise.cli
serve``, logs at ``warning``) on a fresh ledger, and measures from this
process with a small HTTP/1.1 keep-alive client on asyncio:

1. throughput, closed loop: ``--clients`` connections each sending
   ``POST /v1/route`` back to back for ``--seconds``, once with one order
   per request and once with lists of ``--batch`` orders; routed orders per
   second (decisions with status ``routed`` or ``partial``) and requests per
   second;
2. latency at a fixed rate, open loop: one order per request at ``--rate``
   requests per second for ``--seconds``, each request sent at its scheduled
   time on a free connection; latency is from the scheduled time to the
   answer, so a stall delays every request behind it (no coordinated
   omission). Percentiles p50, p90, p99, p99.9 and the worst.

Every request carries an ``Idempotency-Key`` (its answer is recorded
durably, as a client retrying safely would use it). The load generator runs
on the same machine and shares its cores with the server; it collects no
garbage while it measures, since its own collections would delay the
requests it sends and count as the server's latency. ``--json PATH``
also writes the figures as JSON. ``--latency-only`` skips the two
throughput phases (the server is still warmed up by a short closed loop) and
measures only the latency at the fixed rate: quicker, but the server then
holds far fewer open orders than after the throughput phases, so its figures
are not those of a whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from tests.engine.service.server import API
from tests.engine.service.server import Server

CITIES = [(40.71, -74.0), (34.05, -118.24), (41.88, -87.63), (29.76, -95.37), (33.45, -112.07),
          (39.95, -75.17), (29.42, -98.49), (32.72, -117.16), (32.78, -96.8), (37.34, -121.89),
          (30.27, -97.74), (39.77, -86.16), (30.33, -81.66), (37.77, -122.42), (39.96, -83.0),
          (35.23, -80.84), (47.61, -122.33), (39.74, -104.99), (38.91, -77.04), (42.36, -71.06)]


def write_scenario(folder: Path, n_skus: int = 1000) -> list[str]:
    """A scenario with ample stock everywhere; returns its SKUs."""
    folder.mkdir(parents=True, exist_ok=True)
    nodes = pd.DataFrame({"node_id": [f"WH-{i:02d}" for i in range(len(CITIES))], "kind": "warehouse",
                          "lat": [c[0] for c in CITIES], "lon": [c[1] for c in CITIES]})
    skus = [f"SKU-{i:05d}" for i in range(n_skus)]
    nodes.to_csv(folder / "nodes.csv", index=False)
    pd.DataFrame({"sku": skus, "weight_kg": 0.5, "price": 20.0}).to_csv(folder / "skus.csv", index=False)
    inv = pd.DataFrame([(n, s, 10**9) for n in nodes.node_id for s in skus], columns=["node_id", "sku", "on_hand"])
    inv.to_csv(folder / "inventory.csv", index=False)
    return skus


class Orders:
    """Request bodies: orders of one or two lines to random US addresses, each id new."""

    def __init__(self, skus: list[str], seed: int = 0):
        self.skus = skus
        self.rng = np.random.default_rng(seed)
        self.n = 0

    def order(self) -> dict:
        self.n += 1
        r = self.rng
        lines = [{"line_id": str(i + 1), "sku": self.skus[int(r.integers(len(self.skus)))],
                  "qty": int(r.integers(1, 4))} for i in range(int(r.integers(1, 3)))]
        c = CITIES[int(r.integers(len(CITIES)))]
        return {"order_id": f"B-{self.n}", "lines": lines,
                "destination": {"lat": round(c[0] + r.normal(0, 1.5), 4), "lon": round(c[1] + r.normal(0, 1.5), 4)}}

    def body(self, batch: int) -> tuple[bytes, str]:
        doc = self.order() if batch == 1 else {"orders": [self.order() for _ in range(batch)]}
        return json.dumps(doc).encode(), f"k-{self.n}"


class Connection:
    """One keep-alive HTTP/1.1 connection; ``post`` returns the status and the body."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def post(self, path: str, body: bytes, key: str) -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: {API['Authorization']}\r\n"
                f"Content-Type: application/json\r\nIdempotency-Key: {key}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@contextmanager
def no_collections() -> Iterator[None]:
    """No garbage collection in this process meanwhile: the load generator's own would delay the
    requests it sends (a full one over the tasks of a 10 s run at 1,000/s took 130 ms)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def routed_in(status: int, body: bytes, batch: int) -> int:
    if status != 200:
        raise RuntimeError(f"answer {status}: {body[:300]!r}")
    doc = json.loads(body)
    decisions = [doc] if batch == 1 else doc["decisions"]
    return sum(d["status"] in ("routed", "partial") for d in decisions)


async def closed_loop(port: int, orders: Orders, clients: int, seconds: float, batch: int) -> dict:
    conns = [await Connection("127.0.0.1", port).open() for _ in range(clients)]
    routed = requests = 0
    stop = time.perf_counter() + seconds

    async def worker(conn: Connection) -> None:
        nonlocal routed, requests
        while time.perf_counter() < stop:
            body, key = orders.body(batch)
            status, answer = await conn.post("/v1/route", body, key)
            routed += routed_in(status, answer, batch)
            requests += 1

    t0 = time.perf_counter()
    with no_collections():
        await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    return {"clients": clients, "orders_per_request": batch, "seconds": round(elapsed, 2),
            "requests_per_s": round(requests / elapsed), "routed_orders_per_s": round(routed / elapsed)}


async def open_loop(port: int, orders: Orders, rate: float, seconds: float, pool: int = 64) -> dict:
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(pool):
        idle.put_nowait(await Connection("127.0.0.1", port).open())
    n = int(rate * seconds)
    latencies = np.empty(n)
    bodies = [orders.body(1) for _ in range(n)]

    async def one(i: int) -> None:
        due = t0 + i / rate
        conn = await idle.get()
        body, key = bodies[i]
        status, answer = await conn.post("/v1/route", body, key)
        latencies[i] = time.perf_counter() - due
        routed_in(status, answer, 1)
        idle.put_nowait(conn)

    tasks = []
    with no_collections():
        t0 = time.perf_counter() + 0.05
        for i in range(n):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        # only the requests still running: gathering all 10,000 tasks held the last answers up ~15 ms
        await asyncio.gather(*(t for t in tasks if not t.done()))
    for t in tasks:
        t.result()  # a request that failed raises here
    achieved = n / (time.perf_counter() - t0)
    while not idle.empty():
        idle.get_nowait().close()
    ms = latencies * 1000
    return {"rate_per_s": rate, "achieved_per_s": round(achieved), "requests": n,
            **{f"p{q:g}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 90, 99, 99.9)},
            "max_ms": round(float(ms.max()), 2)}


def run(clients: int, seconds: float, rate: float, batch: int, n_skus: int = 1000,
        latency_only: bool = False) -> dict:
    """Start the server on a fresh scenario and ledger, measure, stop it; the figures."""
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        root = Path(tmp)
        skus = write_scenario(root / "scenario", n_skus)
        srv = Server(f"sqlite:///{root}/ledger.db", root / "scenario").start()
        try:
            orders = Orders(skus)
            asyncio.run(closed_loop(srv.port, orders, clients, min(seconds, 2.0), 1))  # warm every path
            out: dict = {"cpus": os.cpu_count()}
            if not latency_only:
                out["throughput_single"] = asyncio.run(closed_loop(srv.port, orders, clients, seconds, 1))
                out["throughput_batch"] = asyncio.run(closed_loop(srv.port, orders, clients, seconds, batch))
            out["latency_fixed_rate"] = asyncio.run(open_loop(srv.port, orders, rate, seconds))
        finally:
            srv.kill()
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m benchmarks.serve_load`` (the README's flags are checked against it)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.serve_load", description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rate", type=float, default=1000.0)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--skus", type=int, default=1000)
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--latency-only", action="store_true", help="measure only the latency at the fixed rate")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    out = run(args.clients, args.seconds, args.rate, args.batch, args.skus, args.latency_only)
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
