"""The runners ``ksctl drift`` reads: each one's ``GET /v1/status`` at once, within a bound; the
firm board's shards (``GET /v1/firm/shards``: each shard's ``console_url`` is its API base); a
verdict posted to each (``POST /v1/policy-drift``).

Every call goes through :class:`killswitch.client.RunnerClient` (the token in the Authorization
header alone). The calls run on daemon threads, at most :data:`WORKERS` at once: a runner that
does not answer within ``timeout_s`` is not heard, and the command does not wait on it longer
(nor at exit).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, TypeVar

from ..client import RunnerClient, RunnerError, RunnerUnreachable
from .compare import Reading

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import ssl

WORKERS = 32
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Target:
    """A runner to read: its API base, the shard the firm board names it by; ``missing`` a shard
    the board knows no URL of (code, reason): not heard, never called."""

    url: str
    shard: Optional[str] = None
    missing: Optional[tuple[str, str]] = None


def normalised(url: str) -> str:
    return url.strip().rstrip("/")


def at_once(items: Sequence[T], call: Callable[[T], R], timeout_s: float, late: Callable[[T], R]) -> list[R]:
    """``call`` of each item on daemon threads, at most :data:`WORKERS` at once; an item whose call
    has not ended ``timeout_s`` after the calls began (plus a second for the threads) is ``late(item)``."""
    results: list[Optional[R]] = [None] * len(items)
    done = [False] * len(items)
    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(items)):
        todo.put(i)
    finished = threading.Condition()

    def work() -> None:
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            r = call(items[i])
            with finished:
                results[i], done[i] = r, True
                finished.notify_all()

    for _ in range(min(WORKERS, len(items))):
        threading.Thread(target=work, daemon=True, name="ksctl-drift").start()
    # each item may wait its turn behind WORKERS others: the bound grows with the rounds of calls
    rounds = -(-len(items) // WORKERS) if items else 0
    end = time.monotonic() + rounds * timeout_s + 1.0
    with finished:
        while not all(done):
            left = end - time.monotonic()
            if left <= 0:
                break
            finished.wait(left)
        return [r if done[i] else late(items[i]) for i, r in enumerate(results)]  # type: ignore[misc]


def _read(target: Target, token: Optional[str], timeout_s: float, tls: Optional[ssl.SSLContext] = None) -> Reading:
    if target.missing is not None:
        return Reading(target.url, code=target.missing[0], reason=target.missing[1], shard=target.shard)
    client = RunnerClient(target.url, token, timeout=timeout_s, tls=tls)
    try:
        return Reading(target.url, client.status_document(), shard=target.shard)
    except RunnerUnreachable as e:
        return Reading(target.url, code="UNREACHABLE", reason=str(e), shard=target.shard)
    except RunnerError as e:
        return Reading(target.url, code=e.code, reason=f"HTTP {e.status} {e.reason}", answered=True, http=e.status,
                       shard=target.shard)
    except ValueError as e:  # not JSON, or not an object: no runner's status
        return Reading(target.url, code="BAD_ANSWER", reason=f"BAD_ANSWER: not a status document ({e})",
                       answered=True, shard=target.shard)


def read_runners(targets: Sequence[Target], token: Optional[str], timeout_s: float,
                 tls: Optional[ssl.SSLContext] = None) -> list[Reading]:
    """Each target's status, at once; one that does not answer within ``timeout_s`` is not heard
    (``tls``: the context an https runner is reached with)."""
    return at_once(targets, lambda t: _read(t, token, timeout_s, tls), timeout_s,
                   lambda t: Reading(t.url, code="UNREACHABLE", shard=t.shard,
                                     reason=f"cannot reach the runner at {t.url}: no answer within {timeout_s:g}s"))


def firm_targets(url: str, token: Optional[str], timeout_s: float, tls: Optional[ssl.SSLContext] = None
                 ) -> tuple[list[Target], Optional[Reading]]:
    """Every shard of the firm board of the runner at ``url``: its console URL as the target, or
    a target not heard with the board's reason. The second value: the board not read (why)."""
    client = RunnerClient(url, token, timeout=timeout_s, tls=tls)
    try:
        board = client.firm_shards()
    except RunnerUnreachable as e:
        return [], Reading(url, code="UNREACHABLE", reason=f"the firm board: {e}")
    except RunnerError as e:
        return [], Reading(url, code=e.code, reason=f"the firm board: HTTP {e.status} {e.reason}", answered=True,
                           http=e.status)
    except ValueError as e:
        return [], Reading(url, code="BAD_ANSWER", reason=f"the firm board: not JSON ({e})", answered=True)
    rows = board.get("shards") if isinstance(board, dict) else None
    if not isinstance(rows, list):
        return [], Reading(url, code="BAD_ANSWER", reason="the firm board: no shards list", answered=True)
    out = []
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("shard"), str):
            continue
        name, console = row["shard"], row.get("console_url")
        if isinstance(console, str) and console:
            out.append(Target(normalised(console), name))
        else:
            why = "; ".join(x for x in (row.get("console_note"), row.get("why")) if isinstance(x, str) and x)
            out.append(Target(f"shard {name}", name, ("NO_CONSOLE_URL", why or f"no console URL for shard {name}")))
    return out, None


def targets_of(apis: Sequence[str], firm: Sequence[Target]) -> list[Target]:
    """The runners given, then the firm's shards, each URL once."""
    seen: set[str] = set()
    out = []
    for t in [Target(normalised(a)) for a in apis] + list(firm):
        if t.url not in seen:
            seen.add(t.url)
            out.append(t)
    return out


def distinct(readings: Sequence[Reading]) -> list[Reading]:
    """One reading per runner: two URLs that reach the same runner (one ``holder`` of one shard,
    as the firm board's console URL of the runner asked may be) count once, the first kept."""
    seen: set[tuple[Any, str]] = set()
    out = []
    for r in readings:
        holder = r.status.get("holder") if r.status is not None else None
        if isinstance(holder, str) and holder:
            key = (r.status.get("shard") if r.status is not None else None, holder)
            if key in seen:
                continue
            seen.add(key)
        out.append(r)
    return out


@dataclass(frozen=True)
class Posted:
    """What a runner said to its verdict: ``done`` and its reason (a refusal's code and words)."""

    url: str
    done: bool
    reason: str


def post_verdicts(bodies: Sequence[tuple[str, dict]], token: Optional[str], timeout_s: float,
                  tls: Optional[ssl.SSLContext] = None) -> list[Posted]:
    """Each ``(url, verdict)`` posted at once; a refusal or no answer is said, never raised."""
    def post(item: tuple[str, dict]) -> Posted:
        url, body = item
        try:
            result = RunnerClient(url, token, timeout=timeout_s, tls=tls).policy_drift(body)
            return Posted(url, result.done, result.reason)
        except RunnerError as e:  # RunnerUnreachable too
            return Posted(url, False, f"{e.code}: {e}" if e.status is not None else e.reason)
        except ValueError as e:
            return Posted(url, False, f"BAD_ANSWER: {e}")

    return at_once(bodies, post, timeout_s,
                   lambda item: Posted(item[0], False, f"UNREACHABLE: no answer within {timeout_s:g}s"))

