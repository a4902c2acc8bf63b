"""Policies some of whose triggers cannot be evaluated on a scope: they cannot act on them (a
partly blind one can still fire on what it reads). Why, since when, when a trigger can fire
again, when the scope is armed again, and what the policy does while blind."""

from __future__ import annotations

from typing import Any, Iterator

from ..figures import iso
from . import Fact, kind_of

RANK = 90
KIND = kind_of(__name__)
TITLE, LEAD = ("POLICY", "POLICIES", " BLIND"), ""  # the console's line


def acts_text(r: Any) -> str:
    """When a blind scope can act again, before it is armed again: ``can fire again at T (soft,
    hard); `` (``CoverageStatus.acts_from_ms``, the engine's one figure); nothing for a partly
    blind one, which can act now and says so, nor for one whose armed-again time alone is known
    (a standby's: it can fire by then); ``unknown`` only when neither is
    (``CoverageStatus.acts_unknown``)."""
    if r.acts_unknown:
        return "can fire again: unknown; "
    if r.partly or r.acts_from_ms is None:  # (no trigger's time: by when it is armed again, said next)
        return ""
    return f"can fire again at {iso(r.acts_from_ms)} ({', '.join(r.acts_first)}); "


def _text(r: Any) -> str:
    """``BLIND`` with why and until when, then (indented) what can still fire and each trigger."""
    when = f", since {iso(r.since_ms)}" if r.since_ms is not None else ""
    until = "unknown (waiting for data)" if r.until_ms is None else iso(r.until_ms)
    doing = r.while_blind or "nothing (no while_blind)"
    partly = " (partly)" if r.partly else ""  # some trigger can still fire: said on the next line
    lines = [f"BLIND {r.policy} {r.scope}{partly}: {r.reason}{when}; {acts_text(r)}armed again at {until}; "
             f"while blind: {doing}"]
    if r.partly:
        lines.append(f"    {r.partly}")
    for t in r.triggers:
        still = (f"; can still fire on {', '.join(t.fires_on)}" if t.fires_on else
                 f"; can fire again at {iso(t.fires_from_ms)}" if t.fires_from_ms is not None else "")
        lines.append(f"    trigger {t.trigger}: {t.detail}{still}")
    if not r.triggers:
        lines.append(f"    {r.detail}")
    return "\n".join(lines)


def facts(st: Any) -> Iterator[Fact]:
    for r in st.coverage:
        if r.state == "blind":
            yield Fact(KIND, "blind", f"{r.policy} {r.scope}", r.since_ms,
                       "every trigger can be evaluated again" + (f" (at {iso(r.until_ms)})" if r.until_ms else ""),
                       _text(r), label=f"{r.policy} on {r.scope}" + (" (partly)" if r.partly else ""))
