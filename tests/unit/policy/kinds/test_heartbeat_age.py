"""The ``heartbeat_age`` signal, a built-in kind moved into a module of its own
(killswitch/policy/kinds/heartbeat_age.py) that keeps a state only while it waits for a first
beat (its grace): it keeps its place in the language, its node holds its kept state under the key
the built-in kind saved its wait under (``listening:<source>``), the engine keeps and saves the
wait in the form the built-in kind saved it — a wait saved before the move carries on, one saved
now is what the previous release reads — and keeps nothing while no wait is needed. (The grace's
behaviour: test_heartbeat_grace.py.)"""

from __future__ import annotations

import json

from killswitch.compile.nodes import SignalNode
from killswitch.engine.signal_state import Kept
from killswitch.engine.state import State, record_heartbeat
from killswitch.policy.kinds import heartbeat_age
from killswitch.policy.signals import SIGNALS
from tests.unit.engine_helpers import MIN, SEC, only, run, signal, single_signal_graph, snap

GRACE = "{heartbeat_age: {source: bot-a, grace: 10m}}"


def graph(signal_yaml: str = GRACE):
    return single_signal_graph(signal_yaml, "s > 300s", on_missing="fire", interval="5s")


def ticks(*times_ms):
    return [(t, [snap(10_000, t)]) for t in times_ms]


def saved_signals(state: State) -> dict:
    [scope] = json.loads(json.dumps(state.to_json()))["scopes"].values()
    return scope["signals"]


def test_it_keeps_its_place_in_the_language():
    kinds = list(SIGNALS)
    assert kinds[kinds.index("api_latency") + 1] == "heartbeat_age"  # the kinds appended come after it
    assert (SIGNALS["heartbeat_age"].reads_book, SIGNALS["heartbeat_age"].firm) == (False, False)


def test_its_node_keeps_its_wait_under_its_source_whatever_the_grace():
    [node] = graph().policies[0].signals
    assert isinstance(node, SignalNode) and node.evaluate is None and node.state is heartbeat_age.KIND.state
    assert (node.state_key, node.params) == ("listening:bot-a", heartbeat_age.HeartbeatAgeParams("bot-a", 600_000))


def test_the_wait_is_saved_as_the_built_in_kind_saved_it():
    _, state = run(graph(), ticks(0, MIN))
    # [kind key, [since_ms]]: Listening.to_json's form, which the previous release reads back
    # (Listening.from_json: int(d[0]))
    assert saved_signals(state) == {"s": ["listening:bot-a", [0]]}


def test_a_wait_saved_by_the_built_in_kind_carries_on_after_the_move():
    _, state = run(graph(), ticks(0))
    doc = state.to_json()
    [scope] = doc["scopes"]
    doc["scopes"][scope]["signals"] = {"s": ["listening:bot-a", [-5 * MIN]]}  # waiting for 5m already
    restored = State.from_json(doc)
    assert isinstance(restored.scopes[scope].signals["s"], Kept)
    evs, state = run(graph(), ticks(5 * MIN - SEC, 5 * MIN), restored)
    assert [signal(ev).value for ev in evs] == [0.0, None] and only(evs[-1]).stage_after == 1
    assert saved_signals(state) == {"s": ["listening:bot-a", [-5 * MIN]]}


def test_nothing_is_kept_while_the_source_beats_or_without_a_grace():
    state = record_heartbeat(State(), "bot-a", 0)
    evs, state = run(graph(), ticks(MIN), state)
    assert signal(evs[0]).value == 60.0 and saved_signals(state) == {}
    evs, state = run(graph("{heartbeat_age: {source: bot-b}}"), ticks(2 * MIN), State())
    assert signal(evs[0]).reason == "NO_HEARTBEAT: source=bot-b" and saved_signals(state) == {}


def test_a_change_of_the_grace_keeps_the_wait():
    _, state = run(graph(), ticks(0, 4 * MIN))
    evs, state = run(graph(GRACE.replace("10m", "5m")), ticks(5 * MIN), state)
    sv = signal(evs[0])
    assert sv.reason == "NO_HEARTBEAT: source=bot-a grace=300s passed without a first beat"
    assert saved_signals(state) == {"s": ["listening:bot-a", [0]]}


def test_a_wait_kept_for_a_source_survives_a_detour_through_one_that_beats():
    # as the built-in kind did: a signal reading a source that beats leaves the wait it held alone
    _, state = run(graph(), ticks(0))
    record_heartbeat(state, "bot-b", 0)
    _, state = run(graph(GRACE.replace("bot-a", "bot-b")), ticks(MIN), state)
    assert saved_signals(state) == {"s": ["listening:bot-a", [0]]}
    evs, _ = run(graph(), ticks(10 * MIN), state)
    assert signal(evs[0]).value is None  # bot-a's grace ran from 0, not from its return


def test_its_wait_is_the_kind_own_not_the_engine_s():
    """Saved as the kind's evaluation gave it: a JSON value, read back as it was saved."""
    assert (heartbeat_age.KIND.state.save, heartbeat_age.KIND.state.load) == (None, None)
    assert Kept([0]).to_json() == [0]


def test_its_signal_names_the_source_it_listens_to_and_no_other_kind_does():
    """What the runner lists as watched reads the node (its kind's ``listens``), never its kind."""
    [sig] = graph().policy("p").signals
    assert sig.heartbeat_source == "bot-a"
    other = single_signal_graph("data_age", "s > 300s").policy("p").signals[0]
    assert other.heartbeat_source is None
