"""Fixtures of the simulated-exchange integration tests (helpers live in sim_helpers)."""

from __future__ import annotations

import pytest

from .sim_helpers import engine


@pytest.fixture
def sim():
    """(engine, clock): the calm scenario with flat marks (BTC 60k, ETH 3k, SOL 140) at T0."""
    return engine()
