"""The service's garbage collection: what survives a second is frozen, after the garbage is collected."""

from __future__ import annotations

import asyncio
import gc
import weakref

from sourcewise.engine.service import app as service_app
from sourcewise.engine.service.app import Service
from sourcewise.engine.service.app import ServiceConfig


class Node:
    other: Node | None = None


def test_survivors_are_frozen_and_garbage_cycles_collected_first(monkeypatch, tmp_path):
    monkeypatch.setattr(service_app, "FREEZE_S", 0.01)
    svc = Service(ServiceConfig(f"sqlite:///{tmp_path}/ledger.db"))
    gc.disable()  # the cycle below is collected by the service's pass or not at all
    kept = [[i] for i in range(1000)]  # tracked, alive: frozen
    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle, unreachable below: collected, not frozen
    gone = weakref.ref(a)
    del a, b

    async def run(loaded: bool) -> None:
        svc.ops = object() if loaded else None
        task = asyncio.create_task(svc.freeze_survivors())
        await asyncio.sleep(0.1)
        task.cancel()

    frozen = gc.get_freeze_count()
    try:
        asyncio.run(run(loaded=False))  # nothing before the state is loaded (the load freezes it)
        assert gc.get_freeze_count() == frozen and gone() is not None
        asyncio.run(run(loaded=True))
        assert gc.get_freeze_count() >= frozen + len(kept)
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.enable()
