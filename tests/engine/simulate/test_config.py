"""Replay settings (engine.simulate.config): strategy names and validation."""

from __future__ import annotations

import pytest

from sourcewise.engine.simulate import SimConfig
from sourcewise.engine.simulate import parse_strategy
from sourcewise.models.errors import ValidationError


def test_strategy_names_and_config_validation():
    assert parse_strategy("batch").window == 15
    assert parse_strategy("batch60").window == 60 and parse_strategy("batch60").route == "cost"
    assert parse_strategy("dual").dual
    with pytest.raises(ValidationError) as exc:
        SimConfig(strategies=("cheapest", "batch0", "cost", "cost"), pick_reject_rate=1.5, walkin_slices=0)
    text = str(exc.value)
    for part in ("cheapest", "batch0", "repeat", "pick_reject_rate", "walkin_slices"):
        assert part in text
