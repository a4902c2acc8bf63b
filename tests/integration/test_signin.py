"""Single sign-on through a real OpenID provider (oidc-provider-mock on 127.0.0.1, tests/signin_provider.py)
to a real runner on the simulated exchange (the browser tests' LiveRunner), with ``requests`` as
the browser: the authorization code flow with PKCE, the session cookie, a lock by the signed-in
person named in the audit, and the attacks of issue 61 that a session meets: a write from another
origin (CSRF), a cookie tampered with or replayed after sign-out, a group removed from the tokens
document, a group that maps to no role, a token in the URL, the provider's state not this sign-in's,
a second name for one subject; a bearer token still wins over a cookie; a sign-out holds at
another replica and after a restart (the state store keeps it)."""

from __future__ import annotations

import time

import pytest
import requests

from killswitch.face.api.api import make_app, start_api, stop_api
from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.face.api.signin import Signin
from killswitch.face.api.signin.flow import FOLLOW_S
from tests.browser.conftest import LiveRunner
from tests.signin_provider import free_port, provider, sign_in, signin_for  # noqa: F401 - a fixture
from tests.unit.runner.operator.rig import ACCOUNT

BOT = "bot-token-for-the-signin-test"


def tokens(*groups: dict) -> object:
    return parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens",
                         "tokens": [{"identity": "script", "roles": ["operator"], "sha256": token_digest(BOT)}],
                         "groups": list(groups) or [{"group": "risk-oncall", "roles": ["operator", "viewer"]},
                                                    {"group": "risk-managers", "roles": ["approver", "viewer"]}]})


@pytest.fixture
def runner(tmp_path, provider):  # noqa: F811 - the fixture imported above
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    where = tmp_path / "oidc"
    where.mkdir()
    signin = signin_for(where, provider.issuer, url)
    r = LiveRunner(tmp_path, tokens=tokens(), signin=signin, port=port)
    assert r.url == url
    r.tick(2, beat=("bot-x",))
    yield r
    signin.close()
    r.close()


def cookie(value: str) -> dict:
    return {"Cookie": f"__Host-ks_session={value}"}


def lock(url: str, headers: dict, reason: str = "drill: signed-in lock") -> requests.Response:
    return requests.post(f"{url}/v1/lock", json={"scope": ACCOUNT, "reason": reason}, headers=headers, timeout=10)


def test_a_person_signs_in_and_locks_named_in_the_audit(runner, provider):  # noqa: F811
    provider.user("u-1001", email="Alice@Desk.example", groups=["risk-oncall", "sales"])
    started = time.perf_counter()
    session, landed = sign_in(runner.url, "u-1001")
    assert session and landed == f"{runner.url}/"
    who = requests.get(f"{runner.url}/v1/whoami", headers=cookie(session), timeout=10)
    view = requests.get(f"{runner.url}/console/view", headers=cookie(session), timeout=10)
    took = time.perf_counter() - started
    assert who.status_code == 200 and who.json()["identity"] == "alice@desk.example"
    assert sorted(who.json()["roles"]) == ["operator", "viewer"]
    assert view.status_code == 200 and "simulated/sim-main" in view.text
    print(f"FIGURE sign-in to the first console view (requests, no browser): {took * 1000:.0f} ms")
    # a write from the console's own page: its origin
    done = lock(runner.url, {**cookie(session), "Origin": runner.url})
    assert done.status_code == 200 and done.json()["done"], done.text
    rows = [row.payload for row in runner.store.audit_rows(kinds=["manual_lock"])]
    assert [p.get("by") for p in rows] == ["alice@desk.example"]
    [signed] = [row.payload for row in runner.store.audit_rows(kinds=["console_signin"])]
    assert signed["by"] == "alice@desk.example" and signed["sub"] == "u-1001" and signed["groups"] == ["risk-oncall"]
    assert len(signed["session"]) == 16 and signed["session"] not in session  # a digest, never the cookie's id


def test_a_write_from_another_origin_is_refused(runner, provider):  # noqa: F811
    provider.user("u-1001", email="alice@desk.example", groups=["risk-oncall"])
    session, _ = sign_in(runner.url, "u-1001")
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}, {}):
        got = lock(runner.url, {**cookie(session), **headers})
        assert got.status_code == 403 and got.json()["error"] == "CSRF_ORIGIN", (headers, got.text)
        for path, body in (("/v1/reset", {"policy": "bot-guard", "scope": ACCOUNT, "reason": "x"}),
                           ("/v1/revoke", {"scope": ACCOUNT, "reason": "x"})):
            got = requests.post(runner.url + path, json=body, headers={**cookie(session), **headers}, timeout=10)
            assert got.status_code == 403 and got.json()["error"] in ("CSRF_ORIGIN", "ROLE_REQUIRED"), got.text
    assert runner.store.audit_rows(kinds=["manual_lock"]) == []
    assert not requests.get(f"{runner.url}/v1/lock?scope={ACCOUNT}", timeout=10).json()["locked"]


def test_sign_out_ends_the_session_even_when_the_cookie_is_replayed(runner, provider):  # noqa: F811
    provider.user("u-1001", email="alice@desk.example", groups=["risk-oncall"])
    session, _ = sign_in(runner.url, "u-1001")
    assert requests.get(f"{runner.url}/v1/whoami", headers=cookie(session), timeout=10).status_code == 200
    cross = requests.post(f"{runner.url}/v1/auth/logout", headers={**cookie(session), "Origin": "https://evil.example"},
                          timeout=10)
    assert cross.status_code == 403
    out = requests.post(f"{runner.url}/v1/auth/logout", headers={**cookie(session), "Origin": runner.url}, timeout=10)
    assert out.status_code == 200 and out.json() == {"done": True, "reason": "SIGNED_OUT"}
    assert "__Host-ks_session=;" in out.headers["Set-Cookie"]
    again = requests.get(f"{runner.url}/v1/whoami", headers=cookie(session), timeout=10)
    assert again.status_code == 401 and again.json()["error"] == "SESSION_ENDED"
    [signin], [signout] = (runner.store.audit_rows(kinds=[k]) for k in ("console_signin", "console_signout"))
    assert signout.payload == {"by": "alice@desk.example", "sub": "u-1001", "session": signin.payload["session"]}
    assert lock(runner.url, {**cookie(session), "Origin": runner.url}).json()["error"] == "SESSION_ENDED"


def test_a_tampered_cookie_and_a_token_in_the_url_are_refused(runner, provider):  # noqa: F811
    provider.user("u-1001", email="alice@desk.example", groups=["risk-oncall"])
    session, _ = sign_in(runner.url, "u-1001")
    version, body, mac = session.split(".")
    import base64
    import json

    doc = json.loads(base64.urlsafe_b64decode(body + "=="))
    doc["groups"] = ["risk-oncall", "risk-managers"]  # a role more, the mac kept
    forged = ".".join([version, base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("="), mac])
    got = requests.get(f"{runner.url}/v1/whoami", headers=cookie(forged), timeout=10)
    assert got.status_code == 401 and got.json()["error"] == "SESSION_INVALID"
    for query in ("access_token=" + BOT, "token=" + BOT, "id_token=x"):
        got = requests.get(f"{runner.url}/v1/whoami?{query}", timeout=10)
        assert got.status_code == 400 and got.json()["error"] == "TOKEN_IN_URL", got.text
        assert BOT not in got.text
    got = requests.post(f"{runner.url}/v1/lock?access_token={BOT}", json={"scope": ACCOUNT, "reason": "x"}, timeout=10)
    assert got.status_code == 400 and runner.store.audit_rows(kinds=["manual_lock"]) == []


def test_a_group_removed_from_the_tokens_document_takes_effect_on_the_next_request(runner, provider):  # noqa: F811
    provider.user("u-1001", email="alice@desk.example", groups=["risk-oncall", "risk-managers"])
    session, _ = sign_in(runner.url, "u-1001")
    who = requests.get(f"{runner.url}/v1/whoami", headers=cookie(session), timeout=10).json()
    assert sorted(who["roles"]) == ["approver", "operator", "viewer"]
    live = runner.signin.tokens
    live.replace(tokens({"group": "risk-managers", "roles": ["approver", "viewer"]}))
    who = requests.get(f"{runner.url}/v1/whoami", headers=cookie(session), timeout=10).json()
    assert sorted(who["roles"]) == ["approver", "viewer"]
    got = lock(runner.url, {**cookie(session), "Origin": runner.url})
    assert got.status_code == 403 and got.json()["error"] == "ROLE_REQUIRED"
    live.replace(tokens({"group": "somebody-else", "roles": ["operator"]}))
    got = requests.get(f"{runner.url}/v1/whoami", headers=cookie(session), timeout=10)
    assert got.status_code == 403 and got.json()["error"] == "NO_ROLE"


def test_a_person_in_no_mapped_group_is_not_signed_in(runner, provider):  # noqa: F811
    provider.user("u-2002", email="mallory@desk.example", groups=["sales", "marketing"])
    session, landed = sign_in(runner.url, "u-2002")
    assert session is None and landed.endswith("/#signin-refused=SIGNIN_NO_ROLE")


def test_one_subject_has_one_name_and_one_name_one_subject(runner, provider):  # noqa: F811
    provider.user("u-1001", email="alice@desk.example", groups=["risk-managers"])
    assert sign_in(runner.url, "u-1001")[0]
    provider.user("u-1001", email="alice.second@desk.example", groups=["risk-managers"])  # renamed, same person
    session, landed = sign_in(runner.url, "u-1001")
    assert session is None and landed.endswith("=SIGNIN_NAME_TAKEN")
    provider.user("u-6666", email="alice@desk.example", groups=["risk-managers"])  # another person, her name
    session, landed = sign_in(runner.url, "u-6666")
    assert session is None and landed.endswith("=SIGNIN_NAME_TAKEN")


def test_the_callback_refuses_a_state_that_is_not_its_own(runner, provider):  # noqa: F811
    provider.user("u-1001", email="alice@desk.example", groups=["risk-oncall"])
    # the callback without the sign-in cookie (a link another site made the browser follow)
    got = requests.get(f"{runner.url}/v1/auth/callback?code=abc&state=xyz", allow_redirects=False, timeout=10)
    assert got.status_code == 303 and got.headers["Location"] == "/#signin-refused=SIGNIN_STATE"
    assert "__Host-ks_session=v1" not in got.headers.get("Set-Cookie", "")
    login = requests.get(f"{runner.url}/v1/auth/login", allow_redirects=False, timeout=10)
    flow = login.headers["Set-Cookie"].split(";", 1)[0]
    got = requests.get(f"{runner.url}/v1/auth/callback?code=abc&state=another", headers={"Cookie": flow},
                       allow_redirects=False, timeout=10)
    assert got.headers["Location"] == "/#signin-refused=SIGNIN_STATE"
    # PKCE: the challenge sent is S256 of the verifier the sign-in cookie keeps (never sent before the exchange)
    import base64
    import hashlib
    import json
    from urllib.parse import parse_qs, urlsplit

    sent = parse_qs(urlsplit(login.headers["Location"]).query)
    kept = json.loads(base64.urlsafe_b64decode(flow.split("=", 1)[1].split(".")[1] + "=="))
    assert sent["code_challenge_method"] == ["S256"] and sent["nonce"] == [kept["nonce"]]
    assert sent["state"] == [kept["state"]] and "code_verifier" not in sent
    assert sent["code_challenge"] == [base64.urlsafe_b64encode(hashlib.sha256(kept["verifier"].encode()).digest())
                                      .decode().rstrip("=")]


def test_a_bearer_token_wins_over_a_cookie(runner, provider):  # noqa: F811
    provider.user("u-1001", email="alice@desk.example", groups=["risk-oncall"])
    session, _ = sign_in(runner.url, "u-1001")
    who = requests.get(f"{runner.url}/v1/whoami", headers={**cookie(session), "Authorization": f"Bearer {BOT}"},
                       timeout=10)
    assert who.json()["identity"] == "script"
    got = requests.get(f"{runner.url}/v1/whoami", headers={**cookie(session), "Authorization": "Bearer wrong"},
                       timeout=10)
    assert got.status_code == 401 and got.json()["error"] == "AUTH_INVALID"  # never the cookie instead


def test_a_sign_out_holds_at_another_replica_and_after_a_restart(runner, provider):  # noqa: F811
    provider.user("u-1001", email="alice@desk.example", groups=["risk-oncall"])
    runner.signin.attach(runner.store.reopen())
    session, _ = sign_in(runner.url, "u-1001")
    made: list = []

    def replica() -> str:  # the same configuration and key, a connection of its own to the same store
        other = Signin(runner.signin.config, runner.signin.provider)
        other.attach(runner.store.reopen())
        site, url = runner.call(start_api(make_app(runner.desk, tokens=tokens(), signin=other)))
        made.append((other, site))
        return url

    def whoami(url: str) -> requests.Response:
        return requests.get(f"{url}/v1/whoami", headers=cookie(session), timeout=10)

    try:
        other = replica()
        assert whoami(other).status_code == 200  # the cookie is good at every replica
        out = requests.post(f"{runner.url}/v1/auth/logout", headers={**cookie(session), "Origin": runner.url},
                            timeout=10)
        assert out.json()["done"]
        deadline = time.monotonic() + FOLLOW_S + 5
        while whoami(other).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        got = whoami(other)
        assert got.status_code == 401 and got.json()["error"] == "SESSION_ENDED"
        restarted = replica()  # a runner started after the sign-out: refused from its first request
        got = whoami(restarted)
        assert got.status_code == 401 and got.json()["error"] == "SESSION_ENDED"
    finally:
        for signin, site in made:
            runner.call(stop_api(site))
            signin.close()
