"""``ksctl run``'s start: the graph it runs and the API it serves, before any task starts.

What it owns: :func:`graph_to_run` — the compiled policies, or when they have errors (or, with
``--strict``, select none of the runner's accounts: :func:`unmatched_here`) the last good graph
from the state, said loudly, the runner never left unguarded by a broken policy; and
:func:`start_api` — the HTTP API on a thread of its own, its identities said by name only (the
shared token taken as :mod:`.shared` says, beside a tokens document only when asked for), its
tokens scrubbed from the log by value, over TLS when a web config file is given (refused, and
nothing served, when its certificate or key cannot be served: never plain HTTP instead; an
address it cannot listen on, a port in use, is said as the operator's to change: exit 2), with
the trusted-proxy mode when a proxy's document is given (:func:`load_proxy`, :func:`trusted_proxy`);
:func:`venues_and_sinks` — the accounts' adapters and the runner's sinks, the sinks built on a
thread while the reader processes start.

Must not: tick, take the lease or start a task (the daemon does: :mod:`killswitch.process.daemon`).
"""

from __future__ import annotations

import asyncio
import errno
import os
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from ..compile.compiler import CompileResult, compile_documents
from ..engine.columns import load_arrays
from ..face.api.admission import Admission
from ..policy.accounts_doc import Account
from ..policy.load import load_sources
from ..sources import revision_text
from ..zones import zone, zone_known
from .bootstrap import Adapters, SinkOptions, runner_sinks, venue_adapters
from .shared import beside_warning, shared_token_of

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..audit.siem.shipper import AuditSinks
    from ..events import Sink
    from ..face.api.proxy import ProxyConfig
    from ..face.api.tls.context import LiveTls
    from ..face.desk.desk import Desk
    from ..state.store import StateStore


def unmatched_here(result: CompileResult, accounts: Sequence[Account]) -> list[str]:
    """``--strict``: the policies of ``result`` whose scope selects none of the runner's own
    ``accounts`` (an ``allow_empty: true`` aside), each as a line saying so. The compiler checks
    the declared accounts (KS218); a runner may run a part of them."""
    from ..compile.scope_check import unmatched, written
    from ..policy.policy_doc import Policy

    out = []
    for doc in result.docs:
        model = doc.model
        if isinstance(model, Policy) and not model.spec.scope.allow_empty \
                and unmatched(model.spec.scope, accounts) is not None:
            out.append(f"{doc.file}: POLICY_UNMATCHED: policy {model.metadata.name}: its scope "
                       f"({written(model.spec.scope)}) selects none of this runner's {len(accounts)} account(s)")
    return out


def first_error(result: CompileResult) -> str:
    """The first finding of ``result`` as the log, the status and the page say it, with how many
    there are, and its hint (what to write instead: a close match, the names known) on a line
    of its own, as ``ksctl validate`` says it."""
    first = result.errors[0]
    hint = f"\n  hint: {first.hint}" if first.hint else ""
    return f"{first.location()}: error[{first.code}]: {first.message} ({len(result.errors)} error(s)){hint}"


def graph_to_run(result: CompileResult, store: "StateStore", strict: bool, declared: Optional[Sequence[Account]],
                 err: Callable[[str], None],
                 ) -> "tuple[CompileResult, Optional[str], Optional[list[tuple[str, str]]]] | int":
    """The compiled policies, or — when they have errors (or select none of this runner's
    accounts under ``--strict``) — the last good graph from the state, said loudly, with the
    failure and the last good sources it was compiled from (None: the policies compiled); an
    exit code when there is none."""
    refused = unmatched_here(result, declared or ()) if strict and result.graph is not None else []
    if result.graph is not None and not refused:
        return result, None, None
    # A broken policy must not leave the book unguarded, also across a restart (a pod
    # rolled by the policy change itself): run the last graph that compiled and ran,
    # loudly, until the files are fixed (they are watched as usual).
    for d in result.errors:
        err(f"{d.location()}: error[{d.code}]: {d.message}")
    for line in refused:
        err(f"{line} (--strict)")
    policy_error = first_error(result) if result.errors else f"{refused[0]} (--strict)"
    bundle = store.policy_bundle()
    fallback = compile_documents(load_sources(bundle.sources), bundle.revision,
                                 zone_known=zone_known, zones=zone) if bundle else None
    if fallback is None or fallback.graph is None:
        err("ksctl run: the policies have errors and the state holds no last good policies; nothing started")
        store.close()
        return 1
    revision = revision_text(bundle.revision if bundle else None)
    err(f"ksctl run: THE POLICIES HAVE ERRORS: running the last good graph {fallback.graph.short_digest} "
        f"(revision {revision}) from the state until they are fixed")
    assert bundle is not None  # (the fallback was compiled from it)
    return fallback, policy_error, list(bundle.sources)


async def venues_and_sinks(opts: Any, accounts: Sequence[Account], result: CompileResult, store: "StateStore",
                           echo: Callable[[str], None], err: Callable[[str], None], warn: Callable[[str], None]
                           ) -> Optional[tuple[Adapters, Any, list["Sink"]]]:
    """The accounts' adapters with their reader pool (:func:`~.bootstrap.venue_adapters`) and the
    runner's sinks (:func:`~.bootstrap.runner_sinks`, the runner's numpy imported with them:
    :func:`~killswitch.engine.columns.load_arrays`). The sinks are built on a thread while the
    readers start (each a fresh interpreter that imports ccxt, a second or so): the start waits
    for the longer of the two, not their sum. None, said, when the readers do not start: the
    sinks built by then are closed, never started."""
    def build_sinks() -> list["Sink"]:
        load_arrays()
        return runner_sinks(result, store, SinkOptions(
            policies=opts.policies, runbooks=opts.runbooks, external_url=opts.external_url or None,
            audit_anchor_every_ms=opts.audit_anchor_every_ms), echo=echo, err=err, warn=warn)

    building = asyncio.ensure_future(asyncio.to_thread(build_sinks))
    built, pool = await venue_adapters(accounts, opts.readers, err)
    sinks = await building
    if built is None:
        for sink in sinks:
            try:
                await sink.aclose()
            except Exception:  # noqa: BLE001 - closing is best effort: the start has failed already
                pass
        return None
    return built, pool, sinks


def load_tls(path: str, echo: Callable[[str], None], err: Callable[[str], None]) -> "Optional[LiveTls]":
    """The API's TLS from the web config file at ``path`` (``--web-config-file``), read before
    anything starts; None when it cannot be served (said: the file and what is wrong)."""
    from ..face.api.tls.context import LiveTls
    from ..face.api.tls.webconfig import WebConfigError

    tls = LiveTls(path, echo=echo, err=err)
    try:
        config = tls.load()
    except WebConfigError as e:
        err(f"ksctl run: WEB_CONFIG_INVALID: {e}; nothing started (never plain HTTP in its place)")
        return None
    echo(f"ksctl run: {config.describe()} (--web-config-file {path}, read again on change)")
    return tls


def load_proxy(path: str, tls: "Optional[LiveTls]", tokens: Any, echo: Callable[[str], None],
               err: Callable[[str], None], warn: Callable[[str], None]) -> "Optional[ProxyConfig]":
    """The trusted proxy's document at ``path`` (``--trusted-proxy``), read before anything
    starts; None when it cannot be used (said). A proxy trusted by its client certificate needs
    the web config file's client CA: without one no certificate is verified, and none could
    match."""
    from ..face.api.proxy import ProxyConfigError, load_proxy_config

    try:
        config = load_proxy_config(path)
    except ProxyConfigError as e:
        err(f"ksctl run: TRUSTED_PROXY_INVALID: {e}; nothing started")
        return None
    ca = tls.config.client_ca_file if tls is not None and tls.config is not None else None
    if config.client_cert is not None and ca is None:
        err(f"ksctl run: TRUSTED_PROXY_INVALID: {path}: client_cert needs --web-config-file with a client_ca_file "
            "(the proxy's certificate is verified by it); nothing started")
        return None
    echo(f"ksctl run: {config.describe()} (--trusted-proxy {path})")
    if tokens is None or not tokens.groups:
        warn("ksctl run: --trusted-proxy without groups in the tokens document (--api-tokens): every person the "
             "proxy names is refused PROXY_GROUPS_UNMAPPED")
    return config


def load_signin(path: str, echo: Callable[[str], None], err: Callable[[str], None]) -> Optional[Any]:
    """The console's single sign-on from the file at ``path`` (``--oidc-config``), its provider
    discovered and its keys read before anything starts; None when it cannot be used (said: the
    file and the key, or the provider and why)."""
    from ..face.api.signin import ProviderError, SigninConfigError, load_oidc_config, make_signin
    from ..logs import scrub_also

    try:
        config = load_oidc_config(path)
    except SigninConfigError as e:
        err(f"ksctl run: OIDC_CONFIG_INVALID: {e}; nothing started")
        return None
    if config.client_secret is not None:
        scrub_also([config.client_secret.reveal().decode("utf-8", "replace")])
    try:
        signin = make_signin(config)
    except ProviderError as e:
        err(f"ksctl run: OIDC_PROVIDER_UNUSABLE: {path}: issuer {config.issuer}: {e}; nothing started")
        return None
    echo(f"ksctl run: {config.describe()} (--oidc-config {path})")
    return signin


def attach_signin(signin: Any, store: Any, echo: Callable[[str], None], err: Callable[[str], None]) -> bool:
    """The sign-in's sign-outs and names kept in the state store, on a connection of its own
    (:meth:`~killswitch.face.api.signin.flow.Signin.attach`); False when the store cannot give
    one or be read (said), which stops the start: a sign-out must hold across replicas. True
    without a sign-in (None)."""
    from ..state.store import StoreError

    if signin is None:
        return True
    try:
        own = store.reopen()
    except NotImplementedError:  # an in-memory store: one process, its memory is the store
        echo("ksctl run: sign-outs are kept in this process's memory (an in-memory state store)")
        return True
    except StoreError as e:
        err(f"ksctl run: SIGNIN_STORE: no connection to the state store for the sign-in ({e}); nothing started")
        return False
    try:
        signin.attach(own)
    except StoreError as e:
        own.close()
        err(f"ksctl run: SIGNIN_STORE: the sessions signed out cannot be read from the state store ({e}); "
            "nothing started")
        return False
    echo("ksctl run: sign-outs and the names' subjects are kept in the state store (read again every 2s)")
    return True


def listen_problem(host: str, port: int, e: OSError) -> str:
    """Why the API cannot listen on ``host:port`` (``e``: what binding it raised), and what to do."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if e.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: address already in use (another process, or a connection still "
                "closing): pick another --api-port")
    why = (e.strerror or str(e)).lower()
    return f"cannot listen on {where}: {why}: pick another --api-host or --api-port"


async def start_api(desk: "Desk", opts: Any, tokens: Any, reloader: Any, echo: Callable[[str], None],
                    err: Callable[[str], None], tls: "Optional[LiveTls]" = None,
                    refusal: Optional[Callable[[], Optional[str]]] = None,
                    proxy_config: "Optional[ProxyConfig]" = None, signin: Optional[Any] = None,
                    warn: Optional[Callable[[str], None]] = None) -> Optional[Any]:
    """The HTTP API over the runner's ``desk`` (:mod:`killswitch.face.desk.desk`) on threads of its
    own, the bots' connections on one of their own (``opts``: the daemon's
    :class:`~killswitch.process.options.RunOptions`; ``tokens``: the tokens document read at start;
    ``reloader``: what follows it; ``tls``: :func:`load_tls`'s, https on one loop; ``proxy_config``:
    :func:`load_proxy`'s; ``signin``: :func:`load_signin`'s, shared by both loops; ``warn``: the
    WARNING lines about the shared token, :mod:`.shared`); None when it is refused (said; the
    caller closes the runner)."""
    from ..face.api.api import make_app
    from ..face.api.identity import TokensError
    from ..logs import scrub_also

    shared = shared_token_of(opts, tokens)
    if shared.problem:
        err(f"ksctl run: {shared.problem}; nothing started")
        return None
    token = shared.token
    # the log scrubs them by value too (a variable not named *TOKEN* would otherwise pass), the
    # variable's too when it is not taken
    scrub_also([token or "", os.environ.get(opts.api_token_env) or "", *(tokens.digests() if tokens else ())])
    if shared.ignored:
        (warn or err)(shared.ignored)
    admission = Admission(opts.api_limits)  # on the API's thread; its counters on /metrics
    desk.add_metrics(admission)
    proxy = trusted_proxy(desk, proxy_config, opts.external_url)
    try:
        from ..face.api.access import shared_token
        from ..face.api.identity import LiveTokens, Tokens

        live = reloader.serve(LiveTokens(tokens or Tokens(), shared_token(token or None), shared.source))
        def make() -> Any:
            return make_app(desk, tokens=live, console_public=opts.console_public, admission=admission,
                            refusal=refusal, proxy=proxy, signin=signin)

        app = make()
        # the same application for the bots' loop: its handlers are its loop's, the identities
        # and the admission of writes the ones above (see face/api/thread.py); over TLS the
        # first bytes cannot be looked into and one loop serves every connection
        gate = make() if tls is None else None
    except (TokensError, ValueError) as e:
        err(f"ksctl run: {e}; nothing started")
        return None
    who = [i.name for i in (tokens.identities if tokens else ())] + (["shared-token"] if token else [])
    if token and tokens is not None:  # a conscious choice: said with the roles it carries
        from ..face.api.identity import SHARED_IDENTITY

        (warn or err)(beside_warning(shared.source, next(i for i in live.current.identities
                                                         if i.name == SHARED_IDENTITY)))
    if not who:
        closed = "" if opts.console_public else (
            "; without --console-public the status, runbooks, closes' progress and console are shown to "
            "no one")
        err(f"ksctl run: neither --api-token-file, {opts.api_token_env} nor --api-tokens is set: the API's mutating "
            f"endpoints are disabled{closed}")
    else:  # names only: a token is never printed
        echo(f"ksctl run: API identities: {', '.join(who)}")
    # Served from threads of their own: requests never wait for a tick or a store write to be
    # parsed, every view call comes back to this loop, and the bots' connections are served on a
    # loop of their own, where no status read is answered before a check (see face/api/thread.py).
    from ..face.api.thread import ApiThread

    desk.serve_views_on(asyncio.get_running_loop())
    from ..face.api.tls.context import TlsMetrics

    desk.add_metrics(TlsMetrics(tls))  # its reloads and failed handshakes (declared without TLS too)
    api = ApiThread(app, opts.api_host, opts.api_port or 0, gate=gate, tls=tls)
    try:
        url = await api.start()
    except OSError as e:  # the port taken, an address not this machine's: the operator's to change, not a bug
        err(f"ksctl run: {listen_problem(opts.api_host, opts.api_port or 0, e)}")
        return None
    echo(f"ksctl run: API at {url}")
    shown_to = "anyone (read-only without a token)" if opts.console_public else "a token's holder" + (
        " or a person signed in (/v1/auth/login)" if signin is not None else "")
    echo(f"ksctl run: console at {url}/ for {shown_to}")
    return api


def trusted_proxy(desk: "Desk", config: "Optional[ProxyConfig]", external_url: Optional[str]) -> Any:
    """The trusted-proxy mode over ``desk`` (None without ``config``), its refusals audited through
    the desk on the runner's loop and counted on ``/metrics`` (declared either way)."""
    from ..face.api.handlers import call_view
    from ..face.api.proxy import ProxyMetrics, TrustedProxy

    proxy = None if config is None else TrustedProxy(
        config, audit=lambda row: call_view(desk.audit_api_refusal, row),
        external_urls=(external_url,) if external_url else ())
    desk.add_metrics(ProxyMetrics(proxy))
    return proxy


def audit_sinks(opts: Any, store: Any, leading: Callable[[], Optional[int]], echo: Callable[[str], None],
                err: Callable[[str], None]) -> "tuple[bool, Optional[AuditSinks]]":
    """``--audit-sink``'s shippers (not started), each on a store connection of its own: (True,
    None) without a sink; (False, None) when one cannot be made (said: a CA or client certificate
    that cannot be read, a store that gives no second connection), which stops the start."""
    if not opts.audit_sinks:
        return True, None
    from ..audit.siem.shipper import AuditSinks, SinkShipper
    from ..audit.siem.targets import SinkUrlError, parse_targets
    from ..audit.siem.transport import transport_for
    from ..state.store import StoreError

    shippers: list[SinkShipper] = []
    try:
        for target in parse_targets(opts.audit_sinks):
            transport = transport_for(target)  # reads the TLS files now
            shippers.append(SinkShipper(target, store.reopen(), leading, err, echo, transport=transport))
    except (SinkUrlError, OSError, StoreError, NotImplementedError) as e:
        for s in shippers:
            s.store.close()
        what = "an in-memory store has no second connection" if isinstance(e, NotImplementedError) else \
            f"{type(e).__name__}: {e}" if not isinstance(e, OSError) else f"a file cannot be read ({e.strerror})"
        err(f"ksctl run: AUDIT_SINK_INVALID: {what}; nothing started")
        return False, None
    for s in shippers:
        echo(f"ksctl run: audit sink {s.target.describe()}")
    if opts.audit_sink_required:
        echo("ksctl run: operator writes that add risk (unlock, reset, override, restore, silence, ...) are refused "
             "(503 AUDIT_SINK_DOWN) while no audit sink takes rows; a halt, lock, cancel, close, kill or revoke "
             "never is: applied, kept in the local audit chain and shipped when a sink answers")
    return True, AuditSinks(shippers, opts.audit_sink_required)
