"""``ksctl run``'s collector: what lives at start is frozen out of the cyclic collector's walks,
and a reload (which drops a graph) collects what was frozen before freezing again."""

from __future__ import annotations

import gc
import weakref

from killswitch.daemon import settle_collector


class _Node:
    pass


def test_settling_freezes_what_lives_and_a_reload_collects_a_dropped_cycle():
    node = _Node()
    node.itself = node  # a reference cycle: only the cyclic collector frees it
    alive = weakref.ref(node)
    try:
        settle_collector()
        assert gc.get_freeze_count() > 0
        del node
        gc.collect()
        assert alive() is not None  # frozen: a full collection no longer walks it
        settle_collector()  # as after a reload
        assert alive() is None
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
