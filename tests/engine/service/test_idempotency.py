"""The ``Idempotency-Key`` records (``engine/service/idempotency.py``) on their own, across a reopen."""

from __future__ import annotations

from sourcewise.engine.service.idempotency import DONE
from sourcewise.engine.service.idempotency import PENDING
from sourcewise.engine.service.idempotency import SQLiteRequests
from sourcewise.engine.service.idempotency import fingerprint


def test_sqlite_records_are_found_after_a_reopen_and_new_keys_are_not(tmp_path):
    """Answers recorded before a restart are found after it, pending records keep their ledger
    position, and a key never recorded is not found."""
    path = tmp_path / "ledger.db.requests"
    fp = fingerprint("POST", "/v1/route", b'{"order_id": "A"}')
    first = SQLiteRequests(path)
    keys = [f"k-{i}" for i in range(2_000)]
    for k in keys:
        first.finish(k, fp, 200, k.encode())
    assert first.begin("pending-1", fp, 7) is None
    assert first.get("never") is None
    first.close()

    again = SQLiteRequests(path)
    try:
        for k in keys:
            rec = again.get(k)
            assert rec is not None and rec.state == DONE and rec.body == k.encode() and rec.fingerprint == fp
        rec = again.get("pending-1")
        assert rec is not None and rec.state == PENDING and rec.seq == 7
        assert again.get("never") is None and again.get("k-2000") is None
        # a key recorded now is found at once, and a second begin on it is refused with its record
        again.finish("late", fp, 200, b"{}")
        assert again.get("late").body == b"{}"
        assert again.begin("late", fp, 9).state == DONE
    finally:
        again.close()
