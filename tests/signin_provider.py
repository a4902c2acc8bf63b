"""A real OpenID provider for the sign-in tests: ``oidc-provider-mock`` (the ``test`` extra) served
on 127.0.0.1 from a thread of the test, with the runner's sign-in configured against it.

The provider's authorization page lets whoever is at it name the subject that signs in (a text
field and a button per known user); the claims of a subject are what the test stored for it
(``PUT /users/<sub>``: ``email``, ``groups`` ...). It signs ID tokens with an RSA key of its own,
served at its ``jwks_uri``; it serves plain http, which the runner's configuration takes on a
loopback address only. :func:`sign_in` walks the flow as a browser would, without a browser: the
runner's ``/v1/auth/login``, the provider's form posted, the runner's callback; the cookies are
carried by hand (a ``Secure`` cookie is one ``requests`` keeps to https).
"""

from __future__ import annotations

import os
import secrets
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import urljoin

import pytest

from killswitch.face.api.signin import OidcConfig, Signin, load_oidc_config, make_signin

from .conftest import require_module
from .procs import free_port

__all__ = ["CLIENT_ID", "MockProvider", "free_port", "mock_provider", "provider", "sign_in", "signin_for",
           "write_config"]

CLIENT_ID = "killswitch-console"


class MockProvider:
    def __init__(self, issuer: str):
        self.issuer = issuer

    def user(self, sub: str, **claims: Any) -> None:
        """What the provider says of ``sub`` from now on (its ID token's claims)."""
        import requests

        r = requests.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10)
        assert r.status_code == 204, (r.status_code, r.text)


@contextmanager
def mock_provider() -> Iterator[MockProvider]:
    """The provider on a free 127.0.0.1 port, stopped at the end."""
    require_module("oidc_provider_mock")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the provider's own check: it serves http on 127.0.0.1
    import werkzeug.serving
    from oidc_provider_mock import app

    server = werkzeug.serving.make_server("127.0.0.1", 0, app(require_nonce=True), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="oidc-provider",
                              daemon=True)
    thread.start()
    try:
        yield MockProvider(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def write_config(where: Path, issuer: str, external_url: str, **extra: Any) -> Path:
    """An ``--oidc-config`` file (and its cookie key and client secret files) under ``where``."""
    key = where / "cookie.key"
    key.write_text(secrets.token_urlsafe(48))
    secret = where / "client.secret"
    secret.write_text("the-console-client-secret\n")
    lines = ["apiVersion: killswitch/v1", "kind: OidcSignin", f"issuer: {issuer}", f"client_id: {CLIENT_ID}",
             f"client_secret: {{file: {secret}}}", f"external_url: {external_url}", f"cookie_key_file: {key}",
             "scopes: [openid, email, profile]"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    path = where / "oidc.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def signin_for(where: Path, issuer: str, external_url: str, **extra: Any) -> Signin:
    """The runner's sign-in against ``issuer``, discovered now."""
    config: OidcConfig = load_oidc_config(write_config(where, issuer, external_url, **extra))
    return make_signin(config)


def _cookie(response: Any, name: str) -> Optional[str]:
    for line in response.raw.headers.getlist("Set-Cookie"):
        key, _, rest = line.partition("=")
        if key == name:
            value = rest.split(";", 1)[0]
            return value or None
    return None


def sign_in(runner_url: str, sub: str) -> tuple[Optional[str], str]:
    """Sign in at the runner as ``sub`` (the provider's form posted as a person would): the
    session cookie's value (None when refused) and where the callback sent the browser."""
    import requests

    login = requests.get(f"{runner_url}/v1/auth/login", allow_redirects=False, timeout=10)
    assert login.status_code == 302, (login.status_code, login.text)
    flow = _cookie(login, "__Host-ks_signin")
    assert flow, login.headers
    form = requests.post(login.headers["Location"], data={"sub": sub}, allow_redirects=False, timeout=10)
    assert form.status_code == 302, (form.status_code, form.text[:500])
    back = form.headers["Location"]
    assert back.startswith(f"{runner_url}/v1/auth/callback?"), back
    done = requests.get(back, headers={"Cookie": f"__Host-ks_signin={flow}"}, allow_redirects=False, timeout=10)
    assert done.status_code == 303, (done.status_code, done.text)
    return _cookie(done, "__Host-ks_session"), urljoin(runner_url, done.headers["Location"])


@pytest.fixture
def provider() -> Iterator[MockProvider]:
    with mock_provider() as p:
        yield p
