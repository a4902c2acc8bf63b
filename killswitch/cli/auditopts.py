"""The options of the commands that verify the audit chain (``ksctl audit verify``, ``history``,
``report``): the audit key, the exported anchors, and opening the store to read it.

Thin: the key is resolved by :mod:`killswitch.audit.key`, anchors parsed by
:class:`~killswitch.state.AuditAnchor`, the chain verified by the store. A key that cannot be
used or an anchor that does not parse is a usage error (exit 2) with its reason code; a store
that cannot be read exits 3 with the store's (password-free) message.

Must not: print the key, or anything but its id.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Iterable, Optional

import click

from .common import EXIT_FINDINGS, EXIT_OK, EXIT_UNVERIFIED

if TYPE_CHECKING:  # pragma: no cover - annotations only
    pass

key_file_option = click.option(
    "--audit-key-file", "audit_key_file", default=None, envvar="KS_AUDIT_KEY_FILE", show_envvar=True,
    type=click.Path(dir_okay=False),
    help="A file holding the audit chain's HMAC key; else the value of KS_AUDIT_KEY. With the key, the MACs "
         "are checked; without it, only the chain's structure.")
anchor_option = click.option(
    "--anchor", "anchor_texts", multiple=True, metavar="SEQ:HASH",
    help="An exported anchor (an AUDIT_HEAD line of the runner's log, or SEQ:HASH): the chain must still "
         "hold that row unchanged. Repeatable.")
anchors_from_option = click.option(
    "--anchors-from", "anchors_file", default=None, type=click.File("r", encoding="utf-8"),
    help="A file (- for stdin) of the runner's log: every AUDIT_HEAD line in it is an anchor.")


def audit_key(key_file: Optional[str]):
    """The audit key of ``--audit-key-file`` or ``KS_AUDIT_KEY``; None with neither; exit 2 if unusable."""
    from ..audit.key import load_audit_key
    from ..state import AuditKeyError

    try:
        return load_audit_key(key_file)
    except AuditKeyError as e:
        raise click.BadParameter(str(e), param_hint="--audit-key-file / KS_AUDIT_KEY") from None


def anchors(texts: Iterable[str], file: Optional[IO[str]]) -> list:
    """The anchors given on the command line and in ``--anchors-from`` (each named by its file and
    line, so that a finding says which line it rests on); exit 2 on a bad one."""
    from ..state import AuditAnchor

    try:
        out = [AuditAnchor.parse(t, where="--anchor") for t in texts]
        if file is not None:
            found = AuditAnchor.scan(file, source=getattr(file, "name", None))
            if not found:
                raise ValueError(f"BAD_ANCHOR: no AUDIT_HEAD line in {getattr(file, 'name', 'the file')}")
            out += found
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--anchor / --anchors-from") from None
    return out


def exit_code(verdict: str) -> int:
    """The exit code of a verification's verdict: 0 it passed (intact and anchored, or consistent
    and never anchored, the exported anchors given holding); 4 consistent, but checked against
    nothing outside the table (neither the key nor an anchor); 1 anything else (a finding, or an
    anchored chain without its key)."""
    from ..state.audit_verify import INTACT, UNANCHORED, UNVERIFIED

    if verdict in (INTACT, UNANCHORED):
        return EXIT_OK
    return EXIT_UNVERIFIED if verdict == UNVERIFIED else EXIT_FINDINGS
