"""The ID token's checks (killswitch/face/api/signin/provider.py), on tokens the test signs with
keys of its own: the provider's key accepted; the wrong audience, issuer, nonce, an expired token,
one issued in the future, a signature by another key (an expired signing key the provider no
longer serves), an HMAC or unsigned token, several audiences without azp, no subject: refused, each
naming its check. And the configuration's refusals (unknown key, plain http off loopback, a
literal secret, a short cookie key)."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from killswitch.face.api.signin.config import SigninConfigError, parse_oidc_config
from killswitch.face.api.signin.provider import IdTokenRefused, ProviderKeys, validate_id_token

ISSUER = "https://login.desk.example/realms/desk"
CLIENT = "killswitch"
NONCE = "n-0S6_WzA2Mj"
NOW = 1_800_000_000

PROVIDER_KEY = RSAKey.generate_key(2048, parameters={"kid": "current"}, private=True)
OLD_KEY = RSAKey.generate_key(2048, parameters={"kid": "retired"}, private=True)
KEYS = KeySet.import_key_set({"keys": [PROVIDER_KEY.as_dict(private=False)]})


def token(key=PROVIDER_KEY, alg: str = "RS256", **changes) -> str:
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "u-1001", "email": "alice@desk.example", "nonce": NONCE,
              "iat": NOW - 5, "exp": NOW + 300}
    claims.update(changes)
    for k in [k for k, v in claims.items() if v is None]:
        del claims[k]
    header = {"alg": alg, **({"kid": key.kid} if getattr(key, "kid", None) else {})}
    return jwt.encode(header, claims, key, algorithms=[alg])


def check(value: str, **kw) -> dict:
    return validate_id_token(value, KEYS, issuer=ISSUER, client_id=CLIENT, nonce=NONCE, now_s=NOW, **kw)


def refusal(value: str) -> str:
    with pytest.raises(IdTokenRefused) as e:
        check(value)
    return str(e.value).split(":")[0]


def test_a_token_the_provider_signed_for_this_sign_in_is_taken():
    claims = check(token())
    assert claims["sub"] == "u-1001" and claims["email"] == "alice@desk.example"
    assert check(token(aud=[CLIENT, "other"], azp=CLIENT))["sub"] == "u-1001"


@pytest.mark.parametrize("changes, code", [
    ({"aud": "another-client"}, "ID_TOKEN_AUD"),
    ({"aud": None}, "ID_TOKEN_AUD"),
    ({"iss": "https://login.evil.example"}, "ID_TOKEN_ISS"),
    ({"nonce": "another-sign-in"}, "ID_TOKEN_NONCE"),
    ({"nonce": None}, "ID_TOKEN_NONCE"),
    ({"exp": NOW - 120}, "ID_TOKEN_EXPIRED"),
    ({"iat": NOW + 600}, "ID_TOKEN_IAT"),
    ({"sub": None}, "ID_TOKEN_SUB"),
    ({"aud": [CLIENT, "other"]}, "ID_TOKEN_AZP"),
    ({"aud": [CLIENT, "other"], "azp": "other"}, "ID_TOKEN_AZP"),
])
def test_a_claim_that_is_not_this_sign_ins_is_refused(changes, code):
    assert refusal(token(**changes)) == code


def test_a_signature_by_a_key_the_provider_does_not_serve_is_refused():
    assert refusal(token(key=OLD_KEY)) == "ID_TOKEN_SIGNATURE"  # a retired (expired) signing key
    other = RSAKey.generate_key(2048, parameters={"kid": "current"}, private=True)  # its kid, not its key
    assert refusal(token(key=other)) == "ID_TOKEN_SIGNATURE"
    good = token()
    head, body, sig = good.split(".")
    assert refusal(f"{head}.{body}.{sig[:-4]}AAAA") == "ID_TOKEN_SIGNATURE"


def test_an_hmac_or_unsigned_token_is_refused():
    secret = OctKey.import_key(b"the-client-secret-the-client-secret")
    assert refusal(token(key=secret, alg="HS256")) == "ID_TOKEN_SIGNATURE"
    head = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    body = token().split(".")[1]
    assert refusal(f"{head}.{body}.") == "ID_TOKEN_SIGNATURE"
    assert refusal("not-a-jwt") == "ID_TOKEN_MALFORMED"


def test_the_keys_are_read_again_at_most_once_a_minute():
    reads = []
    clock = [100.0]
    keys = ProviderKeys(lambda: reads.append(1) or {"keys": [PROVIDER_KEY.as_dict(private=False)]}, lambda: clock[0])
    assert keys.refresh_due()
    keys.load()
    assert not keys.refresh_due()
    clock[0] += 61
    assert keys.refresh_due() and len(reads) == 1


def config(**changes) -> dict:
    doc = {"apiVersion": "killswitch/v1", "kind": "OidcSignin", "issuer": ISSUER, "client_id": CLIENT,
           "external_url": "https://killswitch.desk.example", "cookie_key_file": changes.pop("key_file")}
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "cookie.key"
    path.write_text("x" * 48)
    return str(path)


def test_a_good_configuration(key_file, tmp_path, monkeypatch):
    monkeypatch.setenv("OIDC_SECRET", "s3cr3t")
    cfg = parse_oidc_config(config(key_file=key_file, client_secret={"env": "OIDC_SECRET"}, session_lifetime="2h",
                                   name_claim="preferred_username", scopes=["email", "groups"]))
    assert cfg.redirect_uri == "https://killswitch.desk.example/v1/auth/callback"
    assert cfg.scopes == ("openid", "email", "groups") and cfg.name_claims == ("preferred_username",)
    assert cfg.session_lifetime_s == 7200 and cfg.client_secret.reveal() == b"s3cr3t"
    assert "s3cr3t" not in repr(cfg) and "x" * 10 not in repr(cfg)
    assert parse_oidc_config(config(key_file=key_file)).name_claims == ("email", "preferred_username")


def test_a_cookie_key_every_user_can_read_is_warned_of_and_one_the_runner_alone_reads_is_not(key_file, caplog):
    import logging
    import os

    os.chmod(key_file, 0o644)
    with caplog.at_level(logging.WARNING, logger="killswitch.face.api.signin"):
        parse_oidc_config(config(key_file=key_file))
    said = [r.getMessage() for r in caplog.records if "SECRET_FILE_READABLE" in r.getMessage()]
    assert len(said) == 1 and "cookie_key_file" in said[0] and "mode 0644" in said[0], said
    assert "x" * 10 not in said[0]  # never the key itself
    caplog.clear()
    os.chmod(key_file, 0o400)
    with caplog.at_level(logging.WARNING, logger="killswitch.face.api.signin"):
        parse_oidc_config(config(key_file=key_file))
    assert not [r for r in caplog.records if "SECRET_FILE_READABLE" in r.getMessage()]


@pytest.mark.parametrize("changes, says", [
    ({"isuer": "x"}, "unknown key 'isuer' (did you mean 'issuer'?)"),
    ({"issuer": "http://login.desk.example"}, "issuer: 'http://login.desk.example' is plain http"),
    ({"external_url": "https://k.example/?a=1"}, "external_url: 'https://k.example/?a=1' must not carry a query"),
    ({"client_secret": "literal"}, "client_secret: give it as a reference"),
    ({"client_secret": {"env": "NOT_SET_ANYWHERE_61"}}, "the environment variable NOT_SET_ANYWHERE_61 is not set"),
    ({"session_lifetime": "30d"}, "session_lifetime: 2592000s is outside 5m to 7d"),
    ({"client_id": None}, "client_id: missing"),
    ({"kind": "Oidc"}, "expected apiVersion killswitch/v1 and kind OidcSignin"),
])
def test_a_bad_configuration_names_its_key(key_file, changes, says):
    with pytest.raises(SigninConfigError) as e:
        parse_oidc_config(config(key_file=key_file, **changes), "oidc.yaml")
    assert says in str(e.value) and str(e.value).startswith("oidc.yaml: ")


def test_a_short_or_missing_cookie_key_is_refused(tmp_path):
    short = tmp_path / "short.key"
    short.write_text("tooshort")
    with pytest.raises(SigninConfigError, match=r"cookie_key_file: .* holds 8 bytes; at least 32"):
        parse_oidc_config(config(key_file=str(short)))
    with pytest.raises(SigninConfigError, match=r"cookie_key_file: .* cannot be read"):
        parse_oidc_config(config(key_file=str(tmp_path / "none")))


def test_a_loopback_provider_may_be_plain_http(key_file):
    assert parse_oidc_config(config(key_file=key_file, issuer="http://127.0.0.1:9400")).issuer == \
        "http://127.0.0.1:9400"


def test_a_key_the_provider_rotated_in_is_read_again_once_then_not_before_a_minute(key_file):
    import asyncio

    from killswitch.face.api.signin.provider import Metadata, Provider

    served = [{"keys": [OLD_KEY.as_dict(private=False)]}]
    reads = []
    clock = [1000.0]
    keys = ProviderKeys(lambda: reads.append(1) or served[0], lambda: clock[0])
    keys.load()
    cfg = parse_oidc_config(config(key_file=key_file))
    provider = Provider(cfg, Metadata(ISSUER, "https://a", "https://t", "https://j", ("RS256",)), keys)
    fresh = token(iat=int(time.time()) - 5, exp=int(time.time()) + 300)  # signed by "current", not served yet
    with pytest.raises(IdTokenRefused, match="ID_TOKEN_SIGNATURE"):  # within the minute: not read again
        asyncio.run(provider.check(fresh, NONCE))
    assert len(reads) == 1
    served[0] = {"keys": [PROVIDER_KEY.as_dict(private=False)]}  # the provider rotated its key in
    clock[0] += 61
    assert asyncio.run(provider.check(fresh, NONCE))["sub"] == "u-1001"
    assert len(reads) == 2
