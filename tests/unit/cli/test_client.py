"""The typed runner client (killswitch/client/) against the real API (killswitch/face/api/api.py)
over a hand-written view, served on 127.0.0.1 from a thread of its own: every method returns
the value the view answered, every refusal is a RunnerError with the API's reason code, and the
token appears nowhere but in the Authorization header."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace
from typing import Optional

import pytest

from killswitch.client import (
    CloseProgress,
    DmsSource,
    DmsStatus,
    RunnerClient,
    RunnerError,
    RunnerUnreachable,
    VenueCountdown,
    dms_of,
)
from killswitch.face.api.api import make_app
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.face.api.thread import ApiThread
from killswitch.runner.gate.request import Decision
from killswitch.view import (
    ChangeResult,
    CloseResult,
    ResetResult,
    ResidualStatus,
    ResumeStatus,
    RunnerStatus,
    ScopeStatus,
)
from tests.unit.face.api.rig import TOKEN, FakeView

VIEWER, BOT, ALICE = "tok-viewer-0123456789", "tok-bot-0123456789", "tok-alice-0123456789"
PEOPLE = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [
    {"identity": "alice", "roles": ["approver"], "sha256": token_digest(ALICE)},
    {"identity": "vic", "roles": ["viewer"], "sha256": token_digest(VIEWER)},
    {"identity": "robot", "roles": ["bot"], "sha256": token_digest(BOT)}]})

DMS = {"format_version": 1, "listening_since_ts": "2026-03-02T13:00:00.000Z",
       "sources": {"bot-a": {"armed": True, "last_beat_age_s": 2.5, "fires_in_s": 297.5, "fired": False,
                             "timeout_s": 300.0, "locked": False}},
       "native": {"binanceusdm/main": {"countdown_s": 120.0, "last_refresh_age_s": 10.0, "cancels_in_s": 110.0,
                                       "refresh_due": False, "lapsed": False, "supported": True, "error": None}}}
STATUS = RunnerStatus(
    mode="live", leader=True, fence=7, graph_digest="sha256:abc", graph_revision="r1", policy_error=None,
    last_tick_ms=1_772_456_400_000,
    scopes=(ScopeStatus("p1", "binance/main", 3, "flatten", True, ("alice",), 2, 123),),
    data_age_s={"binance/main": 1.5},
    resuming=(ResumeStatus("p1", "binance/main", 1, 1, 3, 0.25, 2, 1000.0, 99),),
    dms=DMS,
    residuals=(ResidualStatus("inc", "p1", "binance/main", "binance/main", "BTC/USDT", "long", None, 0.0004,
                              "BELOW_MINIMUM", "amount=0.0004", 1, 2),))
PROGRESS = {"id": "manual/binance/main/m1", "scope": "binance/main", "requested_ts": "2026-03-02T13:00:00.000Z",
            "mode": "live", "orders": 3, "settled": 3, "filled": 2, "open": 0, "unfilled": 1,
            "statuses": {"canceled": 1, "filled": 2}, "state": "settled"}


class View(FakeView):
    """The API tests' fake, with the documents the runner really answers."""

    def status(self) -> RunnerStatus:
        self._record("status")
        return STATUS

    def dms_status(self) -> dict:
        self._record("dms_status")
        return DMS

    def close_progress(self, close_id: str) -> Optional[dict]:
        self._record("close_progress", close_id)
        return {**PROGRESS, "id": close_id} if close_id.startswith("manual/") else None

    def runbook(self, incident: str):
        self._record("runbook", incident)
        return SimpleNamespace(markdown=f"# {incident}\n", html=f"<h1>{incident}</h1>") if incident == "d-1" else None


@pytest.fixture
def served():
    view = View()
    api = ApiThread(make_app(view, token=TOKEN, tokens=PEOPLE), "127.0.0.1", 0)
    url = asyncio.run(api.start())
    try:
        yield view, url
    finally:
        asyncio.run(api.stop())


def test_every_read_returns_the_value_the_view_answered(served):
    view, url = served
    client = RunnerClient(url, VIEWER)  # the reads that show the book send it; the public ones need none
    assert client.status() == STATUS
    assert dms_of(client.status()) == client.dms_status() == DmsStatus(
        1, "2026-03-02T13:00:00.000Z", {"bot-a": DmsSource(True, 2.5, 297.5, False, 300.0, False)},
        {"binanceusdm/main": VenueCountdown(120.0, 10.0, 110.0, False, False, True, None)})
    p = client.close_progress("manual/binance/main/m1")  # slashes and all, as one path segment
    assert p == CloseProgress(**PROGRESS) and p.final
    assert client.lock_document("binance/main")["scope"] == "binance/main"
    assert client.check_order({"account": "a/b", "symbol": "X", "side": "sell", "amount": 1}) == Decision(True,
                                                                                                        "ACTIVE")
    assert client.check_order({"account": "a/b", "symbol": "X", "side": "buy", "amount": 1}) == Decision(False,
                                                                                                       "HALTED: test")
    assert client.runbook("d-1") == "# d-1\n" and client.runbook("d-1", "html") == "<h1>d-1</h1>"
    assert ("close_progress", ("manual/binance/main/m1",)) in view.calls
    assert ("lock_document", ("binance/main",)) in view.calls


def test_every_change_sends_what_the_view_is_asked_and_returns_its_answer(served):
    view, url = served
    client = RunnerClient(url, TOKEN)
    view.reset_answer = ResetResult(False, "APPROVAL_RECORDED: 1/2 approvers=alice")
    # not done, but answered (200): a result, not an error
    assert RunnerClient(url, ALICE).reset("p1", "binance/main", "reviewed", "alice") == view.reset_answer
    assert client.close("binance/main", "drill", True) == view.close_answer
    assert client.lock("binance/main", "incident", "reducing", 3600) == view.change_answer
    assert client.lock("binance/main", "incident") == view.change_answer
    assert client.unlock("binance/main", "over") == view.change_answer
    assert client.dms_arm("bot-a", 300) == view.change_answer
    assert client.dms_disarm("bot-a") == view.change_answer
    assert client.heartbeat("bot-a") is None
    assert view.calls[-8:] == [
        ("reset", ("p1", "binance/main", "alice", "reviewed")),
        ("close", ("binance/main", "drill", True)),
        ("lock_scope", ("binance/main", "reducing", "incident", 3600.0)),
        ("lock_scope", ("binance/main", "halted", "incident", None)),
        ("unlock_scope", ("binance/main", "over")),
        ("dms_arm", ("bot-a", 300.0)),
        ("dms_disarm", ("bot-a",)),
        ("heartbeat", ("bot-a", None))]
    # what the lock makes hold at the venue: sent only when given
    assert client.lock("binance/main", "incident", cancel=False, revert_growth=True) == view.change_answer
    assert view.calls[-1] == ("lock_scope", ("binance/main", "halted", "incident", None,
                                             {"cancel": False, "revert_growth": True}))


@pytest.mark.parametrize("answer, status, code", [
    (ChangeResult(False, "MANUAL_RESET_REQUIRED: held by stage 3"), 409, "MANUAL_RESET_REQUIRED"),
    (ChangeResult(False, "UNKNOWN_SCOPE: 'strategy-b' is not a scope this runner knows"), 404, "UNKNOWN_SCOPE"),
    (ChangeResult(False, "NOT_LEADER: a standby"), 409, "NOT_LEADER"),
])
def test_a_refused_change_is_a_runner_error_with_the_view_s_reason_code(served, answer, status, code):
    view, url = served
    view.change_answer = answer
    with pytest.raises(RunnerError) as e:
        RunnerClient(url, TOKEN).unlock("binance/main", "over")
    assert (e.value.status, e.value.code, e.value.reason) == (status, code, answer.reason)
    assert e.value.body == {"done": False, "reason": answer.reason}


def test_refusals_of_the_api_itself_carry_its_code(served):
    view, url = served
    view.reset_answer = ResetResult(False, "NOT_LEADER: a standby")
    with pytest.raises(RunnerError) as e:
        RunnerClient(url, ALICE).reset("p1", "binance/main", "r")
    assert (e.value.status, e.value.code) == (503, "NOT_LEADER")
    view.close_answer = CloseResult(False, "UNKNOWN_SCOPE: no policy instance named 'x'")
    with pytest.raises(RunnerError) as e:
        RunnerClient(url, TOKEN).close("x", "r", False)
    assert (e.value.status, e.value.code, e.value.body["accepted"]) == (404, "UNKNOWN_SCOPE", False)
    cases = [
        (lambda: RunnerClient(url).lock("s", "r"), 401, "AUTH_REQUIRED"),
        (lambda: RunnerClient(url, "not-the-token").lock("s", "r"), 401, "AUTH_INVALID"),
        (lambda: RunnerClient(url, VIEWER).lock("s", "r"), 403, "ROLE_REQUIRED"),
        (lambda: RunnerClient(url, TOKEN).reset("p1", "s", "r"), 403, "ROLE_REQUIRED"),  # beside personal tokens
        (lambda: RunnerClient(url, ALICE).reset("p1", "s", "r", "bob"), 403, "APPROVER_NOT_CALLER"),
        (lambda: RunnerClient(url, BOT).dms_arm("bot-a", 5), 403, "ROLE_REQUIRED"),
        (lambda: RunnerClient(url, TOKEN).dms_arm("bad source", 5), 400, "BAD_SOURCE"),
        (lambda: RunnerClient(url, TOKEN).lock("s", "r", ttl_s=-1), 400, "BAD_REQUEST"),
        (lambda: RunnerClient(url, VIEWER).close_progress("nope"), 404, "UNKNOWN_CLOSE"),
        (lambda: RunnerClient(url, VIEWER).runbook("nope"), 404, "UNKNOWN_INCIDENT"),
        (lambda: RunnerClient(url).status(), 401, "AUTH_REQUIRED"),
        (lambda: RunnerClient(url).runbook("d-1"), 401, "AUTH_REQUIRED"),
        (lambda: RunnerClient(url, BOT).close_progress("manual/a/m1"), 403, "ROLE_REQUIRED"),
    ]
    for call, status, code in cases:
        with pytest.raises(RunnerError) as e:
            call()
        assert (e.value.status, e.value.code) == (status, code), e.value.body
        assert e.value.reason.startswith(code)
    assert RunnerClient(url, BOT).heartbeat("bot-a") is None  # a bot may beat


def test_a_heartbeat_source_is_one_path_segment(served):
    # "a?x=1" must not beat for "a"
    view, url = served
    for source in ("a?x=1", "a/b", "bot 1"):
        with pytest.raises(RunnerError) as e:
            RunnerClient(url, TOKEN).heartbeat(source)
        assert (e.value.status, e.value.code) == (400, "BAD_SOURCE")
    assert "heartbeat" not in view.names()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_runner_names_the_url_and_never_the_token():
    url = f"http://127.0.0.1:{_closed_port()}"
    client = RunnerClient(url, TOKEN, timeout=2)
    for call in (client.status, lambda: client.lock("s", "r"), lambda: client.heartbeat("b")):
        with pytest.raises(RunnerUnreachable) as e:
            call()
        assert e.value.url == url and e.value.status is None and e.value.code == "UNREACHABLE"
        assert str(e.value).startswith(f"cannot reach the runner at {url}: ")
        assert TOKEN not in str(e.value) and TOKEN not in repr(e.value) and TOKEN not in repr(e.value.__dict__)
    assert TOKEN not in repr(client) and "<set>" in repr(client)


def test_an_error_never_carries_the_token(served):
    view, url = served
    view.fail.add("lock_scope")  # the fake puts the token in its exception: the API must not echo it
    with pytest.raises(RunnerError) as e:
        RunnerClient(url, TOKEN).lock("s", "r")
    assert (e.value.status, e.value.code) == (500, "INTERNAL")
    assert TOKEN not in str(e.value) and TOKEN not in repr(e.value.__dict__)


def test_the_lock_document_is_typed_with_each_hold_s_origin_and_rendered_for_status(served):
    """Three holds on three scopes — a policy's latched stage, an operator's ttl lock, the dead
    man's switch — and a resumption: ``locks()`` types them, ``status`` says who holds what, since
    and until when, and the JSON carries the lock document as the runner wrote it."""
    import json

    from killswitch.client import LockDocument
    from killswitch.render.locks import lock_lines
    from killswitch.render.status import status_json, status_text
    from killswitch.runner.lock.lock import DEAD_MANS_SWITCH, OPERATOR, LockBook

    t0 = 1_772_456_400_000
    book = (LockBook()
            .apply("binance/main", "halted", now_ms=t0, policy="p1", stage=3, reason="LOCK_TRADING: stage=3",
                   manual=True)
            .apply("strategy-b", "reducing", now_ms=t0, policy=OPERATOR, reason="MANUAL_LOCK: bad fills",
                   ttl_ms=3_600_000)
            .apply("bot-c", "halted", now_ms=t0, policy=DEAD_MANS_SWITCH, reason="DMS_FIRED: source=bot-c"))
    doc = {**book.to_doc(t0 + 1_000), "resuming": {"binance/other": {
        "policy": "p1", "since_ts": "2026-03-02T13:00:00.000Z", "day": 1, "days": 3, "fraction": 0.25,
        "max_positions": 2, "max_gross_exposure": 1000.0, "steps_up_ts": "2026-03-03T13:00:00.000Z"}}}
    view, url = served
    view.lock_document = lambda scope=None: doc  # type: ignore[method-assign]
    locks = RunnerClient(url).locks()
    assert isinstance(locks, LockDocument) and locks.mode == "halted"
    assert {s: [h.origin for h in e.holds] for s, e in locks.scopes.items()} == {
        "binance/main": ["policy"], "strategy-b": ["operator"], "bot-c": ["dead man's switch"]}
    assert locks.resuming["binance/other"].max_positions == 2
    assert lock_lines(locks) == [
        "  LOCK binance/main: halted by policy p1 stage 3 since 2026-03-02T13:00:00.000Z, held until a manual reset "
        "(ksctl reset); reason: LOCK_TRADING: stage=3",
        "  LOCK bot-c: halted by dead man's switch since 2026-03-02T13:00:00.000Z, until the source is armed again "
        "or ksctl unlock; reason: DMS_FIRED: source=bot-c",
        "  LOCK strategy-b: reducing by operator since 2026-03-02T13:00:00.000Z, until 2026-03-02T14:00:00.000Z; "
        "reason: MANUAL_LOCK: bad fills"]
    text = status_text(STATUS, locks)
    assert "revision r1  last tick 2026-03-02T13:00:00Z" in text
    assert "stage 3 flatten  since 1970-01-01T00:00:00Z" in text
    assert "RESUMING p1 binance/main: day 1 of 3 since 1970-01-01T00:00:00Z, 25% of normal limits " \
           "(max 2 position(s), gross exposure 1,000); steps up at 1970-01-01T00:00:00Z" in text
    assert json.loads(status_json(STATUS, locks))["lock"] == doc, "the lock document as the runner wrote it"
    unlocked = LockDocument(1, False, "active", None, None, None, "ACTIVE", None, None, False)
    assert lock_lines(unlocked) == ["  trading locks: none (every scope active)"]


def test_a_client_without_a_token_reads_what_bots_read_and_the_rest_when_public():
    view = View()
    api = ApiThread(make_app(view, tokens=PEOPLE, console_public=True), "127.0.0.1", 0)
    url = asyncio.run(api.start())
    try:
        client = RunnerClient(url)
        assert client.status() == STATUS and client.runbook("d-1") == "# d-1\n"
        assert client.close_progress("manual/binance/main/m1").final
    finally:
        asyncio.run(api.stop())
    api = ApiThread(make_app(View(), tokens=PEOPLE), "127.0.0.1", 0)
    url = asyncio.run(api.start())
    try:
        client = RunnerClient(url)
        assert client.dms_status().sources and client.lock_document()["format_version"] == 1
        assert client.check_order({"account": "a/b", "symbol": "X", "side": "sell", "amount": 1}).allow
    finally:
        asyncio.run(api.stop())
