"""The firm lease changing hands, as a shard runner says it: taken and lost at WARNING, a single
takeover as one plain line, and a lease that flaps (taken and lost again and again under load)
said with how many times in the last minute (issue 81)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

from killswitch.firmlink.firm import FirmLink
from killswitch.policy.accounts_doc import Accounts
from killswitch.process.shard import shard_start

from .test_firm import T0, _compile, _firm


class _Firm:
    """The firm's store as the firm lease step reads it: the tokens ``acquire_lease`` answers in turn."""

    def __init__(self, tokens):
        self.tokens = list(tokens)

    def acquire_lease(self, holder, ttl_ms, now):
        return self.tokens.pop(0)

    def load_engine_state(self):
        return None

    def last_directive_id(self):
        return 0


def _link(tokens) -> tuple[FirmLink, list[str]]:
    graph, _, _ = _firm()
    spec = next(d.model for d in _compile().docs if isinstance(d.model, Accounts)).spec
    ports = SimpleNamespace(clock=lambda: T0, book=SimpleNamespace(take_firm_graph=lambda graph: None),
                            sinks=SimpleNamespace(holds=lambda *a: True), dry_run=False)
    said: list[str] = []
    link = FirmLink(ports, _Firm(tokens), shard_start("desk-a", spec, "postgresql://firm"), "postgresql://firm",
                    "a-0", 3_000, said.append, said.append)
    link.graph = graph

    async def resume(token, now):
        return []

    async def evaluate(now, token):
        return None

    link.entries = SimpleNamespace(take=lambda doc: None, resume=resume)
    link._evaluate = evaluate  # type: ignore[method-assign]
    return link, said


def _steps(link: FirmLink, at_s: list[int]) -> None:
    async def run():
        for s in at_s:
            await link._firm_lease(T0 + s * 1_000)

    asyncio.run(run())


def _lines(caplog) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "killswitch.runner.firm.lease"]


def test_a_single_takeover_and_its_loss_are_said_at_warning_as_plain_lines(caplog):
    caplog.set_level(logging.INFO)
    link, said = _link([7, 7, None])
    _steps(link, [0, 1, 100])  # taken, renewed (nothing to say), lost over a minute later
    assert _lines(caplog) == [
        (logging.WARNING, "ksctl run: FIRM LEASE taken by a-0 (token 7): evaluating the firm-wide policies "
                          "firm-drawdown"),
        (logging.WARNING, "ksctl run: FIRM LEASE lost by a-0 (token 7): its term ran out unrenewed or another "
                          "shard's runner took it; this runner no longer evaluates the firm-wide policies")]
    assert not [x for x in said if "FIRM LEASE" in x]  # not said again at INFO


def test_a_flapping_firm_lease_says_how_many_times_it_changed_in_the_last_minute(caplog):
    caplog.set_level(logging.INFO)
    link, _ = _link([3, None, 5, None, 9, None])
    _steps(link, [0, 10, 20, 30, 40, 65])  # six changes in 65 s: the last five within a minute of the last
    lines = _lines(caplog)
    assert [level for level, _ in lines] == [logging.WARNING] * 6
    assert "FLAPPING" not in lines[0][1]
    assert lines[1][1].endswith("; FLAPPING: this runner took or lost the firm lease 2 times in the last 60s (it is "
                                "renewed once a tick: ticks spaced past --lease-ttl let it run out)")
    assert "took or lost the firm lease 5 times in the last 60s" in lines[4][1]
    assert lines[5][1].startswith("ksctl run: FIRM LEASE lost by a-0 (token 9)")
    assert "took or lost the firm lease 5 times in the last 60s" in lines[5][1]  # the one at 0 s is past the minute
