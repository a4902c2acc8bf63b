"""Reading the API's values back: ``decode(T, json(encode(x))) == x`` for every value the API
serialises and the client reads (the view's dataclasses, the gate's Decision, the client's typed
documents), with the API's own encoder; and the JSON the commands print from a decoded value is
the API's, byte for byte."""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from typing import Any, Optional, Union

import pytest
from hypothesis import given, settings, strategies as st

from killswitch.client import CloseProgress, DmsSource, DmsStatus, VenueCountdown
from killswitch.face.api.render import plain as _plain  # what the API writes: the encoder under test
from killswitch.runner.gate.request import Decision
from killswitch.view import (
    ChangeResult,
    CloseResult,
    DecodeError,
    ResetResult,
    ResidualStatus,
    ResumeStatus,
    RunnerStatus,
    ScopeStatus,
    decode,
)

DECODED = [ScopeStatus, ResumeStatus, ResidualStatus, RunnerStatus, ResetResult, CloseResult, ChangeResult, Decision,
           DmsSource, VenueCountdown, DmsStatus, CloseProgress]
# the runner's status nests most of the others: its examples take seconds (make test-fast leaves it out)
CASES = [pytest.param(c, marks=pytest.mark.slow) if c is RunnerStatus else c for c in DECODED]

# values JSON carries as they are: finite floats (the API sends a non-finite one as null)
numbers = st.one_of(st.integers(-2**63, 2**63), st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(st.none() | st.booleans() | numbers | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                       max_size=3),
                           max_leaves=8)


@functools.cache
def strategy(tp: Any) -> st.SearchStrategy:
    """Values of the annotation ``tp`` as the runner makes them (one strategy a type, built once:
    rebuilt for every example, hypothesis redid its set-up at each draw: 3/5 of the file's CPU)."""
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return st.builds(tp, **{f.name: strategy(hints[f.name]) for f in dataclasses.fields(tp)})
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union:
        return st.one_of(*(st.none() if a is type(None) else strategy(a) for a in args))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(-2**63, 2**63)
    if tp is float:
        return numbers
    if tp is str:
        return st.text(max_size=12)
    if tp is dict:
        return st.dictionaries(st.text(max_size=8), json_values, max_size=4)
    if origin is dict:
        return st.dictionaries(strategy(args[0]), strategy(args[1]), max_size=3)
    if origin is tuple:
        return st.lists(strategy(args[0]), max_size=3).map(tuple)
    raise TypeError(f"no strategy for {tp}")


@pytest.mark.parametrize("cls", CASES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_decode_inverts_what_the_api_writes(cls, data):
    value = data.draw(strategy(cls))
    wire = json.dumps(_plain(value), allow_nan=False, separators=(",", ":"))
    assert decode(cls, json.loads(wire)) == value


@pytest.mark.parametrize("cls", CASES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_what_a_command_prints_of_a_decoded_value_is_the_api_document(cls, data):
    # ``ksctl status -o json`` prints asdict of what the client decoded: it must be the API's JSON
    wire = json.dumps(_plain(data.draw(strategy(cls))), allow_nan=False)
    decoded = decode(cls, json.loads(wire))
    assert json.dumps(dataclasses.asdict(decoded), indent=1) == json.dumps(json.loads(wire), indent=1)


STATUS = {"mode": "live", "leader": True, "fence": 3, "graph_digest": "sha256:ab", "graph_revision": None,
          "policy_error": None, "last_tick_ms": 5,
          "scopes": [{"policy": "p", "scope": "v/a", "stage": 3, "stage_name": "flatten", "manual": True,
                      "approvals": ["alice"], "approvals_needed": 2, "entered_ms": 1}]}


@pytest.mark.parametrize("doc, where", [
    ({**STATUS, "fence": "3"}, "RunnerStatus.fence: expected a number, not str"),
    ({**STATUS, "leader": 1}, "RunnerStatus.leader: expected bool, not int"),
    ({**STATUS, "fence": True}, "RunnerStatus.fence: expected a number, not bool"),
    ({k: v for k, v in STATUS.items() if k != "mode"}, "RunnerStatus.mode: missing"),
    ({**STATUS, "scopes": {"a": 1}}, "RunnerStatus.scopes: expected an array, not dict"),
    ({**STATUS, "scopes": [{**STATUS["scopes"][0], "approvals": [1]}]}, "RunnerStatus.scopes[0].approvals[0]: "
                                                                        "expected str, not int"),
    ({**STATUS, "dms": []}, "RunnerStatus.dms: expected an object, not list"),
    ([STATUS], "RunnerStatus: expected an object, not list"),
    (None, "RunnerStatus: expected an object, not NoneType"),
])
def test_a_document_that_is_not_the_value_says_where(doc, where):
    with pytest.raises(DecodeError) as e:
        decode(RunnerStatus, doc)
    assert str(e.value) == where


def test_an_older_runner_s_missing_fields_take_their_defaults_and_a_newer_one_s_are_left_out():
    old = {k: v for k, v in STATUS.items() if k != "policy_error"}
    st_ = decode(RunnerStatus, {**old, "a_field_from_the_future": {"x": 1}})
    assert st_.policy_error is None and st_.resuming == () and st_.residuals == () and st_.dms == {}
    assert st_.scopes == (ScopeStatus("p", "v/a", 3, "flatten", True, ("alice",), 2, 1),)
    assert decode(DmsStatus, {}) == DmsStatus()
    assert decode(DmsSource, {"armed": True, "last_beat_age_s": 1, "fires_in_s": 2, "fired": False}).locked is False


def test_numbers_are_kept_as_sent():
    # the runner's JSON written back out is the runner's: 300 stays 300, 300.0 stays 300.0
    a = decode(DmsSource, {"armed": True, "last_beat_age_s": 0, "fires_in_s": 300, "fired": False, "timeout_s": 300.0})
    assert json.dumps(dataclasses.asdict(a)) == ('{"armed": true, "last_beat_age_s": 0, "fires_in_s": 300, '
                                                 '"fired": false, "timeout_s": 300.0, "locked": false}')


@pytest.mark.parametrize("tp", [Optional[Union[int, str]], tuple[int, str], set])
def test_an_annotation_the_decoder_cannot_read_is_a_programming_error(tp):
    odd = dataclasses.make_dataclass("Odd", [("x", tp)])
    with pytest.raises(TypeError):
        decode(odd, {"x": [1, "a"]})
