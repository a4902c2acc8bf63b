"""A silence that spans every scope, against a live runner halted by a crash (issue 81, medium 3):
a silence on ``severity="critical"`` alone held back every lock-violation, limit-violation and
revoke page on every scope for a day, and its preview did not say so. Its preview (the runner's,
the API's, ``ksctl silence add``'s) says that it spans every scope and what its matchers match of
the last day's pages, by kind, from the notification receipts in the audit trail; it is made only
when its author confirms it (``every_scope``, ``--every-scope``), refused ``SILENCE_TOO_BROAD``
naming how otherwise, and both are audited."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.face.api.api import make_app
from killswitch.view.silence_preview import PastPages
from tests.integration.runner.rig import api_served, setup, started
from tests.integration.silences.test_incident import ALICE, INCIDENT, PEOPLE, SCOPE, halted

DAY_MS = 86_400_000


def _page(kind: str, receiver: str, scope: str, severity: str = "critical", **more) -> dict:
    """A receipt as the notification sink writes it, with the labels of the page it told."""
    labels = {"event": kind, "severity": severity, "scope": scope, **more}
    return {"receiver": receiver, "routes": "desk", "group_key": f'desk:0:{{scope="{scope}"}}',
            "event_kinds": [kind], "incidents": [], "severity": severity, "result": "delivered", "final": True,
            "labels": [labels]}


def _the_last_day(store, now: int) -> None:
    """The walk's day: lock and limit violations and a revoke on other scopes, a warning, and a
    page of two days ago (not counted)."""
    rows = [("notification_delivered", now - 3_600_000, _page("lock_violation", "pager", "okx/a", account="okx/a")),
            ("notification_delivered", now - 3_000_000, _page("lock_violation", "desk", "okx/a", account="okx/a")),
            ("notification_failed", now - 2_000_000, _page("limit_violation", "pager", "okx/b", account="okx/b")),
            ("notification_silenced", now - 1_000_000, _page("trading_revoked", "pager", "okx/c")),
            ("notification_delivered", now - 900_000, _page("snapshot_failed", "pager", SCOPE, "warning")),
            ("notification_delivered", now - 2 * DAY_MS, _page("lock_violation", "pager", "okx/z"))]
    for kind, ts, payload in rows:
        store.audit(kind, ts, payload)


def test_a_silence_on_severity_alone_says_it_spans_every_scope_and_what_it_matched_and_needs_a_confirmation(
        tmp_path):
    runner, clock, store, desk = halted(tmp_path)
    _the_last_day(store, clock())

    p = asyncio.run(desk.silence_preview(['severity="critical"']))
    assert p.ok and p.every_scope, p
    assert "it spans EVERY scope: none of its matchers names a policy, scope, venue, account" in p.summary
    assert p.past == (PastPages("lock_violation", 2), PastPages("limit_violation", 1),
                      PastPages("trading_revoked", 1)), p.past
    assert p.past_text == ("in the last day its matchers match 4 pages: 2 lock_violation, 1 limit_violation, "
                           "1 trading_revoked (of 5 recorded in the audit trail's notification receipts)"), p.past_text
    assert p.reason.startswith("PREVIEW: affects 1 open incident") and p.reason.endswith(p.past_text)
    named = asyncio.run(desk.silence_preview(['severity="critical"', f"scope={SCOPE}"]))
    assert named.ok and not named.every_scope and "EVERY" not in named.reason and named.past == ()

    refused = asyncio.run(desk.silence_add(['severity="critical"'], 86_400, "pager noise", actor="alice"))
    assert not refused.done and refused.reason.startswith("SILENCE_TOO_BROAD: it spans EVERY scope"), refused.reason
    assert "ksctl silence add --every-scope" in refused.reason and '"every_scope": true' in refused.reason
    assert desk.silences() == ()
    made = asyncio.run(desk.silence_add(['severity="critical"'], 86_400, "pager noise", actor="alice",
                                        every_scope=True))
    assert made.done and "it spans EVERY scope" in made.reason, made.reason
    rows = [r.payload for r in store.audit_rows(kinds=["silence_added"])]
    assert rows[0]["refused"].startswith("SILENCE_TOO_BROAD") and "every_scope" not in rows[0]
    assert rows[1]["every_scope"] is True and rows[1]["id"] == made.silence.id
    # one that names a scope needs no confirmation
    assert asyncio.run(desk.silence_add([f"scope={SCOPE}"], 600, "mine", actor="alice")).done


def test_the_api_and_the_cli_preview_it_refuse_it_and_take_it_confirmed(tmp_path):
    runner, _, clock, store, _, desk = setup(tmp_path)
    with api_served(lambda: make_app(desk, tokens=PEOPLE), lambda: started(runner, clock)) as url:
        _the_last_day(store, clock())
        alice = CliRunner(env={"KS_API_TOKEN": ALICE})
        add = ["silence", "add", "--api", url, "--match", 'severity="critical"', "--duration", "1d",
               "--reason", "noise"]

        def post(path, body):
            ask = urllib.request.Request(url + path, method="POST", data=json.dumps(body).encode(), headers={
                "Authorization": f"Bearer {ALICE}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(ask, timeout=10) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        st, doc = post("/v1/silences/preview", {"matchers": ['severity="critical"']})
        assert st == 200 and doc["every_scope"] is True and doc["past"][0] == {"event": "lock_violation", "pages": 2}
        assert "in the last day its matchers match 4 pages" in doc["reason"], doc
        body = {"matchers": ['severity="critical"'], "duration_s": 600, "comment": "noise"}
        st, doc = post("/v1/silences", body)
        assert st == 400 and doc["reason"].startswith("SILENCE_TOO_BROAD: it spans EVERY scope"), doc
        st, doc = post("/v1/silences", {**body, "every_scope": "yes"})
        assert st == 400 and '"every_scope" must be true or false' in doc["reason"], doc

        r = alice.invoke(cli, add + ["--dry-run"])
        assert r.exit_code == 0, r.output
        lines = r.output.splitlines()
        assert lines[0].startswith('severity="critical": affects 1 open incident, 0 pages; it spans EVERY scope')
        assert lines[1] == ("  in the last day its matchers match 4 pages: 2 lock_violation, 1 limit_violation, "
                            "1 trading_revoked (of 5 recorded in the audit trail's notification receipts)")
        assert lines[2] == "  made only when its author confirms that it spans every scope (--every-scope)"
        r = alice.invoke(cli, add)
        assert r.exit_code == 1 and "SILENCE_TOO_BROAD: it spans EVERY scope" in r.output, r.output
        assert "ksctl silence add --every-scope" in r.output and desk.silences() == ()
        r = alice.invoke(cli, add + ["--every-scope"])
        assert r.exit_code == 0 and "SILENCED: " in r.output and "it spans EVERY scope" in r.output, r.output
        [made] = desk.silences()
        assert made.matchers == ('severity="critical"',)


@pytest.mark.parametrize("matchers", [[], ["receiver=pager"]])
def test_a_silence_made_from_an_incident_names_its_scope(tmp_path, matchers):
    runner, _, _, desk = halted(tmp_path)
    p = asyncio.run(desk.silence_preview(matchers, INCIDENT))
    assert p.ok and not p.every_scope, p
    assert asyncio.run(desk.silence_add(matchers, 600, "on it", actor="alice", incident=INCIDENT)).done
