"""One server per module for the endpoint tests (starting one costs a few seconds of compilation)."""

from __future__ import annotations

import pytest

from tests.engine.service.server import sqlite_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with sqlite_server(tmp_path_factory.mktemp("serve"), scale=50) as srv:
        yield srv
