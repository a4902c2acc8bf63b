"""The operations' table (killswitch/view/operations.py), which the API's routes, the access
checks, the turn, the desk and the typed client all read: each entry says once what it is, and
what it says holds together — a name and a route each once, a preview answering with its change's
roles and changing nothing, a field of a kind the API reads, and the turn taken by every change but
those that take it themselves."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from killswitch.view.operations import (
    BY_NAME,
    CHANGE,
    COUNT,
    FIRM,
    HEARTBEAT,
    ITEMS,
    JSON,
    NAME,
    OPERATIONS,
    OPERATOR_WRITES,
    OVERRIDE,
    PREVIEW,
    READ,
    READER,
    READERS,
    REVOKE,
    SECONDS,
    SILENCE,
    SOURCE,
    TEXT,
    WITHOUT_TURN,
    roles_of,
)

ROLES = {"viewer", "bot", "operator", "approver", "drift"}  # killswitch/face/api/identity.py's ROLES


def test_every_name_and_every_route_is_listed_once():
    names = [op.name for op in OPERATIONS]
    assert len(names) == len(set(names)) == len(BY_NAME)
    routes = [(op.method, op.path) for op in OPERATIONS]
    assert len(routes) == len(set(routes))
    clients = [op.client or op.name for op in OPERATIONS]
    assert len(clients) == len(set(clients)), "two entries the client calls by one name"


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_an_entry_says_what_the_api_reads_and_renders(op):
    assert op.method in ("GET", "POST") and op.path.startswith("/")
    assert op.roles is None or set(op.roles) <= ROLES | {READER}, op.roles
    assert op.write in (None, HEARTBEAT, *OPERATOR_WRITES)
    assert op.answer in (READ, ITEMS, JSON, PREVIEW, CHANGE, SILENCE, OVERRIDE, REVOKE, FIRM)
    assert op.caller in ("", "actor", "approver", "position")
    for arg in op.args:
        assert arg.kind in (NAME, TEXT, SOURCE, SECONDS, COUNT)
        assert arg.kind not in (SECONDS, COUNT) or arg.limit > 0, f"{op.name}.{arg.name}: up to what?"
        assert arg.passed or not arg.keyword
    if op.method == "GET":
        assert op.write is None and not op.args, f"{op.name}: a GET reads, and has no body"
    if op.audit:
        assert op.by and op.write is not None, f"{op.name}: the log line is a change's, said by its part"
        assert set(op.logged) <= {a.name for a in op.args} | {"scope"}, op.logged


def mismatched_previews(ops) -> list[str]:
    """Each change whose preview changes something, or asks another role than the change."""
    named = {op.name: op for op in ops}
    return [op.name for op in ops if op.preview and (op.write is None or named[op.preview].write is not None
                                                     or named[op.preview].roles != op.roles)]


def test_a_preview_changes_nothing_and_asks_the_role_of_its_change():
    assert sum(1 for op in OPERATIONS if op.preview) >= 8
    assert mismatched_previews(OPERATIONS) == []


def test_every_read_runs_without_the_turn_and_every_change_in_it_but_those_that_take_it_themselves():
    for op in OPERATIONS:
        assert (op.name in WITHOUT_TURN) == (op.write is None or op.own_turn), op.name
    assert {op.name for op in OPERATIONS if op.own_turn} == {"heartbeat", "firm_kill"}


def test_the_readers_are_spelled_out_or_anyone_under_console_public():
    status = BY_NAME["status"]
    assert roles_of(status.roles) == (*READERS, "drift")
    assert roles_of(status.roles, console_public=True) is None
    assert roles_of(BY_NAME["reset"].roles, console_public=True) == ("approver",)  # a change never is
    assert roles_of(BY_NAME["lock_document"].roles) is None


@pytest.mark.parametrize("op", [op for op in OPERATIONS if op.verb], ids=lambda op: op.verb)
def test_a_verb_sends_a_call_of_the_client_and_a_read_says_how_its_answer_is_shown(op):
    from killswitch.client import RunnerClient

    assert (op.help or op.doc) and callable(getattr(RunnerClient("http://127.0.0.1:9"), op.client or op.name))
    if op.write is None and op.shown:  # ksctl prints it as text or json (cli/verbs.py)
        render = importlib.import_module(f"killswitch.render.{op.shown}")
        assert callable(getattr(render, f"{op.shown}_text")) and callable(getattr(render, f"{op.shown}_json"))
    assert [o.verb for o in OPERATIONS].count(op.verb) == 1


def test_a_table_that_breaks_its_rules_is_found():
    """The checks above can fail: a preview that asks another role, and a GET that changes."""
    wrong = [dataclasses.replace(op, roles=("viewer",)) if op.name == "preview_lock" else op for op in OPERATIONS]
    assert mismatched_previews(wrong) == ["lock_scope"]
    with pytest.raises(AssertionError):
        test_an_entry_says_what_the_api_reads_and_renders(dataclasses.replace(BY_NAME["dms_arm"], method="GET"))
    with pytest.raises(ModuleNotFoundError):  # a read verb whose renderer is not there
        test_a_verb_sends_a_call_of_the_client_and_a_read_says_how_its_answer_is_shown(
            dataclasses.replace(BY_NAME["overrides"], shown="override_rows"))
