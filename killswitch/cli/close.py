"""``ksctl close``: an emergency close of a scope through the runner, previewed before it is sent.

The runner plans a close (reduce-only, never larger than the position) from its last snapshots
(less the fills journaled since; it says how old they are). ``ksctl close`` always asks for that
plan first and prints it, order by order, with its total notional — and, on a dry-run runner,
first of all that nothing will be sent. It sends the close only once the operator types the
scope at the prompt on a terminal, or with ``--yes``; with neither (a script, a pipe) it refuses
and sends nothing (exit 2): a live close is never a default (the rule of :mod:`.confirm`).
``--live`` is kept for scripts and asks all the same. ``--dry-run`` prints the plan and stops. A
preview the runner calls ``INCOMPLETE`` (an account of the scope could not be read) is shown with
that warning and may still be sent: an emergency close is needed most when a venue answers badly.
``--symbol`` closes only that symbol's positions in the scope.

The close sent carries the preview's id and a maximum notional (``--max-notional``; by default
the preview's notional plus the runner's slack): the runner refuses it (``PREVIEW_MISMATCH``,
``OVER_MAX_NOTIONAL``, ``PREVIEW_EXPIRED``, ``PREVIEW_UNKNOWN``) rather than send a plan that
differs materially from the one printed. A runner too old to give a preview id gets the close
without one, as before.

``--wait`` follows the close until its orders settle, with a progress line on stderr when stderr
is a terminal (nothing when it is not: logs and pipes stay clean).

Thin: parse, call :class:`killswitch.client.RunnerClient`, render with :mod:`killswitch.render.closes`.
Exit codes: 0 previewed (``--dry-run``) or queued (with ``--wait``: every order filled); 1 refused
by the runner, not confirmed at the prompt, or with ``--wait`` an order that did not fill or a
close still working at ``--wait-timeout``; 2 usage (no ``--yes`` and no terminal to confirm on,
``--yes`` or ``--live`` with ``--dry-run``, no token or one the runner does not know); 5 the runner
unreachable.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Callable, NoReturn, Optional

import click

from .apiopts import answered, refused as said_refused, runner_client, runner_options, unreachable
from .common import EXIT_FINDINGS, EXIT_OK, duration_s, output_option
from .confirm import confirm, tty

if TYPE_CHECKING:
    from ..client import CloseProgress, RunnerClient, RunnerError
    from ..view import CloseResult

POLL_S = 0.5  # how often ``close --wait`` asks the runner


def _stderr_tty() -> bool:
    return tty(sys.stderr)


class Progress:
    """One progress line on stderr, rewritten in place; silent unless stderr is a terminal."""

    def __init__(self, enabled: Optional[bool] = None):
        self.enabled = _stderr_tty() if enabled is None else enabled
        self.width = 0

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        click.echo("\r" + text + " " * max(0, self.width - len(text)), err=True, nl=False)
        self.width = len(text)

    def done(self) -> None:
        if self.enabled and self.width:
            click.echo("", err=True)
            self.width = 0


@click.command(epilog="""\b
Examples:
  ksctl close --scope binanceusdm/main --reason "drill" --dry-run     # the plan, nothing sent
  ksctl close --scope binanceusdm/main --reason "flatten by hand"     # the plan, then: type the scope
  ksctl close --scope binanceusdm/main --reason "flatten by hand" --yes --wait    # a script
  ksctl close --scope binanceusdm/main --symbol BTC/USDT:USDT --reason "cut BTC" --max-notional 250000
  ksctl close --scope binanceusdm/main --symbol BTC/USDT:USDT --leg short --reason "cut the short hedge leg"
The close is sent with the preview's id and a maximum notional: a plan that changed
materially since the preview (new positions, larger ones, a higher notional) is refused.
A live close is sent only after the scope is typed at the prompt on a terminal, or with
--yes; from a script or a pipe without --yes it is refused (exit 2) and nothing is sent.
Exit codes: 0 previewed, or queued (with --wait: every order filled); 1 refused by the
runner, not confirmed, or with --wait an order that did not fill or a close still working
at --wait-timeout; 2 usage (no --yes and no terminal to confirm on).
""")
@runner_options
@click.option("--scope", required=True, help="The policy instance's scope, e.g. binanceusdm/main.")
@click.option("--reason", required=True)
@click.option("--dry-run", is_flag=True, help="Print the plan (the orders the close would send) and stop.")
@click.option("--yes", is_flag=True, help="Send the close after printing its plan, without asking (a script).")
@click.option("--live", is_flag=True, help="Kept for scripts: a close is sent live once confirmed; it asks all the "
                                           "same (--yes sends without asking).")
@click.option("--symbol", default=None, help="Close only this symbol's positions in the scope, e.g. BTC/USDT:USDT.")
@click.option("--leg", type=click.Choice(["long", "short"]), default=None,
              help="With --symbol on a hedge-mode account: close only this leg (default: both legs).")
@click.option("--max-notional", type=float, default=None,
              help="Refuse the close if its plan's notional is above this (default: the preview's plus a slack).")
@click.option("--wait", is_flag=True, help="Follow the close until its orders settle (exit 1 if some did not fill).")
@click.option("--wait-timeout", default="2m", show_default=True, help="Stop following after this long.")
@output_option
def close(api, token_env, scope, reason, dry_run, yes, live, symbol, leg, max_notional, wait, wait_timeout,
          output) -> None:
    """Emergency close of a scope through the runner's planner and journal: the plan first,
    sent only once the scope is typed to confirm, or with --yes."""
    from ..render.closes import close_json, close_plan_text

    if dry_run and (yes or live):
        raise click.UsageError(f"--dry-run only previews and {'--yes' if yes else '--live'} sends: give one of them")
    if leg is not None and symbol is None:
        raise click.UsageError("--leg closes one leg of one symbol: give --symbol too")
    if max_notional is not None and not max_notional >= 0:
        raise click.BadParameter("a number at or above 0", param_hint="--max-notional")
    timeout_s = duration_s(wait_timeout, "--wait-timeout")
    client = runner_client(api, token_env)
    # the runner's dry run of the close: an INCOMPLETE one is shown with its warning
    preview = _close_call(lambda: client.close(scope, reason, True, symbol=symbol, leg=leg), None, output)
    if output != "json" and not yes:  # (with --yes: the plan the close was queued with, below)
        click.echo(close_plan_text(scope, preview, live=False))
    if dry_run:
        if output == "json":
            click.echo(close_json(preview, None))
        raise SystemExit(EXIT_OK if preview.accepted else EXIT_FINDINGS)
    what = "a close the DRY-RUN runner will only plan (nothing is sent)" if preview.mode == "dry-run" \
        else "a LIVE close"
    confirm("close", "a live close", yes=yes, prompt=f"type the scope to confirm ({scope}) for {what}", word=scope,
            refused=lambda why, code: _nothing_sent(preview, why, output, code))
    cap = max_notional if max_notional is not None else preview.max_notional
    sent = _close_call(lambda: client.close(scope, reason, False, symbol=symbol, preview_id=preview.preview_id,
                                            max_notional=cap if preview.preview_id else None, leg=leg),
                       preview, output)
    if output != "json":
        if yes:
            click.echo(close_plan_text(scope, sent, live=True))
        click.echo(sent.reason)
    settled = None
    code = EXIT_OK
    if wait and sent.id:
        code, settled = _follow_close(client, sent.id, timeout_s, output)
    if output == "json":
        click.echo(close_json(preview, sent, settled))
    raise SystemExit(code)


def _nothing_sent(preview: "CloseResult", why: str, output: str, code: int) -> NoReturn:
    from ..render.closes import close_json

    if output == "json":
        click.echo(close_json(preview, None, refused=why))
    click.echo(why, err=True)
    raise SystemExit(code)


def _refused_close(e) -> "Optional[CloseResult]":
    """The close answer a refusal carries (a runner's 409 is a CloseResult), or None."""
    from ..view import CloseResult, DecodeError, decode

    try:
        return decode(CloseResult, e.body)
    except (DecodeError, TypeError):
        return None


def _close_call(call: "Callable[[], CloseResult]", preview: "Optional[CloseResult]", output: str) -> "CloseResult":
    """The runner's answer to a close (``preview`` None: the close is its preview, and an
    ``INCOMPLETE`` refusal is returned as the plan); a refusal is printed (``-o json``: with the
    plan it refused, the preview's or the one the refusal carries) and exits as
    :func:`~.apiopts.refused` says."""
    from ..render.closes import close_json
    from ..render.ops import refusal_text

    def refusal(e: "RunnerError") -> "CloseResult":
        planned = preview if preview is not None else _refused_close(e)
        if preview is None and planned is not None and planned.reason.startswith("INCOMPLETE"):
            return planned
        said_refused(e, close_json(planned, None, refused=refusal_text(e)) if output == "json" else refusal_text(e),
                     role="operator")

    return answered(call, refusal)


def _follow_close(client: "RunnerClient", close_id: str, timeout_s: float,
                  output: str) -> "tuple[int, Optional[CloseProgress]]":
    from ..client import RunnerError, RunnerUnreachable
    from ..render.closes import close_outcome, close_progress_line, close_still_working
    from ..render.ops import follow_failure_line

    text = output != "json"
    deadline = time.monotonic() + timeout_s
    progress = Progress()
    try:
        while True:
            try:
                answer = client.close_progress(close_id)
            except RunnerUnreachable as e:
                unreachable(e)  # exits; the finally below still ends the progress line
            except RunnerError as e:
                progress.done()
                click.echo(follow_failure_line(close_id, e), err=True)
                return EXIT_FINDINGS, None
            progress.update(close_progress_line(answer))
            if answer.final:
                break
            if time.monotonic() >= deadline:
                progress.done()
                click.echo(close_still_working(close_id, timeout_s, answer), err=not text)
                return EXIT_FINDINGS, answer
            time.sleep(POLL_S)
    finally:
        progress.done()
    if text:
        click.echo(close_outcome(answer))
    return _close_exit(answer), answer


def _close_exit(settled: "CloseProgress") -> int:
    """0 when every order filled, or the runner only planned them (dry run); 1 when some did
    not fill, or nothing was sent because the scope was not in the tick's snapshots, the
    request expired before a tick planned it, or its plan at the tick differed from its preview."""
    if settled.state in ("unplanned", "expired", "refused"):
        return EXIT_FINDINGS
    if settled.state == "dry_run":
        return EXIT_OK
    return EXIT_OK if settled.unfilled == 0 else EXIT_FINDINGS
