"""``ksctl status``'s lines of what broke a lock or a limit at the venue (render/status.py)."""

from __future__ import annotations

from killswitch.facts.violations import violation_lines

ROW = {"key": "cancel|binanceusdm/sim-main|1", "action": "cancel", "scope": "binanceusdm/sim-main", "mode": "active",
       "venue": "binanceusdm", "account": "binanceusdm/sim-main", "symbol": "BTC/USDT:USDT", "side": "buy",
       "amount": 0.01, "notional": 500.0, "client_order_id": "bot-a-1", "order_id": "1", "strategy": "bot-a",
       "ts_ms": 1_772_456_400_000, "dry_run": False, "outcome": "canceled"}


def test_a_limit_violation_names_the_limit_it_broke_not_the_lock_it_did_not():
    reason = "PRICE_COLLAR: price 50000 is 16.62% from mark 59966.4 of BTC/USDT:USDT [policy=g scope=s]"
    [_, line] = violation_lines({"total": 1, "recent": [{**ROW, "kind": "LIMIT_VIOLATION", "reason": reason}]})
    assert line.endswith(f"order bot-a-1 (id 1) breaking {reason}: canceled"), line
    assert "under active" not in line


def test_a_lock_violation_says_the_lock_it_broke():
    row = {**ROW, "kind": "LOCK_VIOLATION", "mode": "halted", "reason": "HALTED: ..."}
    [_, line] = violation_lines({"total": 1, "recent": [row]})
    assert line.endswith("order bot-a-1 (id 1) under halted binanceusdm/sim-main: canceled"), line


REVERT = {**ROW, "key": "revert|binanceusdm/sim-main|BTC/USDT:USDT|long|5|6", "action": "revert",
          "kind": "LOCK_VIOLATION", "mode": "halted", "client_order_id": "beta-mkt-1", "order_id": "4626764239",
          "strategy": "beta",
          "strategies": ["beta"], "attribution": "from fills: beta-mkt-1 (beta) 1",
          "revert_client_order_id": "ks" + "f" * 30, "outcome": "revert filled 1"}


def test_a_revert_names_the_bots_order_and_the_runners_own_revert_apart():
    [_, line] = violation_lines({"total": 1, "recent": [REVERT]})
    assert "strategy beta order beta-mkt-1 (id 4626764239) under halted" in line, line
    # the bot's side and the revert's, each said whose (the walk read "revert … buy" of a sell)
    assert " BTC/USDT:USDT bot buy 0.01 " in line, line
    assert line.endswith(f"the runner's own revert sell ks{'f' * 30}: revert filled 1"), line


def test_a_revert_nobody_is_named_for_says_why_and_two_strategies_are_both_named():
    unknown = {**REVERT, "client_order_id": None, "order_id": None, "strategy": "unknown", "strategies": ["unknown"],
               "attribution": "unknown: no fill read (UNSUPPORTED: no read)"}
    [_, line] = violation_lines({"total": 1, "recent": [unknown]})
    assert "strategy unknown: no fill read (UNSUPPORTED: no read) order - under" in line, line
    [_, both] = violation_lines({"total": 1, "recent": [{**REVERT, "strategies": ["beta", "alpha"]}]})
    assert "strategies beta, alpha order beta-mkt-1" in both, both


def test_the_console_shows_the_bots_order_and_the_runners_revert_labelled_as_its_own():
    from killswitch.face.console.model import _violations

    (row,) = _violations({"total": 1, "recent": [REVERT]}, REVERT["ts_ms"])["rows"]
    assert (row["order"], row["order_id"], row["strategy"], row["outcome"]) == (  # in the words of status's line
        "beta-mkt-1", "4626764239", "beta", f"the runner's own revert sell ks{'f' * 30}: revert filled 1")


def test_refused_closes_are_counted_as_refusals_never_more_of_fewer_tries():
    """A chunked close counts each refused order: 5 refusals of a leg bound to 2 tries read
    '5 orders refused … given up after 2 tries', never '5 of 2' (second walk, issue 65); a status
    of a runner that did not count its tries apart from the orders says the bound."""
    from types import SimpleNamespace

    from killswitch.facts import rejected, status_lines

    row = {"account": "binanceusdm/sim-hedge", "symbol": "BTC/USDT:USDT", "leg": "SHORT", "tries": 5, "bound": 2,
           "venue_said": "-2022 ReduceOnly Order is rejected.", "reason": "REDUCE_ONLY_REJECTED",
           "incident": "crash-watch/binanceusdm/sim-hedge/L3/e1", "state": "CLOSE_REJECTED", "first_ms": None}
    retried = {**row, "state": "retrying", "tries": 1, "kind": "permanent", "next_ms": None,
               "incident": "manual/binanceusdm/sim-hedge/m1"}
    text = "\n".join(status_lines(rejected.facts(SimpleNamespace(close_rejections=(row, retried)))))
    assert "5 of 2" not in text and "1 of 2" not in text, text
    assert "SHORT: 5 orders refused by the venue (given up after 2 tries): -2022" in text, text
    assert "SHORT: 1 order refused in 1 try (permanent), tried up to 2 times: -2022" in text and \
           "incident manual/binanceusdm/sim-hedge/m1" in text, text
    once = "\n".join(status_lines(rejected.facts(SimpleNamespace(close_rejections=(
        {**row, "tries": 1, "bound": 1}, {**retried, "bound": 1})))))  # never "1 tries", "1 times"
    assert "SHORT: 1 order refused by the venue (given up after 1 try): -2022" in once, once
    assert "SHORT: 1 order refused in 1 try (permanent), tried at most once: -2022" in once, once


def test_violations_read_back_name_the_day_read_back_and_the_first_violation_apart():
    day_before = ROW["ts_ms"] - 86_400_000 + 60_000
    later = {**ROW, "ts_ms": ROW["ts_ms"] + 80_000}
    head = violation_lines({"total": 2, "since_ms": day_before, "read_back": True, "recent": [later, ROW]})[0]
    assert head == ("  LOCK VIOLATIONS: 2 since 2026-03-01T13:01:00Z (24 h before this runner started), "
                    "the first at 2026-03-02T13:00:00Z (the latest first)"), head
    head = violation_lines({"total": 1, "since_ms": ROW["ts_ms"] - 5_000, "recent": [ROW]})[0]
    assert head == ("  LOCK VIOLATIONS: 1 since this runner started at 2026-03-02T12:59:55Z, "
                    "the first at 2026-03-02T13:00:00Z (the latest first)"), head
    head = violation_lines({"total": 60, "since_ms": day_before, "read_back": True, "recent": [ROW]})[0]
    assert "the oldest shown at 2026-03-02T13:00:00Z" in head and "the first at" not in head, head


def test_uncounted_violations_say_uncounted_once():
    from killswitch.render.status import count_lines
    blind = ("UNCOUNTED: violations counted since 2026-03-02T13:00:00Z, after the window's start "
             "(300s before the tick)")
    [line] = count_lines({"since_ms": ROW["ts_ms"], "blind": blind, "counts": []})
    assert line == f"  VIOLATIONS {blind}; a policy reading them sees them unknown", line
    assert line.count("UNCOUNTED") == 1
    [line] = count_lines({"since_ms": ROW["ts_ms"], "blind": "TALLY_FULL: more than 10 keys", "counts": []})
    assert line.startswith("  VIOLATIONS UNCOUNTED: TALLY_FULL: more than 10 keys "
                           "(counting since 2026-03-02T13:00:00Z)"), line


def test_lock_and_limit_violations_are_counted_apart_and_alike_in_status_and_the_console():
    """Issue 81: "LOCK VIOLATIONS" counted a pre-trade limit's violations as a lock's, and the
    console's count was not status's. Both now read one count of each kind (watch/shown.py)."""
    import asyncio
    from types import SimpleNamespace

    from killswitch.face.console.model import _violations, _when
    from killswitch.facts import violations as fact
    from killswitch.runner.watch.shown import Shown

    t0 = ROW["ts_ms"]

    def both(doc: dict) -> tuple[str, str]:
        head = violation_lines(doc)[0]
        f = fact.shown(list(fact.facts(SimpleNamespace(lock_violations=doc))), lambda ms: _when(ms, t0))
        assert _violations(doc, t0)["title"] == f.title
        assert f is not None and head.startswith(f"  {f.title}: {f.line.split(' at the venue')[0]} since "), (head, f)
        return f.title, head

    shown = Shown(t0)
    for i in range(5):
        shown.keep({**ROW, "kind": "LOCK_VIOLATION", "key": f"lock|{i}", "ts_ms": t0 + i})
    assert both(shown.status()) == ("LOCK VIOLATIONS", "  LOCK VIOLATIONS: 5 since this runner started at "
                                    "2026-03-02T13:00:00Z, the first at 2026-03-02T13:00:00Z (the latest first)")
    shown.keep({**ROW, "kind": "LIMIT_VIOLATION", "key": "limit|1", "ts_ms": t0 + 9})
    title, head = both(shown.status())
    assert title == "LOCK AND LIMIT VIOLATIONS", title
    assert head.startswith("  LOCK AND LIMIT VIOLATIONS: 6 (5 of a lock, 1 of a pre-trade limit) since "), head
    # read back after a start: counted apart by their audit rows' kinds
    rows = [SimpleNamespace(kind="limit_violation", payload={**ROW, "kind": "LIMIT_VIOLATION"}, ts_ms=t0)] * 2
    store = SimpleNamespace(audit_rows=lambda *_: rows)

    async def io(fn, *args):
        return fn(*args)

    asyncio.run(shown.recall(store, io, t0 + 60_000))
    assert both(shown.status())[1].startswith("  LIMIT VIOLATIONS: 2 since "), shown.status()
