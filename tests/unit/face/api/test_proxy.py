"""The trusted-proxy mode (killswitch/face/api/proxy/): its document, the rules its headers are
read by, the refusal of the same headers from anywhere else, and the bound on the audit rows a
flood of them writes. The real proxy in front (Debian's nginx): tests/integration/api/test_proxy.py."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from killswitch.face.api.identity import parse_tokens, token_digest
from killswitch.face.api.proxy import ProxyConfigError, TrustedProxy, load_proxy_config, parse_proxy_config
from killswitch.face.api.proxy.config import ProxyConfig
from killswitch.face.api.proxy.headers import HeaderRefused, peer_address, shown, single
from killswitch.face.api.proxy.ledger import Refusals, audit_later
from killswitch.face.api.proxy.trust import declare
from killswitch.face.request import ApiError
from killswitch.metrics import Registry

from .rig import LOCK, TOKEN, FakeView, run, serve

PROXY_NET = ipaddress.ip_network("10.1.0.0/24")
CONFIG = ProxyConfig((PROXY_NET,), None, external_urls=("https://ks.desk.example",))
TOKENS = parse_tokens({"apiVersion": "killswitch/v1", "kind": "ApiTokens",
                       "tokens": [{"identity": "bot", "roles": ["bot"], "sha256": token_digest(TOKEN)}],
                       "groups": [{"group": "risk-oncall", "roles": ["operator", "viewer"]},
                                  {"group": "risk-managers", "roles": ["approver"]}]})


def _transport(peer: str, cert=None):
    t = mock.Mock()
    extra = {"peername": (peer, 40000), "sslcontext": object() if cert else None, "peercert": cert}
    t.get_extra_info.side_effect = lambda key, default=None: extra.get(key, default)
    return t


def request(method="GET", peer="10.1.0.7", cert=None, headers=(), path="/v1/status"):
    h = CIMultiDict([("Host", "ks.desk.example"), *headers])
    return make_mocked_request(method, path, headers=h, transport=_transport(peer, cert))


def refused(fn, *args) -> ApiError:
    with pytest.raises(ApiError) as e:
        fn(*args)
    return e.value


# --- the document -------------------------------------------------------------------------------------

def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "proxy.yaml"
    p.write_text("apiVersion: killswitch/v1\nkind: TrustedProxy\n" + text)
    return p


def test_a_document_names_the_proxy_its_headers_and_the_console_s_urls(tmp_path):
    c = load_proxy_config(write(tmp_path, "sources: [10.42.0.0/16, '::1']\nclient_cert: {subject_cn: proxy}\n"
                                          "user_header: X-Forwarded-Email\nexternal_urls: [https://ks.example]\n"))
    assert c.sources == (ipaddress.ip_network("10.42.0.0/16"), ipaddress.ip_network("::1/128"))
    assert c.client_cert == ("subject_cn", "proxy") and c.headers == ("X-Forwarded-Email", "X-Forwarded-Groups")
    assert "from 10.42.0.0/16, ::1/128 and with a client certificate" in c.describe()


@pytest.mark.parametrize("text, words", [
    ("sources: [10.0.0.0/8]\nsource: []\n", "proxy.yaml:4:1: unknown key 'source' (did you mean 'sources'?)"),
    ("user_header: X-User\n", "needs sources (the proxy's addresses, as CIDRs) or client_cert"),
    ("sources: [10.0.0.1/8]\n", "'10.0.0.1/8' is not an address or a CIDR"),
    ("sources: [0.0.0.0/0]\n", "is every address"),
    ("sources: 10.0.0.0/8\n", "sources must be a list"),
    ("sources: [10.0.0.0/8]\nuser_header: Authorization\n", "proxy.yaml:4:1: user_header: Authorization is read"),
    ("sources: [10.0.0.0/8]\ngroups_header: 'X Groups'\n", "must be an HTTP header's name"),
    ("sources: [10.0.0.0/8]\ngroups_header: x-forwarded-user\n", "groups_header is the user_header"),
    ("sources: [10.0.0.0/8]\nexternal_urls: [ks.desk.example]\n", "is not an http(s) URL with a host"),
    ("client_cert: {subject_nc: proxy}\n", "unknown key 'subject_nc' (did you mean 'subject_cn'?)"),
    ("sources: [10.0.0.0/8\n", "not valid YAML"),
])
def test_a_bad_document_is_refused_with_where_and_why(tmp_path, text, words):
    with pytest.raises(ProxyConfigError) as e:
        load_proxy_config(write(tmp_path, text))
    assert words in str(e.value)


def test_another_kind_of_document_is_refused(tmp_path):
    with pytest.raises(ProxyConfigError, match="kind TrustedProxy"):
        parse_proxy_config({"apiVersion": "killswitch/v1", "kind": "ApiTokens", "sources": ["10.0.0.0/8"]},
                           tmp_path / "x.yaml")


# --- who the proxy is -----------------------------------------------------------------------------------

def test_the_proxy_s_person_has_the_roles_their_groups_map_to_now():
    p = TrustedProxy(CONFIG)
    who = p.person(request(headers=[("X-Forwarded-User", "Alice"),
                                    ("X-Forwarded-Groups", "risk-oncall, unknown-group,risk-managers")]), TOKENS)
    assert who is not None and who.name == "alice" and who.roles == {"operator", "viewer", "approver"}
    assert p.person(request(), TOKENS) is None  # no user header: the normal ways in (a bot's token)
    assert p.person(request(headers=[("Authorization", f"Bearer {TOKEN}")]), TOKENS) is None
    assert p.people == 1


@pytest.mark.parametrize("peer", ["10.1.0.200", "::ffff:10.1.0.9"])
def test_the_proxy_is_known_by_its_source_address(peer):
    TrustedProxy(CONFIG).screen(request(peer=peer, headers=[("X-Forwarded-User", "alice")]))


@pytest.mark.parametrize("headers", [
    [("X-Forwarded-User", "alice")],
    [("x-forwarded-user", "alice"), ("X-Forwarded-Groups", "risk-managers")],
    [("X-Forwarded-Groups", "risk-managers")],  # the groups alone are the proxy's too
])
def test_the_proxy_s_headers_from_another_address_are_refused_and_audited(headers):
    rows: list[dict] = []

    async def audit(row):
        rows.append(row)

    async def main():
        p = TrustedProxy(CONFIG, audit=audit)
        e = refused(p.screen, request("POST", peer="10.1.1.7", headers=headers, path="/v1/lock"))
        assert e.status == 401 and e.code == "PROXY_HEADER_UNTRUSTED"
        assert p.refusals.refused == {"PROXY_HEADER_UNTRUSTED": 1}
        for _ in range(3):  # let the audit's task run
            await asyncio.sleep(0)
    run(main())
    assert len(rows) == 1
    row = rows[0]
    assert row["source"] == "10.1.1.7" and row["path"] == "/v1/lock" and row["method"] == "POST"
    assert row["reason"] == "PROXY_HEADER_UNTRUSTED" and row["folded_since_last_row"] == 0
    assert row["claimed_user"] == ("alice" if len(headers[0][0]) == 16 else None)


CERT = {"subject": ((("commonName", "oauth2-proxy"),),), "subjectAltName": (("DNS", "proxy.desk.example"),)}
OTHER = {"subject": ((("commonName", "pricing-bot"),),)}


@pytest.mark.parametrize("sources, peer, cert, trusted", [
    ((), "10.9.9.9", CERT, True),  # the certificate alone
    ((), "10.9.9.9", OTHER, False),
    ((), "10.9.9.9", None, False),  # plain HTTP, or no certificate
    ((PROXY_NET,), "10.1.0.3", CERT, True),  # both, and both hold
    ((PROXY_NET,), "10.2.0.3", CERT, False),  # the certificate from another address
    ((PROXY_NET,), "10.1.0.3", OTHER, False),
])
def test_a_proxy_known_by_its_client_certificate_needs_it_verified(sources, peer, cert, trusted):
    p = TrustedProxy(ProxyConfig(sources, ("subject_cn", "oauth2-proxy")))
    r = request(peer=peer, cert=cert, headers=[("X-Forwarded-User", "alice")])
    if trusted:
        p.screen(r)
    else:
        assert refused(p.screen, r).code == "PROXY_HEADER_UNTRUSTED"


def test_without_the_headers_nothing_is_screened():
    TrustedProxy(CONFIG).screen(request(peer="192.0.2.1", headers=[("Authorization", f"Bearer {TOKEN}")]))


# --- header hygiene ------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers, code, words", [
    ([("X-Forwarded-User", "alice"), ("X-Forwarded-User", "bob")], "PROXY_HEADER_INVALID", "sent 2 times"),
    ([("X-Forwarded-User", "")], "PROXY_HEADER_INVALID", "is empty"),
    ([("X-Forwarded-User", "   ")], "PROXY_HEADER_INVALID", "is empty"),
    ([("X-Forwarded-User", "a" * 257)], "PROXY_HEADER_INVALID", "longer than 256"),
    ([("X-Forwarded-User", "alice\r\nX-Admin: 1")], "PROXY_HEADER_INVALID", "control character"),
    ([("X-Forwarded-User", "alice\x00")], "PROXY_HEADER_INVALID", "control character"),
    ([("X-Forwarded-User", "alice\x85")], "PROXY_HEADER_INVALID", "control character"),
    ([("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "risk-oncall"), ("X-Forwarded-Groups", "risk-managers")],
     "PROXY_HEADER_INVALID", "X-Forwarded-Groups sent 2 times"),
    ([("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "risk-oncall\t")], "PROXY_HEADER_INVALID", "control"),
    ([("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "g," * 300)], "PROXY_HEADER_INVALID", "more than 256"),
    ([("X-Forwarded-Groups", "risk-oncall")], "PROXY_HEADER_INVALID", "without X-Forwarded-User"),
    ([("X-Forwarded-User", "Alice Smith"), ("X-Forwarded-Groups", "risk-oncall")], "PROXY_USER_INVALID", "valid"),
    ([("X-Forwarded-User", "ａｄｍｉｎ✓"), ("X-Forwarded-Groups", "risk-oncall")], "PROXY_USER_INVALID", "ASCII"),
    ([("X-Forwarded-User", "shared-token"), ("X-Forwarded-Groups", "risk-oncall")], "PROXY_USER_INVALID", "shared"),
    ([("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "traders, Risk-Oncall")], "PROXY_GROUPS_UNMAPPED",
     "none of alice's 2 group(s)"),
    ([("X-Forwarded-User", "alice")], "PROXY_GROUPS_UNMAPPED", "none of alice's 0 group(s)"),
])
def test_a_bad_header_from_the_proxy_is_refused_never_cleaned_into_a_name(headers, code, words):
    p = TrustedProxy(CONFIG)
    e = refused(p.person, request(headers=headers), TOKENS)
    assert e.status == 401 and e.code == code and words in e.reason, e.reason
    assert "\r" not in e.reason and "Admin" not in e.reason  # nothing of the value is quoted
    assert p.refusals.refused == {code: 1} and p.people == 0


@pytest.mark.parametrize("headers, ok", [
    ([("Origin", "https://ks.desk.example")], True),  # the console's external URL
    ([("Sec-Fetch-Site", "same-origin")], True),
    ([("Origin", "https://evil.example")], False),
    ([], False),  # a form of another site's page, posted with the browser's cookie at the proxy
])
def test_a_change_the_proxy_s_person_sends_must_come_from_the_console(headers, ok):
    r = request("POST", headers=[("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "risk-oncall"), *headers],
                path="/v1/lock")
    p = TrustedProxy(CONFIG)
    if ok:
        assert p.person(r, TOKENS) is not None
    else:
        e = refused(p.person, r, TOKENS)
        assert e.status == 403 and e.code == "CSRF_ORIGIN"


def test_a_byte_that_is_not_utf8_is_refused():
    # aiohttp hands such a byte over as a lone surrogate (surrogateescape); a mocked request cannot carry one
    r = SimpleNamespace(headers=CIMultiDict([("X-Forwarded-User", "al\udcffice")]))
    with pytest.raises(HeaderRefused, match="not UTF-8"):
        single(r, "X-Forwarded-User", 256)


def test_a_value_a_client_sent_is_shown_escaped_and_cut():
    assert shown("alice\r\n\x1b[31m\\") == "alice\\r\\n\\x1b[31m\\\\"
    assert shown("x" * 100) == "x" * 64 + "…" and shown("é") == "\\xe9"


def test_the_peer_address_is_the_connection_s_never_a_header():
    r = request(peer="::ffff:192.0.2.1", headers=[("X-Forwarded-For", "10.1.0.7"), ("Forwarded", "for=10.1.0.7")])
    assert str(peer_address(r)) == "192.0.2.1"
    assert refused(TrustedProxy(CONFIG).screen, request(peer="192.0.2.1", headers=[
        ("X-Forwarded-For", "10.1.0.7"), ("X-Real-IP", "10.1.0.7"), ("X-Forwarded-User", "alice")])).code \
        == "PROXY_HEADER_UNTRUSTED"


# --- the bound on audit rows ------------------------------------------------------------------------

def test_a_flood_from_one_address_is_one_row_a_minute_with_the_rest_counted():
    now = [0.0]
    r = Refusals(clock=lambda: now[0])
    rows = [r.note("PROXY_HEADER_UNTRUSTED", "192.0.2.1", {}) for _ in range(10_000)]
    assert sum(x is not None for x in rows) == 1 and r.folded == 9_999
    now[0] = 60.0
    row = r.note("PROXY_HEADER_UNTRUSTED", "192.0.2.1", {})
    assert row is not None and row["folded_since_last_row"] == 9_999
    assert r.refused == {"PROXY_HEADER_UNTRUSTED": 10_001} and r.rows == 2


def test_many_addresses_write_at_most_ten_rows_a_minute_and_beyond_the_tracked_ones_are_summed():
    now = [0.0]
    r = Refusals(clock=lambda: now[0], tracked=100)
    rows = [r.note("PROXY_HEADER_UNTRUSTED", f"192.0.{i // 250}.{i % 250}", {}) for i in range(1000)]
    written = [x for x in rows if x is not None]
    assert len(written) == 10 and r.folded == 990
    now[0] = 61.0
    nxt = r.note("PROXY_HEADER_UNTRUSTED", "192.0.0.15", {})  # one tracked, folded once before
    assert nxt is not None and nxt["folded_since_last_row"] == 1
    assert nxt["folded_other_sources"] == 990 - 100  # the addresses past the 100 remembered
    assert len(r._since) <= 100


def test_a_refusal_of_a_proxy_s_bad_header_is_counted_not_audited():
    r = Refusals()
    assert r.note("PROXY_HEADER_INVALID", "", {}) is None and r.rows == 0 and r.folded == 0


def test_an_audit_row_the_store_refuses_is_handed_on_and_its_task_let_go() -> None:
    failed: list[Exception] = []
    writing: set[asyncio.Task] = set()

    async def down(row: dict) -> None:
        raise OSError("store down")

    async def both() -> None:
        audit_later(down, {"source": "a"}, writing, failed.append)
        audit_later(mock.AsyncMock(), {"source": "b"}, writing, failed.append)
        assert len(writing) == 2
        await asyncio.gather(*list(writing))

    asyncio.run(both())
    assert [str(e) for e in failed] == ["store down"] and not writing


def test_the_families_are_declared_without_the_mode_and_sampled_with_it():
    reg = Registry()
    declare(reg, None)
    text = reg.render()
    assert "# TYPE killswitch_api_proxy_refused_total counter" in text and "_total{" not in text
    p = TrustedProxy(CONFIG)
    p.refusals.note("PROXY_HEADER_UNTRUSTED", "192.0.2.1", {})
    p.refusals.note("PROXY_HEADER_UNTRUSTED", "192.0.2.1", {})
    reg = Registry()
    declare(reg, p)
    text = reg.render()
    assert 'killswitch_api_proxy_refused_total{reason="PROXY_HEADER_UNTRUSTED"} 2.0' in text
    assert "killswitch_api_proxy_refusals_folded_total 1.0" in text


# --- through the API -----------------------------------------------------------------------------------

def test_through_the_api_the_proxy_s_person_locks_and_a_bot_s_token_still_works():
    """127.0.0.1 plays the proxy: its person is the caller of a lock; a bearer token through it
    is the bot's; the same headers from an address that is not the proxy's, even to /healthz,
    are refused before any handler runs."""
    local = ProxyConfig((ipaddress.ip_network("127.0.0.1/32"),), None)
    rows: list[dict] = []

    async def audit(row):
        rows.append(row)

    stranger = TrustedProxy(ProxyConfig((ipaddress.ip_network("10.0.0.0/8"),), None), audit=audit)

    async def main():
        view = FakeView()
        proxy = TrustedProxy(local, audit=audit)
        async with serve(view, token=None, tokens=TOKENS, proxy=proxy) as c:
            person = {"X-Forwarded-User": "carol", "X-Forwarded-Groups": "risk-oncall",
                      "Origin": c.base}
            status, body, _ = await c.post("/v1/lock", LOCK, auth=None, headers=person)
            assert status == 200, body
            assert view.actors == ["carol"]
            status, body, _ = await c.post("/v1/heartbeat/bot-a", {}, auth=f"Bearer {TOKEN}")
            assert status == 204, body
            status, body, _ = await c.get("/v1/whoami", headers={"X-Forwarded-User": "carol",
                                                                 "X-Forwarded-Groups": "risk-managers"})
            assert status == 200 and body == {"identity": "carol", "roles": ["approver"]}, body
        async with serve(FakeView(), token=None, tokens=TOKENS, proxy=stranger) as c:
            for path in ("/healthz", "/v1/status", "/nowhere"):
                status, body, _ = await c.get(path, headers={"X-Forwarded-User": "carol"})
                assert status == 401 and body["error"] == "PROXY_HEADER_UNTRUSTED", (path, body)
            assert c.view.calls == []
    run(main())
    assert [r["path"] for r in rows] == ["/healthz"]  # one row for the address in the minute
    assert stranger.refusals.refused == {"PROXY_HEADER_UNTRUSTED": 3} and stranger.refusals.folded == 2
