"""The one confirmation rule of the commands that act at a venue or lift a halt.

``ksctl close``, ``ksctl revoke``, ``ksctl kill --firm`` and ``ksctl reset`` (and a lock that
weakens what binds its scope, a reset while its trigger still fires) print their preview, then
ask: on a terminal, the word the prompt names typed back (the scope; ``KILL`` for the firm), or
``y`` for a question that follows a confirmed one. ``--yes`` sends without asking (a script).
Without ``--yes`` and with no terminal to ask on (a pipe, a cron job), nothing is sent and the
command exits 2 with a line that names ``--yes``; not confirmed at the prompt, it exits 1.
The prompt goes to stderr: stdout keeps the command's answer alone.
"""

from __future__ import annotations

import sys
from typing import Callable, NoReturn, Optional

import click

from .common import EXIT_FINDINGS, EXIT_USAGE


def tty(stream) -> bool:
    """Whether ``stream`` is a terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


def stdin_tty() -> bool:
    """Whether there is a terminal to ask on."""
    return tty(sys.stdin)


def _refuse(why: str, code: int) -> NoReturn:
    click.echo(why, err=True)
    raise SystemExit(code)


def confirm(command: str, what: str, *, yes: bool, prompt: str, word: Optional[str] = None,
            word_name: str = "the scope", code: Optional[str] = None,
            refused: Callable[[str, int], NoReturn] = _refuse) -> None:
    """Return once ``what`` (the action previewed, ``a revoke``) is confirmed: at once with
    ``yes``; else ``word`` (named ``word_name`` in the messages) typed at ``prompt`` on a
    terminal, or ``y`` when no ``word`` is asked. Not confirmed: ``refused(why, 1)``; no
    terminal to ask on: ``refused(why, 2)``, ``why`` naming ``--yes``. ``code`` (a reason code,
    ``KILL_UNCONFIRMED``) heads the line of a refusal for want of a terminal."""
    if yes:
        return
    if not stdin_tty():
        how = f"{word_name} typed" if word is not None else "a confirmation"
        head = f"{code}: " if code else ""
        refused(f"ksctl {command}: {head}nothing was sent: {what} needs --yes, or {how} at the prompt on a terminal",
                EXIT_USAGE)
    if word is None:
        try:
            said = click.confirm(prompt, default=False, err=True)
        except click.Abort:  # end of input, or ^C
            click.echo("", err=True)
            said = False
        if not said:
            refused(f"ksctl {command}: not confirmed; nothing was sent", EXIT_FINDINGS)
        return
    try:
        typed = str(click.prompt(prompt, default="", show_default=False, err=True))
    except click.Abort:  # end of input, or ^C
        click.echo("", err=True)
        typed = ""
    if typed != word:
        refused(f"ksctl {command}: not confirmed ({typed!r} is not {word!r}); nothing was sent", EXIT_FINDINGS)
