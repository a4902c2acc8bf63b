"""Data age from what is observed: a frozen feed ages even when the venue stamps it fresh.

The rule (killswitch.engine.state.AccountState.data_age_ms): an account's data is as old as its
newest well-formed answer (``ts_event``, never later than ``ts_observed``), unless the book holds
something (a position, a priced spot holding) and its content — equity, every position's size
and mark, every priced holding — repeated exactly while the venue's clock moved on by more than
FROZEN_AFTER_MS: then it is as old as the first answer with that content. A quiet book (nothing
held) proves nothing by repeating itself and ages by its timestamps only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.engine.signals import content_fingerprint, earlier_fingerprint, saved_by_earlier_release
from killswitch.engine.state import FROZEN_AFTER_MS, AccountState, State
from tests.unit.engine_helpers import SEC, Balance, pos, run, signal, single_signal_graph, snap, trig

STEP = 5 * SEC  # the runner's interval in these tests


def graph(threshold: str = "3s"):
    return single_signal_graph("data_age", f"s > {threshold}", on_missing="fire", interval="5s")


def book(mark: float = 60_000.0, equity: float = 100_000.0, ts: int = 0, **kw):
    return snap(equity, ts, positions=[pos("BTC/USDT:USDT", contracts=2.0, mark=mark)], **kw)


def live(i: int):
    """A live book: the mark moves every tick."""
    return book(mark=60_000.0 + 0.1 * i, equity=100_000.0 + 0.2 * i, ts=i * STEP)


def ages_and_firing(ticks, g=None, state=None):
    evs, state = run(g or graph(), ticks, state)
    return [signal(ev).value for ev in evs], [trig(ev).firing for ev in evs], state


def test_frozen_feed_with_fresh_timestamps_ages_and_fires_within_a_few_ticks():
    # live for 4 ticks, then the same answer again and again, stamped with the current time
    ticks = [(i * STEP, [live(i)]) for i in range(4)]
    frozen_from = 4 * STEP
    ticks += [(i * STEP, [book(mark=61_000.0, ts=i * STEP)]) for i in range(4, 12)]
    ages, firing, _ = ages_and_firing(ticks)
    assert ages[:4] == [0.0] * 4
    # the freeze shows once the venue's clock has moved more than FROZEN_AFTER_MS past the first
    # answer with that content; from then on the age is counted from that answer
    first = next(i for i, a in enumerate(ages) if a > 0)
    assert (first * STEP - frozen_from) > FROZEN_AFTER_MS >= ((first - 1) * STEP - frozen_from)
    for i in range(first, 12):
        assert ages[i] == (i * STEP - frozen_from) / 1000
    assert firing[first] and all(firing[first:]) and not any(firing[:first])
    assert first - 4 <= 3  # a few ticks at a 5 s interval


def test_a_live_book_repeating_one_answer_briefly_does_not_fire():
    # the mark sits still for two ticks (10 s of venue clock, not more than the tolerance)
    ticks = [(0, [live(0)]), (STEP, [live(1)]), (2 * STEP, [live(1).model_copy(update={"ts_event": 2 * STEP,
                                                                                        "ts_observed": 2 * STEP})]),
             (3 * STEP, [live(1).model_copy(update={"ts_event": 3 * STEP, "ts_observed": 3 * STEP})]),
             (4 * STEP, [live(4)])]
    ages, firing, _ = ages_and_firing(ticks)
    assert ages == [0.0] * 5 and not any(firing)


def test_a_quiet_book_with_nothing_held_never_ages_by_its_content():
    # a flat account: the same equity and no position for ten minutes, stamped fresh each time
    ticks = [(i * STEP, [snap(100_000.0, i * STEP)]) for i in range(120)]
    ages, firing, state = ages_and_firing(ticks)
    assert set(ages) == {0.0} and not any(firing)
    assert state.accounts["simulated/a"].content is None


def test_a_spot_book_of_stablecoins_is_quiet_and_a_priced_holding_is_judged():
    usdt = Balance(asset="USDT", free=5_000, total=5_000, price=1.0)
    usdc = Balance(asset="USDC", free=5_000, total=5_000, price=1.0)
    btc = Balance(asset="BTC", free=1, total=1, price=60_000.0)
    quiet = [(i * STEP, [snap(10_000.0, i * STEP, market_type="spot", balances=[usdt, usdc])]) for i in range(10)]
    assert set(ages_and_firing(quiet)[0]) == {0.0}
    held = [(i * STEP, [snap(70_000.0, i * STEP, market_type="spot", balances=[usdt, btc])]) for i in range(10)]
    ages = ages_and_firing(held)[0]
    assert ages[-1] == 45.0  # the BTC price never moved: frozen since the first answer


def test_a_feed_that_moves_again_is_fresh_again():
    ticks = [(i * STEP, [book(ts=i * STEP)]) for i in range(6)]  # frozen for 25 s
    ticks += [(6 * STEP, [live(6)])]
    ages, firing, _ = ages_and_firing(ticks)
    assert ages[5] == 25.0 and firing[5]
    assert ages[6] == 0.0


def test_old_timestamps_repeated_age_as_before():
    # a frozen feed that repeats its payload with its own old time
    ticks = [(i * STEP, [book(ts=0)]) for i in range(4)]
    assert ages_and_firing(ticks)[0] == [0.0, 5.0, 10.0, 15.0]


def test_an_answer_is_never_newer_than_its_arrival():
    # the venue's clock runs a minute ahead; then the exchange stops answering: the data is as
    # old as its arrival, not as young as the venue's clock claims
    from tests.unit.engine_helpers import failed

    ahead = book(ts=0).model_copy(update={"ts_event": 60 * SEC, "ts_observed": 0})
    ticks = [(0, [ahead]), (STEP, [failed(STEP)]), (2 * STEP, [failed(2 * STEP)])]
    ages, firing, _ = ages_and_firing(ticks)
    assert ages == [0.0, 5.0, 10.0] and firing == [False, True, True]


def test_the_age_of_a_frozen_feed_survives_a_restart():
    ticks = [(i * STEP, [book(ts=i * STEP)]) for i in range(4)]  # frozen, 15 s so far
    _, _, state = ages_and_firing(ticks)
    doc = json.loads(json.dumps(state.to_json()))
    restored = State.from_json(doc)
    assert restored.accounts == state.accounts
    ages, firing, _ = ages_and_firing([(4 * STEP, [book(ts=4 * STEP)])], state=restored)
    assert ages == [20.0] and firing == [True]


def test_a_state_document_from_before_freshness_loads_and_an_older_runner_can_read_a_new_one():
    ticks = [(i * STEP, [book(ts=i * STEP)]) for i in range(4)]
    _, _, state = ages_and_firing(ticks)
    doc = json.loads(json.dumps(state.to_json()))
    # an older runner reads four fields per account, as AccountState(*row) did
    assert all(len(row) == 4 for row in doc["accounts"].values())
    old = {k: v for k, v in doc.items() if k != "content"}  # what the previous release saved
    restored = State.from_json(old)
    acc = restored.accounts["simulated/a"]
    assert (acc.last_good_ms, acc.content, acc.changed_ms) == (3 * STEP, None, None)
    assert acc.data_age_ms(4 * STEP) == STEP  # the venue's time until the content is seen again
    # the bookkeeping starts afresh: the freeze shows again after the tolerance
    ages, _, _ = ages_and_firing([(i * STEP, [book(ts=i * STEP)]) for i in range(4, 8)], state=restored)
    assert ages == [0.0, 0.0, 0.0, 15.0]


@pytest.mark.slow
def test_the_fingerprint_is_the_same_in_every_process():
    """It is persisted and compared after a restart or a takeover: it must not depend on
    Python's per-process string hashing."""
    s = book(ts=0)
    code = ("import sys; from killswitch.snapshot import Snapshot; from killswitch.engine.signals import "
            "content_fingerprint as f; print(f(Snapshot.model_validate_json(sys.stdin.read())))")
    outs = {subprocess.run([sys.executable, "-c", code], input=s.model_dump_json(), capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip()
            for seed in (1, 2, 3)}
    assert outs == {content_fingerprint(s)}


def test_the_fingerprint_of_a_known_book_is_pinned():
    """A changed definition makes every saved fingerprint differ at an upgrade: each frozen feed
    would count as changed and its age start again, unless the earlier definition is recognised
    (below). This one is the CRC; the one before it, blake2b, is still computed to compare."""
    assert content_fingerprint(book(ts=0)) == "c6087584d"
    assert earlier_fingerprint(book(ts=0)) == "f0ed809f07a4bdfd7ccd7006"  # as releases before the CRC saved it
    assert saved_by_earlier_release("f0ed809f07a4bdfd7ccd7006") and not saved_by_earlier_release("c6087584d")
    assert not saved_by_earlier_release(None)
    assert saved_by_earlier_release("c0ed809f07a4bdfd7ccd7006")  # a digest may begin as a CRC does


def test_a_feed_frozen_across_an_upgrade_keeps_its_age():
    """A state saved by a release before the CRC holds blake2b fingerprints: the same content
    is recognised (once; the CRC is kept from then on) and its feed goes on ageing; a moved
    one is a change, as it always was."""
    ticks = [(i * STEP, [book(ts=i * STEP)]) for i in range(4)]  # frozen, 15 s so far
    _, _, state = ages_and_firing(ticks)
    doc = json.loads(json.dumps(state.to_json()))
    [[crc, changed]] = doc["content"].values()
    assert crc == content_fingerprint(book(ts=0)) and changed == 0
    doc["content"] = {k: [earlier_fingerprint(book(ts=0)), changed] for k in doc["content"]}  # as saved then
    restored = State.from_json(doc)
    ages, firing, after = ages_and_firing([(4 * STEP, [book(ts=4 * STEP)])], state=restored)
    assert ages == [20.0] and firing == [True]
    assert after.accounts["simulated/a"].content == crc
    # the same saved state, and a mark that moved: fresh
    ages, firing, after = ages_and_firing([(4 * STEP, [book(mark=60_000.5, ts=4 * STEP)])],
                                          state=State.from_json(doc))
    assert ages == [0.0] and firing == [False]
    assert after.accounts["simulated/a"].content == content_fingerprint(book(mark=60_000.5))


@pytest.mark.parametrize("change", [
    pytest.param({"mark": 60_000.1}, id="a_mark"),
    pytest.param({"equity": 100_000.01}, id="equity"),
    pytest.param({"contracts": 1.5}, id="a_size"),
])
def test_what_counts_as_a_change(change):
    equity = change.pop("equity", 100_000.0)
    p = {"mark": 60_000.0, "contracts": 2.0, **change}
    a = snap(100_000.0, 0, positions=[pos("BTC/USDT:USDT", contracts=2.0, mark=60_000.0)])
    b = snap(equity, 0, positions=[pos("BTC/USDT:USDT", contracts=p["contracts"], mark=p["mark"])])
    assert content_fingerprint(a) != content_fingerprint(b)


def test_open_orders_do_not_count_as_a_change():
    from tests.unit.engine_helpers import order

    a = book(ts=0)
    b = book(ts=0, orders=[order("1")])
    assert content_fingerprint(a) == content_fingerprint(b)


def test_the_names_kept_from_the_last_tick_give_the_same_fingerprint_and_a_change_still_shows():
    """The account's state keeps the symbols and sides the last fingerprint encoded; a tick whose
    positions are the same reuses their text, and the digest is the one computed afresh."""
    from killswitch.engine.columns import Columns
    from killswitch.snapshot import PositionList

    def book_of(symbols, sides=None, mark=100.0):
        ps = [pos(sym, side=(sides or ["long"] * len(symbols))[i], mark=mark + i, contracts=1.0 + i)
              for i, sym in enumerate(symbols)]
        return snap(1_000.0, 0, positions=PositionList.of(ps))

    acc = AccountState()
    first = book_of(["A/USDT:USDT", "B/USDT:USDT"])
    assert content_fingerprint(first, account=acc) == content_fingerprint(first)
    assert acc.names is not None
    # the same positions, new lists (a new answer): the kept text is reused, the digest unchanged
    again = book_of(["A/USDT:USDT", "B/USDT:USDT"])
    assert content_fingerprint(again, account=acc) == content_fingerprint(again) == content_fingerprint(first)
    # a symbol or a side that changed shows, however the lists were made
    for changed in (book_of(["A/USDT:USDT", "C/USDT:USDT"]), book_of(["A/USDT:USDT", "B/USDT:USDT"], ["long", "short"]),
                    book_of(["A/USDT:USDT"])):
        assert content_fingerprint(changed, account=acc) == content_fingerprint(changed) != content_fingerprint(first)
        # and right after the first book, whichever list alone changed
        just_read = AccountState()
        content_fingerprint(first, account=just_read)
        assert content_fingerprint(changed, account=just_read) == content_fingerprint(changed)
    # a caller that changes the lists it handed over in place does not change what was kept
    cols = Columns(first.positions)
    assert content_fingerprint(first, cols, acc) == content_fingerprint(first)
    cols.symbols[1] = "Z/USDT:USDT"
    assert content_fingerprint(first, cols, acc) == content_fingerprint(first, cols) != content_fingerprint(first)


def test_the_account_state_rule_by_hand():
    acc = AccountState(last_good_ms=40_000, content="x", changed_ms=30_000)
    assert not acc.frozen() and acc.data_age_ms(41_000) == 1_000  # 10 s repeated: not more than 10 s
    acc.last_good_ms = 40_001
    assert acc.frozen() and acc.data_age_ms(41_000) == 11_000
    assert AccountState(last_good_ms=40_001, content=None, changed_ms=30_000).data_age_ms(41_000) == 999
    assert AccountState().data_age_ms(41_000) is None


@given(st.lists(st.one_of(st.floats(), st.integers(min_value=-2**53, max_value=2**53)), max_size=300))
@settings(max_examples=200, deadline=None)
def test_the_packed_numbers_are_the_bytes_of_an_array_of_doubles(xs):
    """The fingerprint packs sizes and marks with a compiled format per length: the bytes an
    array of doubles holds, for any float (NaN, infinities, -0.0) and for integers, whatever
    lengths were packed before."""
    from array import array

    from killswitch.engine.signals import _doubles

    assert _doubles(xs) == array("d", xs).tobytes()
    assert _doubles(xs[:-1]) == array("d", xs[:-1]).tobytes()


def test_what_is_not_a_number_is_refused_as_before():
    from killswitch.engine.signals import _doubles

    for bad in ([1.0, None], ["1.0"], [object()]):
        with pytest.raises(TypeError):
            _doubles(bad)
