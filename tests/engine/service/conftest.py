"""One server per module for the endpoint tests (starting one costs a few seconds of compilation)."""

from __future__ import annotations

import pytest

from tests.engine.service.server import Server
from tests.engine.service.server import write_scenario


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    srv = Server(f"sqlite:///{root}/ledger.db", write_scenario(root / "scenario", scale=50)).start()
    yield srv
    srv.kill()
