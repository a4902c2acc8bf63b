"""A page delivered between two saves of the runner's state, then a stop: a real Runner, a real
local HTTP receiver (apprise ``json://``), the same state store after the restart.

- a clean stop right after the delivery: the restarted runner does not send it again;
- a page whose receiver failed, copied to the fallback receiver as the runner stopped: neither
  tried again nor copied again after the restart;
- a death between the receiver's answer and the receipt's write (the one window no design
  closes without the receiver's help): sent again, marked as a possible repeat, with the same
  dedup key as the first;
- a stage entry's own page (``group_wait: 0s``), delivered after the save that owes the entry
  and before the next, the runner killed at each point around it: receipt written, not paged
  again (also when the runner that carried on saved once before it told the entry again, and
  was killed too; and when the next save came first); no receipt, paged once more, marked.
"""

from __future__ import annotations

import asyncio
import re

from killswitch.notify.sink import NotifyOptions, NotifySink
from tests.integration.notify.rig import ReceiverServer, Steps, deliveries_done, desk_routes, routes
from tests.integration.runner.rig import TICK_MS, parts_of, setup
from tests.procs import until


def pending_desk_page(sink: NotifySink) -> bool:
    return any(g.route.receiver == "desk" and any(fp not in (g.last_fps or ()) for fp in g.alerts)
               for g in sink.dispatcher.groups.values())


def dedup(page: dict) -> str:
    m = re.search(r"dedup ([0-9a-f]{16})\b", page["message"])
    assert m, page["message"]
    return m.group(1)


def failing_desk_routes(srv: ReceiverServer):
    """``desk`` answers 500; the document's fallback receiver, ``fb``, takes the failed pages."""
    return routes(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route:
            receiver: desk
            group_by: [policy, scope]
            group_wait: 30s
            group_interval: 1m
            repeat_interval: 10m
            routes:
              - {{match: {{event: scope_blind}}, receiver: watch}}
          receivers:
            - {{name: desk, apprise: ["{srv.url('fail')}"]}}
            - {{name: watch, apprise: ["{srv.url('watch')}"]}}
            - {{name: fb, apprise: ["{srv.url('fb')}"]}}
          fallback_receiver: fb
        """)


def options() -> NotifyOptions:
    return NotifyOptions(timeout_s=5.0, poll_s=0.05, attempts=2, backoff_s=0.05)


def first_run(tmp_path, srv, *, die_before_receipt: bool, doc=None, save_after: bool = False):
    """Tick until a desk page waits in its group, then, with no tick after it, let its group_wait
    pass and the page be delivered; then stop cleanly (or die before its receipt is written).
    ``save_after``: one more save after the page's flush, while its receipt is still to come."""
    doc = doc or desk_routes(srv, group_wait="30s")
    runner, engine, clock, store, _, _ = setup(tmp_path)
    sink = NotifySink.from_documents([doc], clock=clock, options=options())
    parts_of(runner).fanout.sinks.append(sink)
    if die_before_receipt:
        receipt = sink._receipt

        def dies(job, attempt, res, final, retry_at=None):
            if res.ok:
                return  # the process is gone between the receiver's 2xx and this write
            receipt(job, attempt, res, final, retry_at)
        sink._receipt = dies  # type: ignore[method-assign]

    steps = Steps(sink)

    async def go():
        await runner.start()
        for _ in range(80):
            clock.advance(TICK_MS)
            await runner.tick()
            await steps.next()  # the worker routes the tick's events
            if pending_desk_page(sink):
                break
        assert pending_desk_page(sink), "no page for desk in the flash crash"
        clock.advance(TICK_MS)
        await runner.tick()  # a save with the page waiting in its group
        await steps.next()
        assert pending_desk_page(sink)
        clock.advance(26_000)  # its group_wait passes between two ticks: no save after the flush
        sink._wake()
        await until(lambda: srv.got["desk"] or srv.hits["fail"], "the page delivered, or failed", 60)
        await deliveries_done(sink, budget_s=11)
        if save_after:
            await parts_of(runner).persist.save()  # the state saved says the page notified
        if not die_before_receipt:
            await runner.aclose()
    asyncio.run(asyncio.wait_for(go(), 120))
    assert srv.got["desk"] or srv.got["fb"], "the page was not delivered before the stop"
    store.close()
    return engine, clock


def second_run(tmp_path, srv, engine, clock, doc=None):
    """The runner restarted on the same store: the desk pages it sends before its first tick
    (the restored groups flushed, past their group_wait; a failed attempt as "desk failed"),
    then 40 s of ticks (the crash goes on: its next stage is news)."""
    doc = doc or desk_routes(srv, group_wait="30s")
    again, *_ = setup(tmp_path, engine=engine, clock=clock)
    sink = NotifySink.from_documents([doc], clock=clock, options=options())
    parts_of(again).fanout.sinks.append(sink)
    seen, failed, at_start = len(srv.got["desk"]), srv.hits["fail"], []
    steps = Steps(sink)

    async def go():
        await again.start()
        sink.start()  # as the first tick would, without the crash's next stage that tick brings
        await again.renew()  # the lease taken: the sinks take up the saved state
        await steps.next()  # the restored group, past its group_wait, flushes before any tick
        await deliveries_done(sink, budget_s=11)
        at_start.extend(srv.got["desk"][seen:])
        at_start.extend({"title": "desk failed"} for _ in range(srv.hits["fail"] - failed))
        for _ in range(8):  # 40 s: past the group's next flush, well before its repeat interval
            clock.advance(TICK_MS)
            await again.tick()
            await steps.next()  # the tick's events routed, what is due flushed
            await deliveries_done(sink, budget_s=11)
        await deliveries_done(sink, budget_s=11)
        await again.aclose()
    asyncio.run(asyncio.wait_for(go(), 120))
    return at_start


def test_a_page_delivered_just_before_a_clean_stop_is_not_sent_again_after_the_restart(tmp_path):
    with ReceiverServer() as srv:
        engine, clock = first_run(tmp_path, srv, die_before_receipt=False)
        again = second_run(tmp_path, srv, engine, clock)
    assert again == [], f"sent again after the restart: {[p['title'] for p in again]}"


def test_a_failed_page_copied_to_the_fallback_at_a_clean_stop_is_neither_retried_nor_copied_again(tmp_path):
    with ReceiverServer() as srv:
        doc = failing_desk_routes(srv)
        engine, clock = first_run(tmp_path, srv, die_before_receipt=False, doc=doc)
        (copy,) = srv.got["fb"]  # the stop sent the failed page to the fallback at once
        assert copy["title"].startswith("[CRITICAL] NOTIFICATION FAILED to desk: "), copy["title"]
        again = second_run(tmp_path, srv, engine, clock, doc=doc)
    assert again == [], f"tried at desk again after the restart: {again}"


def test_a_page_perhaps_delivered_before_a_death_is_sent_again_marked_as_a_repeat_with_its_key(tmp_path):
    with ReceiverServer() as srv:
        engine, clock = first_run(tmp_path, srv, die_before_receipt=True)
        first = list(srv.got["desk"])
        again = second_run(tmp_path, srv, engine, clock)
    assert again, "a page perhaps never delivered was not sent again"
    repeat = again[0]
    assert "(repeat after a restart: it may have reached you at " in repeat["title"], repeat["title"]
    assert repeat["title"].startswith(first[0]["title"]), (first[0]["title"], repeat["title"])
    assert dedup(repeat) == dedup(first[0])


def test_a_page_in_flight_when_a_save_said_it_notified_is_sent_again_after_a_death(tmp_path):
    """A save made after the page's flush and before its receipt (its delivery still under way)
    says its alerts notified; the runner then dies. The receipts have a sending row and no
    receipt: the next runner sends the page again, marked as a possible repeat, not lost."""
    with ReceiverServer() as srv:
        engine, clock = first_run(tmp_path, srv, die_before_receipt=True, save_after=True)
        first = list(srv.got["desk"])
        again = second_run(tmp_path, srv, engine, clock)
    repeats = [p for p in again if p["title"].startswith(first[0]["title"])]
    assert repeats, f"the page was lost: {[p['title'] for p in again]}"
    assert "(repeat after a restart: it may have reached you at " in repeats[0]["title"], repeats[0]["title"]
    assert dedup(repeats[0]) == dedup(first[0])


# --- the stage entry's own page: told, flushed and delivered between the save that records the
# entry (the outbox owes it) and the next save; the runner killed at each point around its send


def entry_routes(srv: ReceiverServer):
    """``desk`` pages a stage entry at once (``group_wait: 0s``): its page goes out before the
    next tick's save, as the crash soak's route does."""
    return desk_routes(srv, group_wait="0s")


def settled(sink: NotifySink) -> bool:
    """Nothing queued, routed or on its way: the tick's events are in the groups, the flushed
    pages delivered (or given up) and their receipts written."""
    return not sink._events and not sink._deliveries and not sink._tasks


def entry_paged_then_killed(tmp_path, srv: ReceiverServer, *, receipt: bool, saved_after: bool = False):
    """Tick the flash crash until the tick that enters a stage, let its page reach ``desk``, then
    stop with no clean shutdown: before the page's receipt is written (``receipt`` False: the
    process gone between the receiver's answer and that write) or after it; ``saved_after``: once
    the next save is made too. Returns the page, the engine and the clock."""
    runner, engine, clock, store, _, _ = setup(tmp_path)
    sink = NotifySink.from_documents([entry_routes(srv)], clock=clock, options=options())
    parts_of(runner).fanout.sinks.append(sink)
    if not receipt:
        write = sink._receipt

        def dies(job, attempt, res, final, retry_at=None):
            if not res.ok:
                write(job, attempt, res, final, retry_at)
        sink._receipt = dies  # type: ignore[method-assign]

    async def go():
        await runner.start()
        for _ in range(80):
            clock.advance(TICK_MS)
            report = await runner.tick()
            if any(t.transition.to_level for t in report.transitions):
                break
        assert parts_of(runner).book.owed, "the entry is not owed from its save"
        await until(lambda: settled(sink), "the entry's page delivered")
        assert parts_of(runner).book.owed, "a save came between the entry's and the kill"
        if saved_after:
            await parts_of(runner).persist.save()
    asyncio.run(asyncio.wait_for(go(), 120))
    (page,) = srv.got["desk"]
    store.close()
    return page, engine, clock


def carried_on(tmp_path, srv: ReceiverServer, engine, clock, *, ticks: int = 3, dies_after_save: bool = False):
    """The runner started again on the same store: it takes up the state and ticks (the entry
    told again at its first). ``dies_after_save``: it saves once, before its first tick tells
    the entry again, and is killed. Returns the desk pages it sent, and whether it told the
    entry again (its outbox still owed it)."""
    again, _, _, store, _, _ = setup(tmp_path, engine=engine, clock=clock)
    sink = NotifySink.from_documents([entry_routes(srv)], clock=clock, options=options())
    parts_of(again).fanout.sinks.append(sink)
    seen = len(srv.got["desk"])
    told_again = []

    async def go():
        await again.start()
        clock.advance(TICK_MS)  # a restart takes a while: this save is after the receipt
        await again.renew()  # the lease taken: the sinks take up the saved state
        if dies_after_save:
            await parts_of(again).persist.save()
            return
        for _ in range(ticks):
            clock.advance(TICK_MS)
            report = await again.tick()
            told_again.extend(e for e in report.events if e.data.get("resumed"))
            await until(lambda: settled(sink), "the restarted runner's pages delivered")
        await again.aclose()
    asyncio.run(asyncio.wait_for(go(), 120))
    store.close()
    return srv.got["desk"][seen:], bool(told_again)


def repeats_of(page: dict, pages: list[dict]) -> list[dict]:
    """The pages of ``pages`` that tell what ``page`` told (its stage entry)."""
    return [p for p in pages if p["title"].startswith(page["title"])]


MARK = "(repeat after a restart: it may have reached you at "


def test_a_stage_entry_paged_and_receipted_before_the_next_save_is_not_paged_again_after_a_kill(tmp_path):
    with ReceiverServer() as srv:
        page, engine, clock = entry_paged_then_killed(tmp_path, srv, receipt=True)
        again, told_again = carried_on(tmp_path, srv, engine, clock)
    assert told_again
    assert repeats_of(page, again) == [], f"paged again: {[p['title'] for p in again]}"


def test_a_stage_entry_receipted_is_not_paged_again_when_the_next_runner_saved_before_it_was_told_again(tmp_path):
    """The runner that carried on saved once — after the receipt, before its first tick told
    the entry again — and was killed too: the one after it reads only the receipts after that
    save, and the save keeps what the earlier receipts said."""
    with ReceiverServer() as srv:
        page, engine, clock = entry_paged_then_killed(tmp_path, srv, receipt=True)
        assert carried_on(tmp_path, srv, engine, clock, dies_after_save=True) == ([], False)
        again, told_again = carried_on(tmp_path, srv, engine, clock)
    assert told_again
    assert repeats_of(page, again) == [], f"paged again: {[p['title'] for p in again]}"


def test_a_stage_entry_paged_and_receipted_then_saved_is_not_paged_again_after_a_kill(tmp_path):
    with ReceiverServer() as srv:
        page, engine, clock = entry_paged_then_killed(tmp_path, srv, receipt=True, saved_after=True)
        again, told_again = carried_on(tmp_path, srv, engine, clock)
    assert not told_again  # the save let it go: the groups it saved hold it, notified
    assert repeats_of(page, again) == [], f"paged again: {[p['title'] for p in again]}"


def test_a_stage_entry_paged_without_its_receipt_is_paged_once_more_marked_with_its_key(tmp_path):
    with ReceiverServer() as srv:
        page, engine, clock = entry_paged_then_killed(tmp_path, srv, receipt=False)
        again, told_again = carried_on(tmp_path, srv, engine, clock)
    assert told_again
    (repeat,) = repeats_of(page, again)
    assert MARK in repeat["title"], repeat["title"]
    assert dedup(repeat) == dedup(page)
