"""The sign-in flow's endpoints, and the session cookie as a way into the API.

``GET /v1/auth/login`` sends the person to the provider (PKCE S256, a fresh ``state`` and
``nonce`` kept with the verifier in the sign-in cookie), ``GET /v1/auth/callback`` takes them
back (the ID token checked by :mod:`.provider`; the session cookie set) and ``POST
/v1/auth/logout`` ends the session (its id kept as ended, :class:`.session.EndedSessions`, and in
the state store once :meth:`Signin.attach` gives one: every replica reads them every
:data:`FOLLOW_S`). What each answers, refuses and audits is docs/api.md's (*Single sign-on*).

:meth:`Signin.identify` is the third way into the API after a bearer token and a client
certificate (:func:`killswitch.face.api.access.authenticate`, which asks it only when neither
is sent, so a bearer header wins over a cookie): the session cookie checked
(:mod:`.session`), the person's roles worked out again from the tokens document in force
(:meth:`~killswitch.face.api.identity.Tokens.person`: a group removed there, or a session ended
or expired, takes effect on the next request), and every request but a read checked to come from
the console's own origin (:func:`killswitch.face.api.origin.check_same_origin`).

Must not: log a code, a token or a cookie; put anything but a code in the redirect's fragment;
take a session without its mac checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Optional

from aiohttp import web

from ...request import ApiError
from ..identity import Identity, Tokens
from ..origin import check_same_origin
from .config import OidcConfig
from .provider import IdTokenRefused, Provider, ProviderError
from .session import (
    FLOW_COOKIE,
    SESSION_COOKIE,
    CookieRefused,
    EndedSessions,
    Session,
    Signer,
    Subjects,
    cookie_header,
    cookie_value,
    new_session,
)

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..identity import LiveTokens

log = logging.getLogger("killswitch.face.api.signin")

FLOW_S = 600  # a sign-in started more than this ago is refused at its callback
FOLLOW_S = 2.0  # how often the sessions signed out are read again from the state store
READS = ("GET", "HEAD", "OPTIONS")


class Refused(Exception):
    """A sign-in refused at its callback: ``code`` for the page, ``why`` for the log."""

    def __init__(self, code: str, why: str):
        super().__init__(f"{code}: {why}")
        self.code = code
        self.why = why


class Signin:
    """The sign-in of one runner (see the module doc). ``tokens``: the identities in force (their
    ``groups`` map a person's groups to roles), set by :func:`killswitch.face.api.api.make_app`."""

    def __init__(self, config: OidcConfig, provider: Provider, clock: Callable[[], float] = time.time):
        self.config = config
        self.provider = provider
        self.clock = clock
        self.signer = Signer(config.cookie_key.reveal())
        self.ended = EndedSessions()
        self.subjects = Subjects()
        self.tokens: Optional["LiveTokens"] = None
        self.store: Optional[Any] = None  # the state store (a connection of its own): sign-outs, names
        # how a sign-in and a sign-out are audited (console_signin, console_signout): make_app sets it
        self.audit: Optional[Callable[[str, dict], Awaitable[None]]] = None
        self._stop = threading.Event()
        self._follower: Optional[threading.Thread] = None
        self._failing = False

    def attach(self, store: Any) -> None:
        """Keep sign-outs and the names' subjects in ``store`` (a connection of the sign-in's own,
        closed by :meth:`close`): the sessions signed out are read now (blocking: at start) and
        again every :data:`FOLLOW_S` on a thread, so one signed out at another replica, or before
        a restart or a takeover, is refused here too. Raises the store's error when it cannot be
        read now."""
        self.ended.merge(store.ended_sessions(int(self.clock())), self.clock())
        self.store = store
        self._follower = threading.Thread(target=self._follow, name="signin-signouts", daemon=True)
        self._follower.start()

    def _follow(self) -> None:
        while not self._stop.wait(FOLLOW_S):
            try:
                assert self.store is not None
                self.ended.merge(self.store.ended_sessions(int(self.clock())), self.clock())
            except Exception as e:  # noqa: BLE001 - a store that fails: said once, tried again
                if not self._failing:
                    log.error("SIGNOUTS_UNREAD: the sessions signed out cannot be read from the state store (%s); "
                              "those signed out here are still refused", type(e).__name__)
                self._failing = True
            else:
                if self._failing:
                    log.info("SIGNOUTS_READ: the sessions signed out are read from the state store again")
                self._failing = False

    def close(self) -> None:
        """Stop following the state store and close the sign-in's connection to it."""
        self._stop.set()
        if self._follower is not None:
            self._follower.join(FOLLOW_S + 5)
        if self.store is not None:
            self.store.close()
            self.store = None

    def __repr__(self) -> str:
        return f"Signin({self.config.issuer})"

    # --- the session cookie as a way in -----------------------------------------------------------

    def session(self, request: web.Request) -> Optional[Session]:
        """The request's session, checked; None without a session cookie; raises :class:`ApiError`."""
        try:
            value = cookie_value(request.headers, SESSION_COOKIE)
            if value is None:
                return None
            session = Session.of(self.signer.open("session", value, self.clock()))
        except CookieRefused as e:
            raise ApiError(401, e.code, e.reason) from None
        if session.sid in self.ended:
            raise ApiError(401, "SESSION_ENDED", "this session was signed out: sign in again")
        return session

    def identify(self, request: web.Request, tokens: Tokens) -> Optional[Identity]:
        """The signed-in person with the roles their groups map to now; None without a session
        cookie; raises :class:`ApiError` (see the module doc)."""
        session = self.session(request)
        if session is None:
            return None
        identity = tokens.person(session.name, session.groups)
        if identity is None:
            raise ApiError(403, "NO_ROLE", f"none of {session.name}'s groups maps to a role in the tokens document "
                                           "now")
        if request.method not in READS:
            check_same_origin(request, (self.config.external_url,))
        return identity

    # --- the endpoints ------------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        from authlib.common.security import generate_token
        from authlib.common.urls import add_params_to_uri
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        if request.query:
            raise ApiError(400, "BAD_REQUEST", "the sign-in takes no query parameter")
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        cfg = self.config
        url = add_params_to_uri(self.provider.metadata.authorization_endpoint, [
            ("response_type", "code"), ("client_id", cfg.client_id), ("redirect_uri", cfg.redirect_uri),
            ("scope", " ".join(cfg.scopes)), ("state", state), ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(verifier)), ("code_challenge_method", "S256")])
        flow = self.signer.sign("signin", {"state": state, "nonce": nonce, "verifier": verifier,
                                           "exp": int(self.clock()) + FLOW_S})
        response = web.Response(status=302, headers={"Location": url})
        response.headers.add("Set-Cookie", cookie_header(FLOW_COOKIE, flow, FLOW_S, "Lax"))
        return response

    async def callback(self, request: web.Request) -> web.Response:
        try:
            session = await self._signed_in(request)
        except Refused as e:
            log.warning("sign-in refused: %s: %s", e.code, e.why)
            response = web.Response(status=303, headers={"Location": f"/#signin-refused={e.code}"})
        else:
            log.info("signed in: %s (subject %s, groups %s), session until %s", session.name, session.sub,
                     ", ".join(session.groups), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(session.exp)))
            await self._audit("console_signin", session, groups=list(session.groups), until_ms=session.exp * 1000)
            response = web.Response(status=303, headers={"Location": "/"})
            response.headers.add("Set-Cookie", cookie_header(SESSION_COOKIE, self.signer.sign("session",
                                                             session.payload()), self.config.session_lifetime_s,
                                                             "Strict"))
        response.headers.add("Set-Cookie", cookie_header(FLOW_COOKIE, "", 0, "Lax"))
        return response

    async def _signed_in(self, request: web.Request) -> Session:
        q = request.query
        try:
            flow_value = cookie_value(request.headers, FLOW_COOKIE)
            flow = self.signer.open("signin", flow_value, self.clock()) if flow_value else None
        except CookieRefused as e:
            raise Refused("SIGNIN_STATE", f"the sign-in cookie is refused ({e.code})") from None
        if flow is None:
            raise Refused("SIGNIN_STATE", "no sign-in cookie: the sign-in was started elsewhere or too long ago")
        sent = q.get("state", "")
        state, nonce, verifier = (flow.get(k) for k in ("state", "nonce", "verifier"))
        if not (isinstance(state, str) and isinstance(nonce, str) and isinstance(verifier, str)) \
                or not hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), state.encode("ascii")):
            raise Refused("SIGNIN_STATE", "the state is not the one this sign-in sent")
        if "error" in q:
            raise Refused("SIGNIN_DENIED", f"the provider answered {q.get('error', '')[:64]!r}")
        code = q.get("code", "")
        if not code:
            raise Refused("SIGNIN_STATE", "the provider's redirect carries no code")
        try:
            id_token = await self.provider.exchange(code, verifier)
            claims = await self.provider.check(id_token, nonce)
        except ProviderError as e:
            raise Refused("SIGNIN_PROVIDER", str(e)) from None
        except IdTokenRefused as e:
            code, _, why = str(e).partition(": ")
            raise Refused(code, why) from None
        session = self._session_of(claims)
        if self.store is not None:  # the store's binding decides, at every replica and for good
            try:
                why = await asyncio.to_thread(self.store.bind_subject, session.sub, session.name,
                                              int(self.clock() * 1000))
            except Exception as e:  # noqa: BLE001 - no binding, no session: fail closed
                raise Refused("SIGNIN_STORE", f"the state store cannot bind {session.name} to its subject "
                                              f"({type(e).__name__})") from None
            if why is not None:
                raise Refused("SIGNIN_NAME_TAKEN", why)
        return session

    def _session_of(self, claims: dict) -> Session:
        cfg = self.config
        sub = claims["sub"]
        name = next((claims[c] for c in cfg.name_claims if isinstance(claims.get(c), str) and claims[c]), None)
        if name is None:
            raise Refused("SIGNIN_NO_NAME",
                          f"the ID token of subject {sub} has no {' or '.join(cfg.name_claims)} claim")
        raw = claims.get(cfg.groups_claim, [])
        groups = [raw] if isinstance(raw, str) else [g for g in raw if isinstance(g, str)] \
            if isinstance(raw, list) else []
        tokens = self.tokens.current if self.tokens is not None else Tokens()
        identity = tokens.person(name, groups)
        if identity is None:
            raise Refused("SIGNIN_NO_ROLE", f"{name[:100]!r} (subject {sub}) is in no group the tokens document maps "
                                            f"to a role, or the name is not a valid identity (groups: "
                                            f"{', '.join(repr(g[:64]) for g in groups[:20]) or 'none'})")
        why = self.subjects.bind(sub, identity.name)
        if why is not None:
            raise Refused("SIGNIN_NAME_TAKEN", why)
        mapped = tuple(g for g in dict.fromkeys(groups) if g in tokens.groups)
        return new_session(sub, identity.name, mapped, self.clock(), cfg.session_lifetime_s)

    async def _audit(self, kind: str, session: Session, **more: Any) -> None:
        """An audit row naming the person, their subject and the session (a digest of its id: the
        row never holds what a cookie is made of); one that cannot be written is said at ERROR."""
        if self.audit is None:
            return
        ref = hashlib.sha256(session.sid.encode("ascii")).hexdigest()[:16]
        try:
            await self.audit(kind, {"by": session.name, "sub": session.sub, "session": ref, **more})
        except Exception as e:  # noqa: BLE001 - the sign-in stands; the log says it
            log.error("SIGNIN_NOT_AUDITED: %s of %s (%s)", kind, session.name, type(e).__name__)

    async def logout(self, request: web.Request) -> web.Response:
        check_same_origin(request, (self.config.external_url,))
        try:
            session = self.session(request)
        except ApiError:
            session = None  # not signed in, or no longer: the cookie is cleared all the same
        if session is not None:
            self.ended.end(session.sid, session.exp, self.clock())
            log.info("signed out: %s (subject %s)", session.name, session.sub)
            await self._audit("console_signout", session)
            if self.store is not None:
                try:
                    await asyncio.to_thread(self.store.end_session, session.sid, session.name, session.exp,
                                            int(self.clock() * 1000))
                except Exception as e:  # noqa: BLE001 - ended here all the same; said
                    log.error("SIGNOUT_NOT_STORED: %s's session is ended at this runner only: the state store did "
                              "not take it (%s)", session.name, type(e).__name__)
        response = web.json_response({"done": session is not None,
                                      "reason": "SIGNED_OUT" if session is not None else "NOT_SIGNED_IN"})
        response.headers.add("Set-Cookie", cookie_header(SESSION_COOKIE, "", 0, "Strict"))
        return response


def make_signin(config: OidcConfig) -> Signin:
    """Discover the provider and read its keys now (blocking); raises
    :class:`~.provider.ProviderError`."""
    return Signin(config, Provider.start(config))


__all__ = ["Signin", "make_signin"]
