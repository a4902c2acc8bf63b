"""The book as gauges an alerting system can watch: what runs, what is locked, what fires, and why.

What it owns: these families of ``/metrics``, read from the runner's book at the scrape:

- ``killswitch_build_info{version,graph_digest,revision}`` = 1: the code and the graph running;
- ``killswitch_config_last_reload_successful`` 1/0 and
  ``killswitch_config_last_reload_success_timestamp_seconds``: 0 from a failed reload (or a
  start on the last good policies) until a good one, and when the graph in force was loaded —
  an alert on them holds while the files are broken, where a count of failures would resolve;
- ``killswitch_lock_state{scope,mode}`` = 1: for each locked scope, and each account and policy
  scope instance a lock binds (a ``global`` halt binds them all), the mode of the lock that
  binds it (``reducing``, ``halted``); a scope no lock binds has no series;
- ``killswitch_trigger_firing{policy,scope,trigger}`` 1/0, from the engine state (a standby
  shows what the leader saved);
- ``killswitch_signal_value{policy,scope,signal}``: this runner's last evaluated values, the
  known ones only (a standby evaluates nothing);
- ``killswitch_trigger_threshold{policy,scope,trigger,signal,op}``: every ``signal op number``
  of a trigger's condition, in the signal's unit (a percentage as a fraction), so a dashboard
  draws a value against its limit; a threshold computed from signals (``max(4.5%, 3 * vol_1h)``)
  as this runner's last evaluation recorded it (none while unknown, or on a standby);
- the policy sync (:func:`collect_sync_families`): ``killswitch_policy_document_info{document,
  sha256,revision}`` = 1 per running document, ``killswitch_policy_in_sync_with_files`` 1/0,
  ``killswitch_policy_drift{state}`` = 1 for the posted verdict's state (one series, none before
  a verdict) and ``killswitch_policy_drift_checked_timestamp_seconds``. The series are bounded by
  the documents the runner runs (what it compiled) and one verdict.

Must not: change anything, or cost more than a walk over the graph's triggers (it runs while a
tick may be running).
"""

from __future__ import annotations

from typing import Iterable, Optional

from ... import __version__
from ...engine.triggers import recorded
from ...metrics import Registry
from ...runner.book.view import BookView
from ...view.policy_sync import PolicySyncStatus


def collect_book_families(reg: Registry, book: BookView, now_ms: int, accounts: Iterable[str], *,
                          loaded_ms: Optional[int], reload_ok: bool) -> None:
    g = book.graph
    reg.sampled("killswitch_build_info", "gauge", "1, labelled with the version of killswitch and the graph it runs.",
                ("version", "graph_digest", "revision")).add(1, version=__version__, graph_digest=g.digest,
                                                             revision=g.revision or "")
    reg.sampled("killswitch_config_last_reload_successful", "gauge",
                "1 when the last policy reload (or the start) compiled, 0 from a failed one until a good one.") \
        .add(int(reload_ok))
    when = reg.sampled("killswitch_config_last_reload_success_timestamp_seconds", "gauge",
                       "Unix time the graph in force was loaded (the start, or the last good reload).")
    if loaded_ms is not None:
        when.add(loaded_ms / 1000)
    _locks(reg, book, now_ms, accounts)
    _triggers(reg, book)


def collect_sync_families(reg: Registry, sync: PolicySyncStatus) -> None:
    """The policy sync as gauges (see the module doc)."""
    docs = reg.sampled("killswitch_policy_document_info", "gauge",
                       "1 per source document of the graph running, labelled with its path under the policies "
                       "root, the SHA-256 of its bytes and the revision it came from.",
                       ("document", "sha256", "revision"))
    in_sync = reg.sampled("killswitch_policy_in_sync_with_files", "gauge",
                          "1 when the graph running was compiled from the newest sources the runner read, 0 while "
                          "a reload failed or is pending.")
    drift = reg.sampled("killswitch_policy_drift", "gauge",
                        "1, labelled with the state of the latest drift verdict posted about this runner "
                        "(ksctl drift --post): in_sync, behind, diverged, reload_failing or unknown.", ("state",))
    checked = reg.sampled("killswitch_policy_drift_checked_timestamp_seconds", "gauge",
                          "Unix time the latest drift verdict posted about this runner was checked.")
    revision = sync.running.revision or ""
    for d in sync.running.documents:
        docs.add(1, document=d.path, sha256=d.sha256, revision=revision)
    in_sync.add(int(sync.in_sync_with_files))
    if sync.verdict is not None:
        drift.add(1, state=sync.verdict.state)
        checked.add(sync.verdict.checked_ms / 1000)


def _locks(reg: Registry, book: BookView, now_ms: int, accounts: Iterable[str]) -> None:
    lock = book.lock_book
    family = reg.sampled("killswitch_lock_state", "gauge",
                         "1 for the mode of the lock that binds each scope (locked scopes, accounts and policy scope "
                         "instances); a scope no lock binds has no series.", ("scope", "mode"))
    held = lock.scopes(now_ms)
    if not held:
        return
    instances = (key.partition("|")[2] for key in book.state.scopes)
    for scope in sorted(set(held) | set(accounts) | set(instances)):
        st = lock.for_scope(scope, now_ms)
        if st.locked:
            family.add(1, scope=scope, mode=st.mode)


def _triggers(reg: Registry, book: BookView) -> None:
    firing = reg.sampled("killswitch_trigger_firing", "gauge", "1 while a trigger of a policy's scope fires, else 0.",
                         ("policy", "scope", "trigger"))
    values = reg.sampled("killswitch_signal_value", "gauge",
                         "A signal's value at this runner's last evaluation (known values only; a percentage as a "
                         "fraction, a duration in seconds).", ("policy", "scope", "signal"))
    limits = reg.sampled("killswitch_trigger_threshold", "gauge",
                         "The number each signal is compared with in a trigger's condition, in the signal's unit.",
                         ("policy", "scope", "trigger", "signal", "op"))
    nodes = {p.name: p for p in book.graph.policies}
    ev = book.evaluation
    results = {(se.policy, se.scope): {r.name: r for r in se.triggers} for se in ev.scopes} if ev is not None else {}
    for key, ss in sorted(book.state.scopes.items()):
        policy, _, scope = key.partition("|")
        node = nodes.get(policy)
        if node is None:
            continue
        for t in node.triggers:
            st = ss.triggers.get(t.name)
            firing.add(int(bool(st and st.firing)), policy=policy, scope=scope, trigger=t.name)
            seen = set()
            for c in t.comparisons:
                number = c.threshold
                if c.computed:  # as the last evaluation computed it
                    at = recorded(results.get((policy, scope), {}).get(t.name), c.signal, c.op, c.text)
                    number = at.value if at is not None else None
                if number is None or (c.signal, c.op) in seen:
                    continue  # a comparison between two signals has no number; one written twice, once
                seen.add((c.signal, c.op))
                limits.add(number, policy=policy, scope=scope, trigger=t.name, signal=c.signal, op=c.op)
    if ev is None:
        return
    for se in ev.scopes:
        if se.policy not in nodes:
            continue
        for v in se.signals:
            if v.value is not None:
                values.add(v.value, policy=se.policy, scope=se.scope, signal=v.name)
