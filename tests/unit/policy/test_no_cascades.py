"""One mistake, one report: a bad field of a stage, a broken action or a YAML error in a policy is
reported where it is, and nothing downstream (later checks of the policy, its test file) reports a
consequence of it as a finding of its own.

Each case edits the example futures-book policy, compiles it with its routes and its test file,
and compares the complete set of findings with what the mistake alone should give.
"""

from __future__ import annotations

import textwrap

import pytest

from killswitch.compile.compiler import CompileResult, compile_documents
from killswitch.policy.load import load_sources
from tests.conftest import POLICIES

POLICY = (POLICIES / "futures-book.yaml").read_text()
ROUTES = (POLICIES / "routes.yaml").read_text()
TEST = (POLICIES / "tests" / "futures-book.test.yaml").read_text()
TEST_NOTE = ("t.yaml", "KS130", 11, 11)  # the one line a test of a policy with errors gets


def edit(text: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert text.count(old) >= 1, f"{old!r} is not in the text"
        text = text.replace(old, new, 1)
    return text


def compile_with_test(policy: str, test: str = TEST) -> CompileResult:
    return compile_documents(load_sources([("p.yaml", policy), ("r.yaml", ROUTES), ("t.yaml", test)]))


def found(result: CompileResult) -> set[tuple[str, str, int, int]]:
    return {(x.file, x.code, x.pos.line if x.pos else 0, x.pos.col if x.pos else 0) for x in result.diagnostics}


def test_the_example_compiles_clean_with_its_test():
    assert compile_with_test(POLICY).diagnostics == []


# (id, edits of the policy, the one finding expected in it: code, line, col)
ONE_MISTAKE = [
    ("misspelled-stage-key", [("      cooldown: 30m", "      cooldwon: 10m")], ("KS101", 37, 7)),
    ("duration-without-unit", [("      cooldown: 30m", "      cooldown: 30")], ("KS110", 37, 17)),
    ("fraction-over-100", [("fraction: 50%", "fraction: 150%")], ("KS111", 39, 49)),
    ("unknown-action", [("        - close_all", "        - close_everything")], ("KS103", 58, 11)),
    ("unknown-action-with-parameters", [("        - close_all", "        - {close_everything: {}}")],
     ("KS101", 58, 12)),
    ("misspelled-reset", [("      reset: manual", "      reset: manul")], ("KS103", 54, 14)),
    ("approvals-not-a-number", [("approvals: 2", "approvals: two")], ("KS103", 55, 18)),
    ("on-not-a-list-of-names", [("      on: [hard]", "      on: [hard, 3]")], ("KS103", 52, 18)),
    ("level-not-a-number", [("    - level: 3", "    - level: three")], ("KS103", 50, 14)),
    ("trigger-confirmation-bare-number", [("      for: 3 ticks", "      for: 3")], ("KS113", 23, 12)),
    ("yaml-unclosed-bracket", [("on: [soft]", "on: [soft")], ("KS002", 36, 11)),
    ("yaml-key-without-colon", [("      name: close-losing-side", "      name close-losing-side")], ("KS002", 42, 7)),
    ("yaml-duplicate-key", [("      cooldown: 30m", "      cooldown: 30m\n      cooldown: 1h")], ("KS003", 38, 7)),
]


@pytest.mark.parametrize("edits,expected", [c[1:] for c in ONE_MISTAKE], ids=[c[0] for c in ONE_MISTAKE])
def test_one_mistake_gives_one_finding_and_the_test_file_says_once_that_its_policy_has_errors(edits, expected):
    result = compile_with_test(edit(POLICY, *edits))
    assert found(result) == {("p.yaml", *expected), TEST_NOTE}, "\n".join(
        f"{x.location()} {x.code} {x.message}" for x in result.diagnostics)
    note = next(x for x in result.diagnostics if x.file == "t.yaml")
    assert note.message == 'policy "futures-book" has errors, so this test cannot run'
    assert all(x.hint for x in result.diagnostics)


def test_before_this_change_these_were_cascades():
    """The messages the issue quotes never come back for a stage that lost one field."""
    for edits in ([("      cooldown: 30m", "      cooldwon: 10m")],
                  [("        - close_all", "        - close_everything")],
                  [("on: [soft]", "on: [soft")]):
        messages = [x.message for x in compile_with_test(edit(POLICY, *edits)).diagnostics]
        assert not any("has no stage at level" in m or "unknown policy" in m or "is not a stage level" in m
                       or "no stage at level" in m for m in messages), messages


def test_an_unknown_action_says_which_and_suggests_the_closest():
    result = compile_with_test(edit(POLICY, ("        - close_all", "        - close_al")))
    [x] = [x for x in result.diagnostics if x.file == "p.yaml"]
    assert x.message == 'stages[2].actions[1]: unknown action "close_al"'
    assert x.hint is not None and x.hint.startswith('did you mean "close_all"?')
    result = compile_with_test(edit(POLICY, ("        - close_all", "        - close_everything")))
    [x] = [x for x in result.diagnostics if x.file == "p.yaml"]
    assert "expected a valid dictionary" not in x.message and "close_all" in (x.hint or "")


@pytest.mark.parametrize("written,best", [("equity_drawdwn", "equity_drawdown"), ("dataage", "data_age")])
def test_an_unknown_signal_kind_suggests_the_closest(written, best):
    for form in (written, f"{{{written}: {{window: 1h}}}}"):
        policy = edit(POLICY, ("dd_1h:  {equity_drawdown: {window: 1h, min_coverage: 80%}}", f"dd_1h: {form}"))
        errors = [x for x in compile_with_test(policy).errors if x.file == "p.yaml"]
        assert [x.code for x in errors] in (["KS103"], ["KS101"]), errors
        assert f'unknown signal kind "{written}"' in errors[0].message
        assert (errors[0].hint or "").startswith(f'did you mean "{best}"?')


def test_a_stage_with_a_bad_name_is_kept_and_called_by_its_written_name():
    """Its other mistakes are still found, and name the stage as the author wrote it."""
    result = compile_with_test(edit(POLICY, ("name: flatten", "name: Flatten All"), ("on: [hard]", "on: [hrad]")))
    by_code = {x.code: x for x in result.diagnostics if x.file == "p.yaml"}
    assert set(by_code) == {"KS103", "KS104"}
    assert by_code["KS104"].message == 'stage "Flatten All" uses unknown trigger "hrad"'
    assert (by_code["KS104"].hint or "").startswith('did you mean "hard"?')


def test_mistakes_of_the_test_file_itself_are_still_reported_against_a_salvaged_policy():
    """Salvage hides consequences, not mistakes: a misspelled trigger or a level the policy does
    not have, in the test file, is found although the policy has an error of its own."""
    test = edit(TEST, ("firing: [soft]}", "firing: [sfot]}"), ("{at: 32m, stage: 2}", "{at: 32m, stage: 4}"))
    result = compile_with_test(edit(POLICY, ("      cooldown: 30m", "      cooldwon: 10m")), test)
    in_test = {(x.code, x.message) for x in result.diagnostics if x.file == "t.yaml"}
    assert in_test == {
        ("KS130", 'policy "futures-book" has errors, so this test cannot run'),
        ("KS104", 'policy "futures-book" has no trigger "sfot"'),
        ("KS104", 'policy "futures-book" has no stage at level 4'),
    }


def test_a_trigger_dropped_by_salvage_is_still_declared_for_the_test_file():
    result = compile_with_test(edit(POLICY, ("      for: 3 ticks", "      for: 3")))
    assert not [x for x in result.diagnostics if x.file == "t.yaml" and x.code == "KS104"]


def test_levels_are_not_judged_when_a_stage_had_to_be_dropped():
    """A stage whose level cannot be read may be any level: neither resume.from_level nor the
    test file's expected stages are reported against the levels that are left (what is lost: a
    test expecting a level the policy really lacks goes unreported until the level is fixed)."""
    result = compile_with_test(edit(POLICY, ("    - level: 3", "    - level: three")),
                               edit(TEST, ("{at: 32m, stage: 2}", "{at: 32m, stage: 7}")))
    assert found(result) == {("p.yaml", "KS103", 50, 14), TEST_NOTE}


MANUAL_BELOW = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: p}
    spec:
      signals: {dd: {equity_drawdown: {window: 15m}}}
      triggers:
        soft: {when: "dd >= 5%", on_missing_data: hold}
        hard: {when: "dd >= 10%", on_missing_data: hold}
      stages:
        - {level: 1, name: halt, on: [soft], reset: manual, actions: [close_all]}
        - {level: 2, name: flatten, on: [hard], reset: manul, actions: [close_all]}
    """)


def test_a_dropped_reset_is_not_judged_as_the_default_auto():
    """Stage 2's reset is misspelled: its default (auto) would be a KS203 above the manual stage 1,
    a finding about something the author did not write."""
    result = compile_documents(load_sources([("p.yaml", MANUAL_BELOW)]))
    assert [(x.code, x.pos.line if x.pos else 0) for x in result.diagnostics] == [("KS103", 11)]
    # and the check still works on what was written
    fixed = MANUAL_BELOW.replace("reset: manul", "reset: auto")
    assert [x.code for x in compile_documents(load_sources([("p.yaml", fixed)])).diagnostics] == ["KS203"]


def test_an_unknown_stage_key_that_resembles_nothing_makes_the_whole_stage_unjudged():
    text = MANUAL_BELOW.replace("reset: manul", "zzz: 1")
    result = compile_documents(load_sources([("p.yaml", text)]))
    assert [x.code for x in result.diagnostics] == ["KS101"]


def test_a_test_of_a_policy_whose_yaml_breaks_before_its_name_names_the_unreadable_file():
    broken = "apiVersion: killswitch/v1\nkind: Policy\nmetadata: {name: [futures-book\n"
    result = compile_with_test(broken)
    [note] = [x for x in result.diagnostics if x.file == "t.yaml"]
    assert note.code == "KS130" and "p.yaml could not be read" in (note.hint or "")


def test_a_test_naming_a_policy_that_does_not_exist_is_still_unknown():
    test = TEST.replace("policy: futures-book", "policy: futures-bok")
    [x] = [x for x in compile_with_test(POLICY, test).diagnostics]
    assert (x.code, x.message) == ("KS104", 'test names unknown policy "futures-bok"')
    assert (x.hint or "").startswith('did you mean "futures-book"?')


def test_a_threshold_that_can_never_hold_is_not_also_compared_with_the_other_stages():
    """dd_15m >= 150% is KS212; that stage 2 then "fires before" stage 1 is its consequence."""
    result = compile_with_test(edit(POLICY, ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: dd_15m >= 150%")))
    assert [(x.code, x.pos.line if x.pos else 0) for x in result.diagnostics if x.file == "p.yaml"] == [("KS212", 22)]


GROUPED = edit(POLICY, ("close_side: {side: losing}", "close_positions: {correlation_group: majors}"))


@pytest.mark.parametrize("edits,expected", [
    ([("  correlation_groups:", "  correlation_group:")], ("KS101", 66, 3)),
    ([("- {name: majors,", "- {name: major s,")], ("KS103", 67, 14)),
    ([("- {name: majors, symbols: [BTC/USDT:USDT, ETH/USDT:USDT]}", "- {name: majors, symbols: BTC}")],
     ("KS103", 67, 31)),
], ids=["section-misspelled", "group-name-invalid", "group-symbols-not-a-list"])
def test_a_broken_correlation_group_is_not_reported_again_where_it_is_used(edits, expected):
    assert compile_with_test(GROUPED).diagnostics == []
    result = compile_with_test(edit(GROUPED, *edits))
    assert found(result) == {("p.yaml", *expected), TEST_NOTE}, [x.message for x in result.diagnostics]


def test_a_misspelled_scope_is_reported_once_beside_a_policy_of_the_default_scope():
    """scop: is an unknown key; the default scope stands in, beside a policy that really has the
    default scope and other stages at level 1: only the unknown key is reported."""
    other = textwrap.dedent("""\
        apiVersion: killswitch/v1
        kind: Policy
        metadata: {name: other}
        spec:
          signals: {dd: {equity_drawdown: {window: 15m}}}
          triggers: {t: {when: "dd >= 5%", on_missing_data: hold}}
          stages: [{level: 1, name: halt, on: [t], actions: [close_all]}]
        """)
    mine = other.replace("name: other", "name: mine").replace("name: halt", "name: cut").replace(
        "spec:\n", "spec:\n  scop: {level: venue}\n")
    result = compile_documents(load_sources([("o.yaml", other), ("m.yaml", mine)]))
    assert [(x.file, x.code) for x in result.diagnostics] == [("m.yaml", "KS101")]
    fixed = mine.replace("  scop: {level: venue}\n", "")
    assert compile_documents(load_sources([("o.yaml", other), ("m.yaml", fixed)])).errors == []


def test_a_control_character_is_placed_and_the_policy_keeps_its_name():
    """ruamel refuses a NUL or an escape before it parses anything; the error says where it is,
    and the test file still learns that its policy has errors rather than that it is unknown."""
    result = compile_with_test(edit(POLICY, ("      cooldown: 30m", "      cooldown: 30m\x1b")))
    assert found(result) == {("p.yaml", "KS002", 37, 20), TEST_NOTE}
    [x] = [x for x in result.diagnostics if x.file == "p.yaml"]
    assert x.message.startswith("character U+001B is not allowed in YAML")


def test_a_policy_naming_accounts_of_an_accounts_file_that_does_not_parse_is_not_judged():
    accounts = (POLICIES / "accounts.yaml").read_text()
    policy = edit(POLICY, ("accounts: {match_labels: {book: futures}}", "accounts: {names: [binance-futures-main]}"))
    good = compile_documents(load_sources([("p.yaml", policy), ("r.yaml", ROUTES), ("a.yaml", accounts)]))
    assert good.diagnostics == []
    typo = compile_documents(load_sources([("p.yaml", policy.replace("futures-main]", "futures-mian]")),
                                           ("r.yaml", ROUTES), ("a.yaml", accounts)]))
    assert [x.code for x in typo.diagnostics] == ["KS104"]  # a misspelled account is still found
    broken = accounts.replace("  accounts:", "  accounts: [", 1)
    result = compile_documents(load_sources([("p.yaml", policy), ("r.yaml", ROUTES), ("a.yaml", broken)]))
    assert [(x.file, x.code) for x in result.diagnostics] == [("a.yaml", "KS002")]
