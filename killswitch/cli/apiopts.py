"""The options of the commands that drive a running runner through its API (``ksctl status``,
``reset``, ``close``, ``lock``, ``unlock``, ``heartbeat``, ``dms``): where the runner is, which
environment variable holds the token, the client built from them, and how a change's answer and an
unreachable runner end a command.

Exit codes, the same in every command that talks to a runner: 0 a change done, 1 refused (the
reason is printed), 2 usage (a change with no token set: it is never sent without one; a call the
runner answers 401, no token or a wrong one: the message says which variable to set), 5 the runner
not reachable (no answer: nothing was sent).

A read that shows the book (``ksctl status``) sends the token of ``--token-env`` when that variable
is set and none when it is not: a runner with ``--console-public`` answers it without one.

An ``https`` runner (``ksctl run --web-config-file``) is verified against ``--ca-file``
(``KS_API_CA_FILE``; else the system's CAs); ``--cert-file`` and ``--key-file``
(``KS_API_CERT_FILE``, ``KS_API_KEY_FILE``) are the client certificate of mutual TLS.

Must not: print the token, or take it from anywhere but the environment variable the operator
names (a command line is visible to every user of the machine).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, NoReturn, Optional, TypeVar, Union

import click

from .common import EXIT_FINDINGS, EXIT_OK, EXIT_STORED, EXIT_UNREACHABLE, EXIT_USAGE

if TYPE_CHECKING:  # the client is imported when a command calls, not when ksctl lists its commands
    import ssl

    from ..client import RunnerClient, RunnerError, RunnerUnreachable
    from ..view import ChangeResult, OverrideResult, ResetResult, SilenceResult

T = TypeVar("T")
R = TypeVar("R")

_TLS_META = "killswitch.api_tls"  # where the TLS options wait in the context for runner_client
_TLS_OPTIONS = (
    ("--ca-file", "KS_API_CA_FILE", "ca_file", "The CA an https runner's certificate is verified by (env "
                                               "KS_API_CA_FILE; default: the system's CAs)."),
    ("--cert-file", "KS_API_CERT_FILE", "cert_file", "A client certificate (PEM) for a runner that asks one: "
                                                     "mutual TLS (env KS_API_CERT_FILE)."),
    ("--key-file", "KS_API_KEY_FILE", "key_file", "The client certificate's key (env KS_API_KEY_FILE; default: "
                                                  "in --cert-file)."),
)


def _keep_tls(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> None:
    ctx.meta.setdefault(_TLS_META, {})[param.name] = value


def tls_options(f: Callable) -> Callable:
    """The TLS options of an https runner, kept in the command's context for :func:`runner_client`
    and :func:`context_tls` (a command's function does not take them)."""
    for flag, env, name, text in reversed(_TLS_OPTIONS):
        f = click.option(flag, name, default=None, envvar=env, metavar="FILE", expose_value=False,
                         callback=_keep_tls, type=click.Path(dir_okay=False), help=text)(f)
    return f


def api_option(f: Callable) -> Callable:
    """``--api`` (env KS_API_URL) and the TLS options of an https runner (:func:`tls_options`)."""
    return click.option("--api", "api", default="http://127.0.0.1:8080", show_default=True,
                        envvar="KS_API_URL", help="The runner's API (env KS_API_URL).")(tls_options(f))


def context_tls(apis: "list[str] | tuple[str, ...]") -> "tuple[Optional[ssl.SSLContext], bool]":
    """The running command's TLS options (:func:`tls_options`) as the context ``apis`` are
    reached with, and whether a client certificate is given."""
    ctx = click.get_current_context(silent=True)
    files = ctx.meta.get(_TLS_META, {}) if ctx is not None else {}
    return client_tls(apis, **files), bool(files.get("cert_file"))


def client_tls(apis: "str | list[str] | tuple[str, ...]", ca_file: Optional[str] = None,
               cert_file: Optional[str] = None, key_file: Optional[str] = None) -> "Optional[ssl.SSLContext]":
    """The context the runners at ``apis`` are reached with: None for the defaults (http, or
    https against the system's CAs); a usage error naming the file when one cannot be used."""
    import ssl

    if not (ca_file or cert_file or key_file):
        return None
    plain = [a for a in ([apis] if isinstance(apis, str) else apis) if not a.lower().startswith("https://")]
    if plain:
        raise click.UsageError(f"--ca-file, --cert-file and --key-file are for an https runner; --api is {plain[0]}")
    if key_file and not cert_file:
        raise click.UsageError("--key-file without --cert-file: give the client certificate too")
    try:
        ctx = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as e:
        raise click.UsageError(f"--ca-file {ca_file}: cannot be used ({_why(e)})") from None
    if cert_file:
        try:
            ctx.load_cert_chain(cert_file, key_file)
        except (OSError, ssl.SSLError) as e:
            raise click.UsageError(f"--cert-file {cert_file}{f', --key-file {key_file}' if key_file else ''}: "
                                   f"cannot be used ({_why(e)})") from None
    return ctx


def _why(e: Exception) -> str:
    if getattr(e, "reason", None) == "KEY_VALUES_MISMATCH":
        return "the key is not the certificate's"
    return getattr(e, "strerror", None) or getattr(e, "reason", None) or type(e).__name__
token_option = click.option("--token-env", default="KS_API_TOKEN", show_default=True,
                            help="Environment variable holding the API bearer token (or, as <VAR>_FILE, "
                                 "naming a file that holds it).")


def runner_options(f: Callable) -> Callable:
    """:func:`api_option` and :data:`token_option`: every command that sends its token to a runner."""
    return api_option(token_option(f))


def token_from_file(token_env: str) -> Optional[str]:
    """The token in the file that the variable ``<token_env>_FILE`` names; None when it is not
    set; a usage error (exit 2) naming the variable and the path when the file cannot be used."""
    path = os.environ.get(f"{token_env}_FILE")
    if not path:
        return None
    from ..secret_file import SecretFileError, read_secret_file

    try:
        return read_secret_file(path, f"{token_env}_FILE")
    except SecretFileError as e:
        raise click.UsageError(str(e)) from None


def runner_client(api: str, token_env: Optional[str] = None, *, required: bool = True) -> "RunnerClient":
    """The client of the runner at ``api``; with ``token_env``, holding the token that variable
    names, or else the file that ``<token_env>_FILE`` names (``KS_API_TOKEN_FILE``: a mounted
    Secret, as in the chart's pods). ``required`` (a change): a usage error when it is not set and no client certificate
    is given; else (a read) the client goes without a token then, and the runner decides. The
    TLS options of :func:`api_option` come from the command's context."""
    from ..client import RunnerClient

    tls, certified = context_tls([api])
    token = None
    if token_env:
        token = os.environ.get(token_env) or token_from_file(token_env)
        # a client certificate is the caller's identity when no token is sent (mutual TLS)
        if not token and required and not certified:
            raise click.UsageError(f"{token_env} is not set: mutating calls need the API token (or, to an https "
                                   "runner that asks one, a client certificate: --cert-file)")
    return RunnerClient(api, token or None, tls=tls)


def unreachable(e: "RunnerUnreachable") -> NoReturn:
    """Say which runner could not be reached (a certificate not trusted: with the CA to pass), and
    exit 5 (EXIT_UNREACHABLE)."""
    from ..render.ops import unreachable_line

    ctx = click.get_current_context(silent=True)
    ca_file = ctx.meta.get(_TLS_META, {}).get("ca_file") if ctx is not None else None
    click.echo(unreachable_line(e, ca_file), err=True)
    raise SystemExit(EXIT_UNREACHABLE)


def refused(e: "RunnerError", answer: str, command: str = "", token_env: Optional[str] = None,
            role: str = "viewer", err: bool = False) -> NoReturn:
    """Say a call the runner refused and exit: for a 401 (no token, or one the runner does not
    know: a usage error, exit 2) first the hint on stderr (the variable to set and the ``role``
    the call needs), then ``answer`` (on stderr with ``err``), the last line as every refusal's;
    any other refusal (a role the token lacks, a reason code) ``answer`` alone, exit 1.
    ``command`` and ``token_env`` default to the running command's (its path, its ``--token-env``)."""
    from ..render.ops import auth_hint

    if e.status == 401:
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            command = command or ctx.command_path.partition(" ")[2]
            token_env = token_env or ctx.params.get("token_env")
        if token_env:
            click.echo(auth_hint(command, token_env, bool(os.environ.get(token_env)), role), err=True)
    click.echo(answer, err=err)
    raise SystemExit(EXIT_USAGE if e.status == 401 else EXIT_FINDINGS)


def answered(ask: Callable[[], T], refusal: Callable[["RunnerError"], R]) -> Union[T, R]:
    """The runner's answer to ``ask`` (a call of the client), else what ``refusal`` makes of its
    refusal (most exit); an unreachable runner exits as :func:`unreachable` says."""
    from ..client import RunnerError, RunnerUnreachable

    try:
        return ask()
    except RunnerUnreachable as e:
        unreachable(e)
    except RunnerError as e:
        return refusal(e)


def read(ask: Callable[[], T], command: str, output: str, token_env: Optional[str] = None,
         role: str = "viewer") -> T:
    """The runner's answer to ``ask`` (a call of the client). Refused: its answer as it came
    (``-o json``) or ``ksctl <command>: <status> <answer>`` on stderr, and exit 1; a 401 (no token,
    or one the runner does not know) also says to set ``token_env`` to a token with ``role`` (the
    viewer role for a read; a change's preview, the role of the change), and exits 2."""
    from ..render.ops import answer_json, failure_line

    return answered(ask, lambda e: refused(e, answer_json(e), command, token_env, role) if output == "json"
                    else refused(e, failure_line(command, e), command, token_env, role, err=True))


def sent(send: Callable[[], T], output: str, command: str = "", token_env: Optional[str] = None,
         role: str = "operator") -> T:
    """Send a change (a call of the client) and print what the runner did: its reason (``-o
    json``: its answer as it came). A refusal is printed the same way and exits as
    :func:`refused` says (2 for a 401, else 1); an unreachable runner exits as
    :func:`unreachable` says."""
    from ..render.ops import answer_json, change_json, refusal_text

    result = answered(send, lambda e: refused(e, answer_json(e) if output == "json" else refusal_text(e), command,
                                              token_env, role))
    # every change answers with what it did, in its reason
    click.echo(change_json(result) if output == "json" else result.reason)  # type: ignore[attr-defined]
    return result


def previewed(ask: Callable[[], T]) -> Optional[T]:
    """The runner's preview of a change (a call of the client), or None when it refuses it (a
    role, a token, a rate, an unknown scope): the change sent then answers the same refusal
    itself, with its reason, and the runner audits it (a preview is never audited). An
    unreachable runner exits as :func:`unreachable` says."""
    return answered(ask, lambda e: None)


def change(send: Callable[[], Union["ChangeResult", "ResetResult", "SilenceResult", "OverrideResult"]], output: str,
           command: str = "", token_env: Optional[str] = None, role: str = "operator") -> NoReturn:
    """Send a change; print what the runner did; exit 0 when the runner answered it done, 6 when
    it stored a lock for the next leader (``LOCK_STORED``: not in force yet), 2 when it answered
    401 (the token: the hint names ``role``, the role the change needs), else 1 (a refusal,
    whatever status it came with)."""
    result = sent(send, output, command, token_env, role)
    if getattr(result, "stored", None):
        raise SystemExit(EXIT_STORED)
    if getattr(result, "out_of_reach", ()):  # a revoke done where it could be, not everywhere asked
        raise SystemExit(EXIT_FINDINGS)
    raise SystemExit(EXIT_OK if result.done else EXIT_FINDINGS)
