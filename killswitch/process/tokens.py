"""``ksctl run``'s API identities read again without a restart: on SIGHUP, and when the tokens
document's file changes (a Kubernetes Secret updated in place: the kubelet swaps its files whole).

What it owns: noticing the change (the file's stat, looked at between two ticks), reading the
document again and putting it in force whole (:class:`~killswitch.face.api.identity.LiveTokens`),
giving the log's scrubber the new digests, and saying what changed by identity name and role
(``API tokens reloaded (the file changed): identities alice, bob; added: bob (approver)``). A
document that cannot be used changes nothing: the identities in force stay, and an ERROR line
says why.

Must not: print a token or a digest, or leave the API with no identities because a reload failed.
"""

from __future__ import annotations

import os
from typing import Callable, Optional

from ..face.api.identity import LiveTokens, Tokens, TokensError, load_tokens
from ..logs import scrub_also


def stat_key(path: Optional[str]) -> Optional[tuple]:
    """What tells a changed file from the one read (a Secret's kubelet swaps a symlink: a new inode)."""
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)


def tokens_change(old: Tokens, new: Tokens) -> str:
    """What a reload of the tokens document changed, by identity name and roles (never a token
    or a digest): ``identities alice, carol; added: carol (approver); removed: bob``."""
    def table(t: Tokens) -> dict[str, tuple[str, frozenset]]:
        said = t.credentials()  # a digest or a certificate's name: never the token
        return {i.name: (said.get(i.name, ""), i.roles) for i in t.identities}

    before, after = table(old), table(new)
    parts = [f"identities {', '.join(sorted(after)) or 'none'}"]
    added = [f"{n} ({', '.join(sorted(after[n][1]))})" for n in sorted(set(after) - set(before))]
    removed = sorted(set(before) - set(after))
    roles = [f"{n} ({', '.join(sorted(after[n][1]))})" for n in sorted(set(after) & set(before))
             if after[n][1] != before[n][1]]
    rotated = [n for n in sorted(set(after) & set(before)) if after[n][0] != before[n][0]]
    for what, names in (("added", added), ("removed", removed), ("roles changed", roles),
                        ("credential replaced", rotated)):
        if names:
            parts.append(f"{what}: {', '.join(names)}")
    return "; ".join(parts) if len(parts) > 1 else parts[0] + " (unchanged)"


class TokensReloader:
    """The tokens document at ``path`` (None: the runner has none, at most the shared token);
    ``echo`` and ``err`` are the log's INFO and ERROR; ``on_sighup`` is also called on SIGHUP
    (the policies' reload). Its identities are those of :meth:`serve` once the API is built."""

    def __init__(self, path: Optional[str], echo: Callable[[str], None], err: Callable[[str], None], *,
                 on_sighup: Callable[[], None] = lambda: None):
        self.path = path
        self.echo = echo
        self.err = err
        self.on_sighup = on_sighup
        self.live: Optional[LiveTokens] = None  # None: no API
        self.seen: Optional[tuple] = None  # the file as last read
        self.hup = False  # a SIGHUP came since the last tick

    def serve(self, live: LiveTokens) -> LiveTokens:
        """``live`` is what the API authenticates against: read again from now on."""
        self.live, self.seen = live, stat_key(self.path)
        return live

    def sighup(self) -> None:
        """The signal handler (on the loop): said and acted on between two ticks."""
        self.hup = True
        self.on_sighup()

    def between_ticks(self) -> None:
        """A SIGHUP is said and reads the document again; so does a file changed since it was read."""
        if self.hup:
            self.hup = False
            reading = self.live is not None and self.path
            self.echo(f"ksctl run: SIGHUP: reloading the policies{' and the API tokens document' if reading else ''}")
            self.reload("SIGHUP")
        elif self.path and self.live is not None and stat_key(self.path) != self.seen:
            self.reload("the file changed")

    def reload(self, why: str) -> None:
        """Read the document again and put it in force; one that cannot be used keeps the
        identities in force, said loudly. Names and roles only in the log."""
        if not self.path or self.live is None:
            return
        self.seen = stat_key(self.path)
        try:
            new = load_tokens(self.path)
            old = self.live.replace(new)
        except TokensError as e:
            kept = ", ".join(i.name for i in self.live.current.identities) or "none"
            self.err(f"ksctl run: API TOKENS RELOAD FAILED ({why}): {e}; the identities in force stay: {kept}")
            return
        scrub_also(new.digests())
        self.echo(f"ksctl run: API tokens reloaded ({why}): {tokens_change(old, new)}")
