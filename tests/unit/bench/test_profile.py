"""bench/profile_share.py reads py-spy's collapsed stacks as py-spy names frames (``func
(path:line)``, paths relative to the site-packages): a sample counts in every kind of work its
stack passes through, the event loop's own only where its innermost frame is asyncio's."""

from __future__ import annotations

from tests.conftest import bench_module

profile_share = bench_module("profile_share")

STACKS = "\n".join([
    "<module> (ksctl:8);run (asyncio/runners.py:190);_run (asyncio/events.py:80);"
    "on_message (ccxt/async_support/base/ws/client.py:332);loads (json/__init__.py:346) 30",
    "<module> (ksctl:8);run (asyncio/runners.py:190);select (selectors.py:468) 50",
    "<module> (ksctl:8);run (asyncio/runners.py:190);tick (killswitch/engine/evaluate.py:10) 15",
    "<module> (ksctl:8);apply (adapters/remote/wire.py:190);model_construct (pydantic/main.py:300) 5",
])


def test_shares_count_a_sample_in_every_kind_its_stack_passes_through(tmp_path) -> None:
    path = tmp_path / "raw.txt"
    path.write_text(STACKS)
    shares = profile_share.shares(path)
    assert shares["ccxt"] == 30.0 and shares["json parsing"] == 30.0 and shares["engine"] == 15.0
    assert shares["pickle and frames"] == 5.0 and shares["readers' link"] == 5.0 and shares["pydantic"] == 5.0
    assert shares["state store"] == 0.0
    said = profile_share.summary(path)
    assert "100 samples" in said and "event loop (own)    50.0 %" in said
    assert said.index("select (selectors.py:468)") < said.index("loads (json/__init__.py:346)")
