"""The session cookie of single sign-on (killswitch/face/api/signin/session.py): signed under the
cookie key, refused when expired, tampered with, signed by another key or for another purpose,
or ended by a sign-out; each name bound to one subject."""

from __future__ import annotations

import base64
import json

import pytest
from multidict import CIMultiDict

from killswitch.face.api.signin.session import (
    CookieRefused,
    EndedSessions,
    Session,
    Signer,
    Subjects,
    cookie_header,
    cookie_value,
    new_session,
)

KEY = b"k" * 40
NOW = 1_800_000_000.0


def made(lifetime_s: int = 3600) -> tuple[Session, str]:
    session = new_session("u-1", "alice@desk.example", ("risk-oncall",), NOW, lifetime_s)
    return session, Signer(KEY).sign("session", session.payload())


def refused(value: str, now: float = NOW, key: bytes = KEY, purpose: str = "session") -> str:
    with pytest.raises(CookieRefused) as e:
        Signer(key).open(purpose, value, now)
    return e.value.code


def test_a_cookie_opens_under_its_key_until_it_ends():
    session, value = made()
    assert Session.of(Signer(KEY).open("session", value, NOW + 3599)) == session
    assert refused(value, now=NOW + 3600) == "SESSION_EXPIRED"
    assert session.exp - session.iat == 3600 and len(session.sid) >= 20


def test_a_cookie_of_another_key_or_purpose_is_refused():
    _, value = made()
    assert refused(value, key=b"x" * 40) == "SESSION_INVALID"
    assert refused(value, purpose="signin") == "SESSION_INVALID"  # a sign-in cookie is never a session


@pytest.mark.parametrize("change", ["payload", "mac", "version", "truncated", "garbage", "long"])
def test_a_tampered_cookie_is_refused(change):
    _, value = made()
    version, body, mac = value.split(".")
    if change == "payload":  # a group more, the mac kept
        doc = json.loads(base64.urlsafe_b64decode(body + "=="))
        doc["groups"].append("risk-managers")
        body = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
        value = f"{version}.{body}.{mac}"
    elif change == "mac":
        value = f"{version}.{body}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"
    elif change == "version":
        value = f"v2.{body}.{mac}"
    elif change == "truncated":
        value = f"{version}.{body}"
    elif change == "garbage":
        value = "v1.%%%.\u00e9"
    else:
        value = value + "A" * 4000
    assert refused(value) == "SESSION_INVALID"


def test_a_payload_that_is_not_a_session_is_refused_even_when_signed():
    value = Signer(KEY).sign("session", {"exp": NOW + 60, "sid": "s"})
    with pytest.raises(CookieRefused, match="SESSION_INVALID"):
        Session.of(Signer(KEY).open("session", value, NOW))
    assert refused(Signer(KEY).sign("session", {"sid": "s"})) == "SESSION_INVALID"  # no end


def test_an_ended_session_is_kept_until_its_cookie_would_expire():
    ended = EndedSessions()
    ended.end("a", exp=int(NOW) + 10, now_s=NOW)
    ended.end("b", exp=int(NOW) + 100, now_s=NOW + 5)
    assert "a" in ended and "b" in ended
    ended.end("c", exp=int(NOW) + 100, now_s=NOW + 50)  # a's cookie has expired by now: forgotten
    assert "a" not in ended and "b" in ended and len(ended) == 2


def test_a_name_is_one_subject_and_a_subject_one_name():
    s = Subjects()
    assert s.bind("u-1", "alice@desk.example") is None
    assert s.bind("u-1", "alice@desk.example") is None
    assert "another subject's" in s.bind("u-2", "alice@desk.example")
    assert "signed in as alice@desk.example" in s.bind("u-1", "alice2@desk.example")


def test_the_cookie_header_and_reading_it_back():
    header = cookie_header("__Host-ks_session", "v1.a.b", 3600, "Strict")
    assert header == "__Host-ks_session=v1.a.b; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict"
    headers = CIMultiDict([("Cookie", "other=1; __Host-ks_session=v1.a.b")])
    assert cookie_value(headers, "__Host-ks_session") == "v1.a.b"
    assert cookie_value(CIMultiDict(), "__Host-ks_session") is None
    twice = CIMultiDict([("Cookie", "__Host-ks_session=v1.a.b"), ("Cookie", "__Host-ks_session=v1.c.d")])
    with pytest.raises(CookieRefused, match="more than once"):
        cookie_value(twice, "__Host-ks_session")


def test_the_key_is_never_shown_and_must_be_long():
    assert "k" * 10 not in repr(Signer(KEY))
    with pytest.raises(ValueError):
        Signer(b"short")
