"""A revoke is sent once, read back and audited once; a venue without a read-back, or one whose read
back disagrees, is shown as such; status and the console say revoked only once the venue confirmed it."""

from __future__ import annotations

import json

from killswitch.events import REVOKE_FAILED, TRADING_REVOKED

from .helpers import (
    ACCOUNT,
    KEYS,
    KeyVenue,
    entered,
    events,
    make,
    metric,
    rows,
    run,
    shown,
    started,
    ticks,
)


def test_a_stage_entry_revokes_every_key_reads_it_back_and_audits_it_once(tmp_path):
    w = make(tmp_path, venue=KeyVenue())
    reports = entered(w)
    assert w.venue.keys == {k: "revoked" for k in KEYS}
    assert len(w.venue.sent("revoke")) == 1 and len(w.venue.sent("read")) == 1
    [row] = rows(w, "trading_revoked")
    assert row["account"] == ACCOUNT and row["keys"] == {k: "revoked" for k in KEYS} and row["read_back"] is True
    assert row["holds"] == [f"bot-guard|{ACCOUNT}"] and row["answer"]["states"] == {k: "revoked" for k in KEYS}
    [event] = events(reports, TRADING_REVOKED)
    assert event.labels["account"] == ACCOUNT and event.labels["severity"] == "critical"
    assert shown(w) == "revoked (read back)"
    assert metric(w, "killswitch_trading_revoked{") == f'killswitch_trading_revoked{{account="{ACCOUNT}"}} 1.0'
    assert w.desk.lock_document(ACCOUNT)["mode"] == "halted"  # the gate's lock stays beside it
    ticks(w, 30)
    assert len(w.venue.sent("revoke")) == 1 and len(rows(w, "trading_revoked")) == 1, "sent and audited once"


def test_a_venue_without_a_read_back_is_shown_so_never_as_read(tmp_path):
    w = make(tmp_path, venue=KeyVenue(readable=False))
    entered(w)
    assert shown(w) == "revoked (venue offers no read)"
    [row] = rows(w, "trading_revoked")
    assert row["read_back"] is False and row["keys"] == {k: "revoked" for k in KEYS}


def test_a_read_back_that_disagrees_is_not_confirmed_and_is_sent_again(tmp_path):
    venue = KeyVenue()
    w = make(tmp_path, venue=venue)
    started(w)
    ticks(w, 12)
    real_set = venue.set

    def half(who, allowed):  # the venue answers "revoked" for every key but leaves one allowed
        answer = real_set(who, allowed)
        venue.keys["bot-b-key"] = "allowed"
        return answer

    venue.set = half
    reports = ticks(w, 1)
    [failed] = events(reports, REVOKE_FAILED)
    assert failed.data["code"] == "NOT_CONFIRMED" and "bot-b-key=allowed" in failed.data["message"]
    assert shown(w).startswith("REVOKE_FAILED: NOT_CONFIRMED") and rows(w, "trading_revoked") == []
    venue.set = real_set
    ticks(w, 1)
    assert shown(w) == "revoked (read back)" and len(rows(w, "trading_revoked")) == 1


def console_text(w) -> str:
    from killswitch.face.console.http import environment
    from killswitch.face.console.model import page_model
    from tests.unit.face.console.test_model import text_of

    r = w.desk
    m = page_model(r.status(), (True, "LEADER"), r.lock_document(), r.dms_status(), r.triggers(), run(r.incidents()))
    return text_of(environment().get_template("view.html.j2").render(**m))


def test_status_and_the_console_say_revoked_only_once_the_venue_confirmed_it(tmp_path):
    from killswitch.face.api.render import encode
    from killswitch.facts import status_lines, trading
    from killswitch.view import RunnerStatus, decode

    venue = KeyVenue()
    venue.refuse = ("-2015", "Invalid API-key, IP, or permissions for action.")
    w = make(tmp_path, venue=venue)
    entered(w)
    st = decode(RunnerStatus, json.loads(encode(w.desk.status())))  # as the client reads GET /v1/status
    [line] = status_lines(trading.facts(st))
    assert line.startswith(f"  TRADING {ACCOUNT}: REVOKE_FAILED: -2015: key bot-a-key: Invalid API-key")
    assert f"held by bot-guard {ACCOUNT} stage 1 (restore needs 2 approver(s), have 0)" in line
    page = console_text(w)
    assert f"Trading revoke FAILED {ACCOUNT}: REVOKE_FAILED: -2015" in page and "Trading revoked " not in page

    venue.refuse = None
    ticks(w, 13)
    [line] = status_lines(trading.facts(w.desk.status()))
    assert line.startswith(f"  TRADING {ACCOUNT}: revoked (read back); keys bot-a-key=revoked, bot-b-key=revoked")
    assert f"Trading revoked {ACCOUNT}: revoked (read back)" in console_text(w)
