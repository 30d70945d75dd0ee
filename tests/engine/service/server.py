"""Start ``sourcewise serve`` for real (uvicorn in a subprocess on 127.0.0.1) over a scenario built
from the platforms' example payloads that the adapter tests use."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import httpx
import pandas as pd

from sourcewise.engine.adapters import get_adapter
from sourcewise.engine.adapters.magento import MagentoAdapter
from sourcewise.engine.service.auth import shopify_signature
from tests.engine.adapters import load
from tests.engine.adapters.test_fuzz import FILES

TOKEN = "test-token"
OLD_TOKEN = "rotated-out-token"
SHOPIFY_SECRET = "shopify-app-secret"
CT_AUTH = "Basic Y3Q6c2VjcmV0"
MAGENTO_TOKEN = "magento-token"
ENV = {
    "SOURCEWISE_TOKEN": f"{TOKEN},{OLD_TOKEN}",
    "SOURCEWISE_SHOPIFY_SECRET": SHOPIFY_SECRET,
    "SOURCEWISE_CT_AUTH": CT_AUTH,
    "SOURCEWISE_MAGENTO_TOKEN": MAGENTO_TOKEN,
}
API = {"Authorization": f"Bearer {TOKEN}"}


def write_scenario(folder: Path, scale: int = 1) -> Path:
    """A scenario folder holding every platform's example locations and stock as one network.

    Node ids are the platforms' location keys (Shopify location ids, commercetools channel ids,
    Magento source codes, generic node ids) and SKUs theirs, so every example order payload routes
    against it; ``scale`` multiplies every stock level.
    """
    nodes, skus, stock = {}, {}, []
    for platform, (_, locs, inv) in sorted(FILES.items()):
        adapter = MagentoAdapter(stock_id=2) if platform == "magento" else get_adapter(platform)
        cat = adapter.parse_catalog(load(locs), load(inv))
        for n in cat.network.nodes:
            nodes[n.node_id] = {"node_id": n.node_id, "kind": str(n.kind), "lat": n.lat, "lon": n.lon,
                                "priority": n.priority, "ships": n.ships, "pickup": n.pickup, "enabled": n.enabled,
                                "handling_per_shipment": n.handling_per_shipment,
                                "handling_per_unit": n.handling_per_unit, "processing_days": n.processing_days,
                                "fee_rate": n.fee_rate}
        for s in cat.network.skus:
            skus[s.sku] = {"sku": s.sku, "weight_kg": s.weight_kg, "price": s.price}
        for r in cat.inventory.records():
            stock.append({"node_id": r.node_id, "sku": r.sku, "on_hand": r.on_hand * scale,
                          "safety_stock": r.safety_stock, "reserved": 0})
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(list(nodes.values())).to_csv(folder / "nodes.csv", index=False)
    pd.DataFrame(list(skus.values())).to_csv(folder / "skus.csv", index=False)
    pd.DataFrame(stock).to_csv(folder / "inventory.csv", index=False)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running ``sourcewise serve`` process and an HTTP client for it."""

    store: str
    scenario: Path | None
    port: int = field(default_factory=free_port)
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen | None = None
    log: Path | None = None
    log_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> Server:
        args = [sys.executable, "-m", "sourcewise.cli", "serve", "--store", self.store, "--port", str(self.port),
                "--log-level", "warning", *self.extra]
        if self.scenario is not None:
            args += ["--scenario", str(self.scenario)]
        env = {**os.environ, **ENV}
        folder = self.log_dir or Path(self.store.removeprefix("sqlite:///")).parent
        self.log = folder / f"serve.{self.port}.log"
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(args, env=env, stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server did not become ready:\n{self.log.read_text()}")

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-request."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@contextmanager
def sqlite_server(root: Path, scale: int = 1, policy: str | None = None) -> Iterator[Server]:
    """A started server on a new SQLite ledger in ``root``, killed on leaving.

    Its scenario is :func:`write_scenario`'s at ``scale``; ``policy``, when
    given, is the text of its ``policy.toml``. The module-scoped fixtures
    that share one server across their tests are made of this.
    """
    scenario = write_scenario(root / "scenario", scale=scale)
    if policy is not None:
        (scenario / "policy.toml").write_text(policy)
    srv = Server(f"sqlite:///{root}/ledger.db", scenario).start()
    try:
        yield srv
    finally:
        srv.kill()


def signed(body: bytes, secret: str = SHOPIFY_SECRET) -> dict[str, str]:
    """Headers of a Shopify webhook delivery of ``body``."""
    return {"X-Shopify-Hmac-Sha256": shopify_signature(body, secret), "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create"}


def payload(platform: str):
    """The example order payload of a platform (a fresh copy)."""
    return load(FILES[platform][0])
