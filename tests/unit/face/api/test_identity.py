"""Identities, roles and input hygiene at the runner's API.

Each caller is the identity its token maps to; the approver of a reset is that identity, never a
name in the body; a role a caller lacks is a 403; every string of every body is refused (400,
before the view is called) when it holds a lone surrogate, a control character or a
bidirectional override; every endpoint not listed as public needs a token.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from killswitch.face.api.api import make_app
from killswitch.face.api.identity import (
    SHARED_IDENTITY,
    LiveTokens,
    Tokens,
    TokensError,
    load_tokens,
    normalise_identity,
    parse_tokens,
    token_digest,
)
from killswitch.view import ChangeResult, ResetResult

from .rig import ARM, CLOSE, DISARM, LOCK, MUTATIONS, ORDER, RESET, TOKEN, UNLOCK, FakeView, run, serve

ALICE, BOB, CAROL, VIC = "tok-alice-0123456789", "tok-bob-0123456789", "tok-carol-0123456789", "tok-vic-0123456789"


def doc(*entries):
    return {"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": list(entries)}


def entry(identity, roles, token):
    return {"identity": identity, "roles": roles, "sha256": token_digest(token)}


PEOPLE = parse_tokens(doc(entry("alice", ["operator", "approver"], ALICE), entry("Bob", ["approver"], BOB),
                          entry("carol", ["bot"], CAROL), entry("vic", ["viewer"], VIC)))


def bearer(token):
    return f"Bearer {token}"


# --- the tokens document ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, words", [
    (doc(entry("alice", ["operator"], ALICE), entry("ALICE", ["approver"], BOB)), "already tokens[0]"),
    (doc(entry("alice", ["operator"], ALICE), entry("bob", ["approver"], ALICE)), "the same token as tokens[0]"),
    (doc(entry("alice", ["admin"], ALICE)), "unknown role(s) 'admin'"),
    (doc(entry("alice", [], ALICE)), "roles must be a non-empty list"),
    (doc(entry("\u0430lice", ["operator"], ALICE)), "ASCII"),  # a Cyrillic a
    (doc(entry("", ["operator"], ALICE)), "must be 1 to 64"),
    (doc({"identity": "alice", "roles": ["operator"], "sha256": "abc"}), "64 hex digits"),
    (doc({"identity": "alice", "roles": ["operator"], "sha256": token_digest(ALICE), "token": ALICE}),
     "unknown key(s) token"),
    ({"apiVersion": "killswitch/v1", "kind": "Policy", "tokens": []}, "kind ApiTokens"),
    (doc({"identity": "bot", "roles": ["bot"]}), "needs sha256 (a token's digest"),
    (doc({"identity": "bot", "roles": ["bot"], "client_cert": {"subject_nc": "bot"}}),
     "unknown key 'subject_nc' (did you mean 'subject_cn'?)"),
    (doc({"identity": "bot", "roles": ["bot"], "client_cert": {"subject_cn": "a", "san_dns": "b"}}),
     "exactly one of subject_cn, san_dns, san_email, san_uri"),
    (doc({"identity": "bot", "roles": ["bot"], "client_cert": {"san_dns": ""}}), "client_cert.san_dns: expected"),
    (doc({"identity": "a", "roles": ["bot"], "client_cert": {"subject_cn": "x"}},
         {"identity": "b", "roles": ["bot"], "client_cert": {"subject_cn": "x"}}),
     "tokens[1]: client_cert: the same subject_cn as tokens[0]"),
    ([], "expected a mapping"),
    ({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "groups": [{"group": "desk", "roles": ["operatr"]}]},
     "unknown role(s) 'operatr' (did you mean 'operator'?)"),
    ({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "groups": [{"group": "desk", "roles": ["viewer"]},
                                                                     {"group": "desk", "roles": ["bot"]}]},
     "groups[1]: group 'desk' is already listed"),
    ({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "groups": [{"group": " desk", "roles": ["viewer"]}]},
     "groups[0]: group must be"),
    ({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "groups": [{"name": "desk", "roles": ["viewer"]}]},
     "groups[0]: unknown key(s) name; known: group, roles"),
    ({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "groups": {"desk": ["viewer"]}},
     "groups must be a list"),
    ({"apiVersion": "killswitch/v1", "kind": "ApiTokens"}, "tokens must be a list"),
    ({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "tokens": [], "token": [], 7: 1},
     "tokens: unknown key(s) 7, token; known: apiVersion, kind, tokens, groups"),
])
def test_a_bad_tokens_document_is_refused_with_where_and_why(bad, words):
    with pytest.raises(TokensError) as e:
        parse_tokens(bad)
    assert words in str(e.value)
    assert ALICE not in str(e.value) and BOB not in str(e.value)


def test_a_verified_certificate_is_the_one_identity_it_matches():
    tokens = parse_tokens(doc(
        {"identity": "pricing-bot", "roles": ["bot"], "client_cert": {"subject_cn": "pricing-bot"}},
        {"identity": "hedger", "roles": ["bot"], "client_cert": {"san_dns": "hedger.desk.example"},
         "sha256": token_digest(CAROL)},
        {"identity": "ops", "roles": ["operator"], "client_cert": {"san_email": "ops@desk.example"}}))

    def cert(cn, *sans):
        return {"subject": ((("organizationName", "desk"),), (("commonName", cn),)), "subjectAltName": sans}

    assert tokens.identify_cert(cert("pricing-bot")).name == "pricing-bot"
    assert tokens.identify_cert(cert("x", ("DNS", "hedger.desk.example"))).name == "hedger"
    assert tokens.identify_cert(cert("x", ("email", "ops@desk.example"))).name == "ops"
    assert tokens.identify_cert(cert("Pricing-Bot")) is None  # as the certificate carries it, exactly
    assert tokens.identify_cert(cert("x", ("DNS", "pricing-bot"))) is None  # a SAN is not the CN
    assert tokens.identify_cert(cert("pricing-bot", ("DNS", "hedger.desk.example"))) is None  # two: no one
    assert tokens.identify_cert({}) is None and tokens.identify_cert(None) is None
    assert tokens.identify(CAROL.encode()).name == "hedger"  # its token too
    assert [i.name for i in tokens.identities] == ["hedger", "pricing-bot", "ops"] and len(tokens.digests()) == 1


def test_a_tokens_file_loads_and_names_are_normalised(tmp_path: Path):
    p = tmp_path / "tokens.yaml"
    p.write_text("apiVersion: killswitch/v1\nkind: ApiTokens\ntokens:\n"
                 f"  - {{identity: \uff21lice, roles: [approver], sha256: {token_digest(ALICE)}}}\n")
    tokens = load_tokens(p)
    assert [i.name for i in tokens.identities] == ["alice"]
    assert tokens.identify(ALICE.encode()).name == "alice" and tokens.identify(b"nope") is None
    assert ALICE not in repr(tokens)
    p.write_text("tokens: [unclosed")
    with pytest.raises(TokensError, match="not valid YAML or JSON"):
        load_tokens(p)
    with pytest.raises(TokensError, match="cannot read"):
        load_tokens(tmp_path / "missing.yaml")


def test_a_person_named_by_groups_has_the_union_of_their_groups_roles():
    tokens = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "groups": [
        {"group": "risk-oncall", "roles": ["operator", "viewer"]},
        {"group": "Risk-Managers", "roles": ["approver"]}]})
    assert len(tokens) == 2 and not tokens.identities  # groups alone keep the API open to people
    alice = tokens.person("Alice@Desk.example", ["risk-oncall", "Risk-Managers", "canteen"])
    assert alice.name == "alice@desk.example" and alice.roles == {"operator", "viewer", "approver"}
    assert tokens.person("bob", ["risk-managers"]) is None  # a group is matched as sent, exactly
    assert tokens.person("bob", []) is None and tokens.person("", ["risk-oncall"]) is None
    assert tokens.person("a b", ["risk-oncall"]) is None  # not a valid identity name
    assert tokens.person(SHARED_IDENTITY, ["risk-oncall"]) is None  # the shared token's name is reserved
    # beside groups, the shared token approves nothing: a person holding it would be two approvers
    assert not tokens.with_shared(TOKEN).identify(TOKEN.encode()).may("approver")
    assert tokens.with_shared(TOKEN).person("carol", ["risk-oncall"]).may("operator")


def test_the_shared_token_is_one_identity_and_cannot_also_be_a_persons():
    t = PEOPLE.with_shared(TOKEN)
    assert t.identify(TOKEN.encode()).name == SHARED_IDENTITY
    # beside personal tokens it approves nothing: alice holding it too would be two approvers
    assert not t.identify(TOKEN.encode()).may("approver") and t.identify(TOKEN.encode()).may("operator")
    assert Tokens().with_shared(TOKEN).identify(TOKEN.encode()).may("approver")  # alone, it has every role
    with pytest.raises(TokensError, match=r"^the shared API token is alice's personal token in the tokens document"):
        PEOPLE.with_shared(ALICE)
    # named by where it came from, and refused again at a reload that lists it
    with pytest.raises(TokensError, match=r"^the shared API token from KS_API_TOKEN is alice's personal token"):
        LiveTokens(PEOPLE, ALICE, "KS_API_TOKEN")
    live = LiveTokens(Tokens(), ALICE, "--api-token-file /etc/ks/api-token")
    with pytest.raises(TokensError, match="from --api-token-file /etc/ks/api-token is alice's personal token"):
        live.replace(PEOPLE)
    assert normalise_identity(" Ａlice ") == "alice"


# --- who may do what --------------------------------------------------------------------------------------

def test_the_approver_of_a_reset_is_the_caller_not_the_body():
    async def main():
        async with serve(token=None, tokens=PEOPLE) as c:
            assert (await c.post("/v1/reset", RESET, auth=bearer(ALICE)))[0] == 200
            assert (await c.post("/v1/reset", {**RESET, "approver": "ALICE"}, auth=bearer(ALICE)))[0] == 200
            status, body, _ = await c.post("/v1/reset", {**RESET, "approver": "bob"}, auth=bearer(ALICE))
            assert status == 403 and body["error"] == "APPROVER_NOT_CALLER" and "alice" in body["reason"]
            assert (await c.post("/v1/reset", RESET, auth=bearer(BOB)))[0] == 200
            assert [args[2] for name, args in c.view.calls] == ["alice", "alice", "bob"]  # normalised, as typed
    run(main())


@pytest.mark.parametrize("token, allowed", [
    (ALICE, {"/v1/heartbeat/bot", "/v1/reset", "/v1/close", "/v1/lock", "/v1/unlock", "/v1/dms/arm",
             "/v1/dms/disarm"}),
    (BOB, {"/v1/reset"}),
    (CAROL, {"/v1/heartbeat/bot"}),
    (VIC, set()),
], ids=["operator+approver", "approver", "bot", "viewer"])
def test_each_role_reaches_only_its_endpoints(token, allowed):
    async def main():
        async with serve(token=None, tokens=PEOPLE) as c:
            for path, body in MUTATIONS:
                status, answer, _ = await c.post(path, body, auth=bearer(token))
                if path in allowed:
                    assert status in (200, 202, 204), (path, status, answer)
                else:
                    assert status == 403 and answer["error"] == "ROLE_REQUIRED", (path, status, answer)
    run(main())


def test_the_caller_is_handed_to_the_view_for_the_audit():
    async def main():
        async with serve(token=None, tokens=PEOPLE) as c:
            for path, body in MUTATIONS[2:]:
                await c.post(path, body, auth=bearer(ALICE))
            assert c.view.actors == ["alice"] * 5
    run(main())


def test_without_tokens_every_mutation_is_refused_and_what_bots_read_stays_open():
    async def main():
        async with serve(token=None) as c:
            for path, body in MUTATIONS:
                status, answer, _ = await c.post(path, body, auth=bearer(ALICE))
                assert status == 403 and answer["error"] == "MUTATIONS_DISABLED", path
            for path in PUBLIC_READS:
                assert (await c.get(path))[0] == 200, path
            assert (await c.post("/v1/check-order", ORDER, auth=None))[0] == 200
            for path in BOOK_READS:  # no one could ever see them: said, not a bare 401
                status, answer, _ = await c.get(path)
                assert status == 403 and answer["error"] == "CONSOLE_CLOSED", path
        async with serve(RunbookView(), token=None, console_public=True) as c:
            for path in BOOK_READS:
                assert (await c.get(path))[0] == 200, path
    run(main())


class RunbookView(FakeView):
    """The API tests' fake, with a stored runbook for incident d-1."""

    def runbook(self, incident):
        self._record("runbook", incident)
        return SimpleNamespace(markdown="# d-1: close 0.5 BTC\n", html="<h1>d-1</h1>") if incident == "d-1" else None


# what bots and probes read: the process, readiness, the metrics Prometheus scrapes, the lock, a
# bot's own countdown (check-order is a POST, beside them)
PUBLIC_READS = ("/healthz", "/readyz", "/metrics", "/v1/lock", "/v1/dms")
# what shows the book: stages, scopes, data ages, an incident's positions and orders, a close's progress
BOOK_READS = ("/v1/status", "/v1/runbooks/d-1", "/v1/runbooks/d-1?format=html", "/v1/close/manual%2Fa%2Fm1")


@pytest.mark.parametrize("auth, status, code", [
    (None, 401, "AUTH_REQUIRED"),
    (bearer("tok-nobody-0123456789"), 401, "AUTH_INVALID"),
    (bearer(CAROL), 403, "ROLE_REQUIRED"),  # a bot reads the lock and its countdown, not the book
    (bearer(VIC), 200, None),
    (bearer(ALICE), 200, None),  # operator and approver
    (bearer(BOB), 200, None),  # approver
], ids=["no token", "wrong token", "bot", "viewer", "operator", "approver"])
def test_the_reads_that_show_the_book_need_a_reader_s_token(auth, status, code):
    async def main():
        async with serve(RunbookView(), token=None, tokens=PEOPLE) as c:
            for path in BOOK_READS:
                got, answer, resp = await c.get(path, auth=auth)
                assert got == status, (path, got, answer)
                if code:
                    assert answer["error"] == code, path
                    if status == 401:
                        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            if code:  # refused before the view is asked anything
                assert c.view.calls == []
            for path in PUBLIC_READS:  # whoever asks, with any token or none
                assert (await c.get(path, auth=auth))[0] == 200, path
            assert (await c.post("/v1/check-order", ORDER, auth=auth))[0] == 200
    run(main())


def test_a_public_console_shows_the_book_s_reads_without_a_token():
    async def main():
        async with serve(RunbookView(), token=None, tokens=PEOPLE, console_public=True) as c:
            for path in BOOK_READS:
                assert (await c.get(path))[0] == 200, path
            status, body, _ = await c.get("/v1/runbooks/d-1")
            assert status == 200 and body == b"# d-1: close 0.5 BTC\n"
            # read only: the changes still need their role
            assert (await c.post("/v1/lock", LOCK, auth=None))[0] == 401
    run(main())


def test_a_route_missing_from_the_access_table_is_refused():
    app = make_app(FakeView(), token=TOKEN)

    async def sneaky(request):  # added after the table was made: nobody listed it
        raise AssertionError("an unlisted handler ran")

    app.router.add_post("/v1/sneaky", sneaky)

    async def main():
        from aiohttp import ClientSession

        from killswitch.face.api.api import start_api, stop_api

        runner, base = await start_api(app)
        try:
            async with ClientSession() as s:
                async with s.post(base + "/v1/sneaky", headers={"Authorization": bearer(TOKEN)}) as r:
                    assert r.status == 403 and (await r.json())["error"] == "FORBIDDEN"
        finally:
            await stop_api(runner)
    run(main())


# --- input hygiene ------------------------------------------------------------------------------------------

BAD_STRINGS = ["\ud800", "a\udfffb", "nul\x00byte", "bell\x07", "esc\x1b[31m", "del\x7f", "c1\x85",
               "rtl\u202eevil", "iso\u2066x"]
BODIES = [("/v1/reset", RESET, ("policy", "scope", "reason", "approver")),
          ("/v1/close", CLOSE, ("scope", "reason")),
          ("/v1/lock", LOCK, ("scope", "reason")),
          ("/v1/unlock", UNLOCK, ("scope", "reason")),
          ("/v1/dms/arm", ARM, ("source",)),
          ("/v1/dms/disarm", DISARM, ("source",)),
          ("/v1/check-order", ORDER, ("account", "symbol", "scope", "strategy"))]


@pytest.mark.parametrize("bad", BAD_STRINGS, ids=[repr(b) for b in BAD_STRINGS])
def test_a_string_with_a_surrogate_or_a_control_character_is_400_on_every_endpoint(bad):
    async def main():
        async with serve(tokens=PEOPLE) as c:
            for path, base, keys in BODIES:
                for key in keys:
                    raw = json.dumps({**base, key: bad})  # \ud800 stays an escape: valid JSON, not text
                    status, answer, _ = await c.request("POST", path, data=raw.encode(),
                                                        headers={"Content-Type": "application/json"},
                                                        auth=bearer(ALICE))
                    assert status == 400 and answer["error"] == "BAD_REQUEST", (path, key, status, answer)
                    assert "allow" not in answer or answer["allow"] is False
                raw = json.dumps({**base, bad: 1})
                status, _, _ = await c.request("POST", path, data=raw.encode(), auth=bearer(ALICE),
                                               headers={"Content-Type": "application/json"})
                assert status == 400, (path, "key")
            assert c.view.calls == [], "nothing reached the runner"
    run(main())


@pytest.mark.parametrize("name", [" binance/main", "binance/main ", "binance/main\t", "line\nbreak", "zw\u200bsp"])
def test_a_name_with_space_around_it_or_invisible_characters_is_refused_not_trimmed(name):
    async def main():
        async with serve(tokens=PEOPLE) as c:
            status, answer, _ = await c.post("/v1/lock", {**LOCK, "scope": name}, auth=bearer(ALICE))
            assert status == 400, (name, answer)
            status, answer, _ = await c.get("/v1/lock?scope=" + name.replace("\n", "%0A").replace("\t", "%09"))
            assert status == 400, (name, answer)
            assert c.view.calls == []
    run(main())


def test_a_reason_keeps_its_newlines_and_tabs():
    async def main():
        async with serve(tokens=PEOPLE) as c:
            status, _, _ = await c.post("/v1/lock", {**LOCK, "reason": "line one\n\tline two"}, auth=bearer(ALICE))
            assert status == 200
    run(main())


@pytest.mark.parametrize("reason, status", [("UNKNOWN_SCOPE: 'x' is not a scope", 404),
                                            ("UNKNOWN_POLICY: 'p' is not a policy", 404),
                                            ("NOT_LOCKED: nothing", 409)])
def test_a_name_the_runner_does_not_know_is_a_404(reason, status):
    async def main():
        view = FakeView()
        view.change_answer = ChangeResult(False, reason)
        view.reset_answer = ResetResult(False, reason)
        async with serve(view, tokens=PEOPLE) as c:
            assert (await c.post("/v1/lock", LOCK, auth=bearer(ALICE)))[0] == status
            assert (await c.post("/v1/reset", RESET, auth=bearer(ALICE)))[0] == (404 if status == 404 else 200)
    run(main())


def test_an_empty_tokens_object_is_no_identity():
    assert len(Tokens()) == 0 and Tokens().identify(b"") is None
