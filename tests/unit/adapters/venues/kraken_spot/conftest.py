"""Every Kraken spot test's account credentials, from the environment as an account reads them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _creds(monkeypatch):
    monkeypatch.setenv("KS_TEST_KEY", "k")
    monkeypatch.setenv("KS_TEST_SECRET", "c2VjcmV0")  # Kraken's secret is base64
