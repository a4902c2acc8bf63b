"""Every diagnostic carries a hint (the docs promise one for every problem), and every code the
loader and compiler can emit is walked here: the test fails when a code of
killswitch/policy/diagnostics.py is produced by nothing below, or when anything below produces a
diagnostic without a hint.

What is walked: every broken-policy fixture (tests/fixtures/bad/, and its templates/ folder with a
template check), files that cannot be read, hold nothing or are over the size limit (through killswitch.sources), and a
table of single edits of the example policies. The fuzz test (test_fuzz_policies.py) asks the same
of thousands of generated mistakes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from killswitch.compile.compiler import compile_documents
from killswitch.compile.dms_check import dms_findings
from killswitch.compile.revoke_check import revoke_findings
from killswitch.compile.scope_check import ActionUse
from killswitch.compile.weight_check import check_weight_budget
from killswitch.policy import diagnostics as d
from killswitch.policy.accounts_doc import Account
from killswitch.policy.load import load_sources, load_text
from killswitch.policy.scope import Scope
from killswitch.preview.limits import unlisted_limit_symbols
from killswitch.runbooks.check import TemplateCheck
from killswitch.snapshot import Snapshot
from killswitch.sources import compile_read, read_sources
from killswitch.weights import Read, SnapshotCost, WeightLimit
from tests.conftest import POLICIES, ROOT

BAD = ROOT / "tests" / "fixtures" / "bad"
TEMPLATES = BAD / "templates"
# Declared in the catalogue, emitted by nothing (checked below: no module names it).
NEVER_EMITTED = {"KS900"}

FUTURES = (POLICIES / "futures-book.yaml").read_text()
ROUTES = (POLICIES / "routes.yaml").read_text()
ACCOUNTS = (POLICIES / "accounts.yaml").read_text()
TEST = (POLICIES / "tests" / "futures-book.test.yaml").read_text()

# Single edits of futures-book.yaml, compiled with its routes, accounts and test file: the type,
# range and reference errors pydantic and the compiler can give, beside those the fixtures show.
EDITS = [
    ("  interval: 5s", "  interval: 50ms"),
    ("  interval: 5s", "  interval: [5s]"),
    ("    level: account", "    level: acount"),
    ("{match_labels: {book: futures}}", "{match_labels: {book: futurs}}"),
    ("{match_labels: {book: futures}}", "{match_labels: {book: futures}}\n    venues: [binance]"),
    ("{match_labels: {book: futures}}", "{match_labels: {book: options}}\n    allow_empty: yes"),
    ("  scope:\n    level: account\n    accounts: {match_labels: {book: futures}}", "  scope: account"),
    ("approvals: 2", "approvals: 20"),
    ("approvals: 2", "approvals: two"),
    ("    - level: 1", "    - level: 0"),
    ("      on: [soft]", "      on: soft"),
    ("      on: [soft]", "      on: [soft, 3]"),
    ("count: 3,", "count: 3.5,"),
    ("count: 3,", "count: many,"),
    ("side: losing,", "side: 3,"),
    ("fraction: 50%", "fraction: 150%"),
    ("fraction: 50%", "fraction: half"),
    ("fraction: 50%", "fraction: [50%]"),
    ("        - close_all", "        - close_everything"),
    ("        - close_all", "        - 7"),
    ("        - close_all", "        - {close_all: {}, cancel_orders: all}"),
    ("dd_1h:  {equity_drawdown: {window: 1h, min_coverage: 80%}}", "dd_1h: equity_drawdwn"),
    ("dd_1h:  {equity_drawdown: {window: 1h, min_coverage: 80%}}", "dd_1h: 5"),
    ("dd_1h:  {equity_drawdown: {window: 1h, min_coverage: 80%}}", "dd_1h: {equity_change: {against: baseline}}"),
    ("dd_1h:  {equity_drawdown: {window: 1h, min_coverage: 80%}}",
     "dd_1h: {equity_change: {against: day_open, baseline: 1M}}"),
    ("min_coverage: 80%}}\n    dd_1h", "min_coverage: 80}}\n    dd_1h"),
    ("min_coverage: 80%}}\n    dd_1h", "min_coverage: true}}\n    dd_1h"),
    ("window: 15m", "window: 15"),
    ("window: 15m", "window: 1.00001ms"),
    ("window: 15m", "window: {}"),
    ("      for: 3 ticks", "      for: 0 ticks"),
    ("      for: 3 ticks", "      for: 3"),
    ("      for: 3 ticks", "      for: soon"),
    ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: dd_15m >= 0.045"),
    ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: dd_15m >= -5s"),
    ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: 4.5%"),
    ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: (dd_15m >= 4.5%) >= true"),
    ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: dd_15m >= 4,5%"),
    ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: dd_15m >= 4.5% ||"),
    ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: dd_15m >= 4.5 pct"),
    ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: dd_15m >= 150%"),
    ("when: dd_15m >= 4.5% || dd_1h >= 7%", "when: 1 >= 2"),
    ("threshold: 25k", "threshold: 25,000"),
    ("threshold: 25k", "threshold: {}"),
    ("max_gross_exposure: 2M", "max_gross_exposure: 0"),
    ("step: x1.5", "step: x20"),
    ("step: x1.5", "step: fast"),
    ("step: x1.5", "step: [2]"),
    ("every: 1d", "every: 1s"),
    ("start: 25%", "start: 0%"),
    ("start: 25%, step: x1.5", "start: 0.0001%, step: x1.0001"),
    (", max_positions: 12, max_gross_exposure: 2M}", "}"),
    ("  resume: {start: 25%", "  limits: {max_order_notional: 5%, price_collar: 250}\n  resume: {start: 25%"),
    ("  resume: {start: 25%", "  limits: {price_collar: 100%, symbols: {BTC/USDT:USDT: {max_open_orders: 0}}}\n"
                             "  resume: {start: 25%"),
    ("runbook: flatten.md.j2", "runbook: ../flatten.md.j2"),
    ("pnl_delta: 0.40", "pnl_delta: 4"),
    ("pnl_delta: 0.40", "pnl_delta: lots"),
    ("missing_reference: since_open", "missing_reference: sinceopen"),
    ("orders_per_second: exchange", "orders_per_second: fast"),
    ("- {name: majors, symbols: [BTC/USDT:USDT, ETH/USDT:USDT]}", "- {name: majors, symbols: [BTC/USDT:USDT]}"),
    ("- {name: majors,", "- {name: major-s,"),
    ("  name: futures-book", "  name: Futures Book"),
    ("  owner: risk-desk", "  owner: [risk-desk]"),
    ("    dd_15m:", "    dd-15m:"),
    ("  triggers:", "  triggers: []\n  triggerz:"),
    ("      cooldown: 30m", "      cooldwon: 10m"),
    ("  notify: {route: desk}", "  notify: {route: dsek}"),
    ("  notify: {route: desk}", "  notify: {}"),
    ("kind: Policy", "kind: policy"),
    ("kind: Policy", "kind: 3"),
    ("apiVersion: killswitch/v1", "apiVersion: killswitch/v2"),
    ("on: [soft]", "on: [soft"),
    ("      name: close-losing-side", "      name close-losing-side"),
    ("    - level: 2", "    -level: 2"),
    ("      for: 3 ticks", "       for: 3 ticks"),
    ("      for: 3 ticks", "     for: 3 ticks"),
    ("  owner: risk-desk", "  owner: risk-desk\n  owner: desk"),
    ("  owner: risk-desk", '  owner: "risk-desk'),
    ("  owner: risk-desk", "  owner: risk-desk: desk"),
    ("  owner: risk-desk", "\towner: risk-desk"),
    ("  owner: risk-desk", "  owner: !tag risk-desk"),
    ("  owner: risk-desk", '  owner: "\\q"'),
]


def _edit(old: str, new: str) -> str:
    assert old in FUTURES, old
    return FUTURES.replace(old, new, 1)


def _corpus(tmp_path: Path) -> list[d.Diagnostic]:
    out: list[d.Diagnostic] = []
    for p in sorted(BAD.glob("*.bad.yaml")):
        out += compile_documents(load_text(p.read_text(encoding="utf-8"), str(p))).diagnostics
    for p in sorted(TEMPLATES.glob("*.bad.yaml")):
        out += compile_documents(load_text(p.read_text(encoding="utf-8"), str(p)),
                                 templates=TemplateCheck(TEMPLATES / "runbooks")).diagnostics
        out += compile_documents(load_text(p.read_text(encoding="utf-8"), str(p)),
                                 templates=TemplateCheck(None)).diagnostics
    for old, new in EDITS:
        out += compile_documents(load_sources([("p.yaml", _edit(old, new)), ("r.yaml", ROUTES),
                                               ("a.yaml", ACCOUNTS), ("t.yaml", TEST)])).diagnostics
    (tmp_path / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "blank.yaml").write_text("# nothing yet\n")
    src = read_sources([str(tmp_path / "latin1.yaml"), str(tmp_path / "missing.yaml"), str(tmp_path / "empty"),
                        str(tmp_path / "blank.yaml")])
    out += compile_read(src).diagnostics
    # the REST weight budget (ksctl validate hands the dialects' costs in): over it, then near it
    accounts = load_sources([("a.yaml", ACCOUNTS)]).docs
    for weight in (1000, 190):  # each venue's one account × weight × 12 snapshots a minute against 2,400
        cost = (SnapshotCost((Read("GET /x", weight),)), WeightLimit(2400, 60.0, "weight", "ip", "-"))
        out += check_weight_budget(accounts, 5.0, lambda acc, cost=cost: cost)
    out += check_weight_budget(accounts, 5.0, lambda acc: None)  # a venue that declares no costs
    # more streamed accounts than one runner holds (the ceiling lowered to what the file declares)
    from killswitch.compile.ceiling_check import check_ceiling

    streamed = load_sources([("s.yaml", ACCOUNTS.replace("market_type: futures", "market_type: futures\n"
                                                                                "      stream: {}", 1))]).docs
    out += check_ceiling(streamed, ceiling=0)
    # the venue's switch of the bots' keys: a block its venue cannot serve (a sub-account in
    # another venue's form), and a revoke_trading whose scope reaches accounts without the switch
    revoke = ("      revoke: {master_credentials: {api_key: {env: K}, secret: {env: S}}, sub_account: a@b, "
              "api_keys: [k]}\n")
    out += compile_documents(load_sources([("a.yaml", ACCOUNTS.replace(
        "      venue: bybit\n", "      venue: bybit\n" + revoke, 1))])).diagnostics
    declared = [acc for doc in accounts for acc in doc.model.spec.accounts]
    out += revoke_findings(declared, [ActionUse("p.yaml", d.Position(1, 1), Scope.model_validate({}))])
    # an arm_exchange_dms whose scope reaches an account whose venue keeps no countdown (MEXC)
    mexc = Account.model_validate({"name": "m", "venue": "mexc", "market_type": "futures",
                                   "credentials": {"api_key": {"env": "K"}, "secret": {"env": "S"}}})
    out += dms_findings([mexc], [ActionUse("p.yaml", d.Position(1, 1), Scope.model_validate({}))])
    # a limit on a symbol the venue does not list (ksctl plan over live accounts hands the lists in)
    limited = compile_documents(load_sources([("p.yaml", _edit("  resume: {start: 25%", "  limits: {symbols: {"
                                                               "BTC/USDT: {max_order_quantity: 5}}}\n  resume: "
                                                               "{start: 25%")), ("r.yaml", ROUTES)])).graph
    assert limited is not None
    listed = Snapshot(venue="binanceusdm", account="main", market_type="futures", ts_event=0,
                      labels={"book": "futures"})
    out += unlisted_limit_symbols(limited, [listed], {"binanceusdm/main": frozenset({"BTC/USDT:USDT"})})
    (tmp_path / "big.yaml").write_text(FUTURES)  # over a limit set below its size
    out += compile_read(read_sources([str(tmp_path / "big.yaml")], max_file_bytes=len(FUTURES) // 2)).diagnostics
    return out


def test_every_code_is_walked_and_every_diagnostic_has_a_hint(tmp_path):
    diags = _corpus(tmp_path)
    no_hint = sorted({f"{x.code} {x.location()}: {x.message}" for x in diags if not (x.hint or "").strip()})
    assert not no_hint, "diagnostics without a hint:\n  " + "\n  ".join(no_hint)
    walked = {x.code for x in diags}
    assert walked <= set(d.CODES)
    missing = set(d.CODES) - NEVER_EMITTED - walked
    assert not missing, f"codes the loader or compiler can emit that no case here produced: {sorted(missing)}"


def test_the_codes_said_never_to_be_emitted_are_named_by_no_module():
    pattern = re.compile(r"\b(" + "|".join(sorted(NEVER_EMITTED)) + r")\b")
    users = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "killswitch").rglob("*.py"))
             if p.name != "diagnostics.py" and pattern.search(p.read_text())]
    assert not users, f"now emitted, so it needs a case in this test: {users}"


# Wherever a name is expected, a misspelled one gets the closest declared name.
DID_YOU_MEAN = [
    ("action", ("        - close_all", "        - close_al"), "close_all"),
    ("action as a key", ("        - close_all", "        - {close_al: {}}"), "close_all"),
    ("signal kind", ("dd_1h:  {equity_drawdown: {window: 1h, min_coverage: 80%}}", "dd_1h: equity_drawdwn"),
     "equity_drawdown"),
    ("signal in a condition", ("dd_15m >= 4.5% ||", "dd_15n >= 4.5% ||"), "dd_15m"),
    ("key", ("      cooldown: 30m", "      cooldwon: 30m"), "cooldown"),
    ("trigger of a stage", ("      on: [soft]", "      on: [sotf]"), "soft"),
    ("value of a choice", ("      reset: manual", "      reset: manul"), "manual"),
    ("notification route", ("  notify: {route: desk}", "  notify: {route: dsek}"), "desk"),
    ("correlation group", ("close_side: {side: losing}", "close_positions: {correlation_group: majros}"),
     "majors"),
]


@pytest.mark.parametrize("case", DID_YOU_MEAN, ids=[c[0] for c in DID_YOU_MEAN])
def test_a_misspelled_name_gets_the_closest_one(case):
    _, (old, new), best = case
    result = compile_documents(load_sources([("p.yaml", _edit(old, new)), ("r.yaml", ROUTES)]))
    errors = [x for x in result.errors if x.file == "p.yaml"]
    assert errors, result.diagnostics
    assert any((x.hint or "").startswith(f'did you mean "{best}"?') for x in errors), [
        (x.code, x.message, x.hint) for x in errors]


def test_a_test_naming_a_misspelled_policy_or_trigger_gets_the_closest():
    test = TEST.replace("policy: futures-book", "policy: futures-bok")
    [x] = compile_documents(load_sources([("p.yaml", FUTURES), ("r.yaml", ROUTES), ("t.yaml", test)])).diagnostics
    assert (x.hint or "").startswith('did you mean "futures-book"?')
    test = TEST.replace("firing: [soft]}", "firing: [sotf]}")
    [x] = compile_documents(load_sources([("p.yaml", FUTURES), ("r.yaml", ROUTES), ("t.yaml", test)])).diagnostics
    assert (x.hint or "").startswith('did you mean "soft"?')
