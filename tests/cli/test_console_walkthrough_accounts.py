"""What docs/console.md's walk-throughs teach holds: the Accounts document of *a bot that will
not stop* names bot-a's client order id prefix, the bot's ccxt order carries an id with it (a
lock violation is then bot-a's, not ``strategy unknown``), and quick-watch narrowed to
``sim-main`` as the doc writes it compiles against that document."""

from __future__ import annotations

import re

from killswitch.attribution import strategy_of
from killswitch.policy.accounts_doc import Accounts
from killswitch.sources import compile_sources
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "console.md").read_text()


def _heredoc(name: str) -> str:
    m = re.search(rf"^cat > /tmp/{re.escape(name)} <<'YAML'\n(.*?)^YAML$", DOC, re.M | re.S)
    assert m is not None, name
    return m.group(1)


def test_the_bots_client_order_id_names_bot_a(tmp_path):
    (tmp_path / "sim-live.yaml").write_text(_heredoc("sim-live.yaml"))
    result, _ = compile_sources((str(tmp_path),), allow_empty=True)
    assert not result.errors, result.errors
    (doc,) = [d.model for d in result.docs if isinstance(d.model, Accounts)]
    (main,) = doc.spec.accounts
    assert main.client_id_prefixes() == {"bot-a-": "bot-a"}
    ids = re.findall(r'params=\{"clientOrderId": "([^"]+)"\}', DOC)
    assert ids, "the bot's ccxt order sets no clientOrderId"
    assert {strategy_of(i, main.client_id_prefixes()) for i in ids} == {"bot-a"}
    assert strategy_of("x-cvBPrNm9abc", main.client_id_prefixes()) is None  # ccxt's own id: no strategy


def test_quick_watch_narrowed_to_sim_main_as_written_compiles(tmp_path):
    quick = _heredoc("quick.yaml")
    scope = re.search(r"`(scope: \{level: account, accounts: \{names: \[[^]]+\]\}\})`", DOC)
    assert scope is not None, "the doc says how to narrow quick-watch"
    narrowed = quick.replace("  scope: {level: venue, venues: [binanceusdm]}\n", f"  {scope.group(1)}\n")
    assert narrowed != quick
    (tmp_path / "quick.yaml").write_text(narrowed)
    (tmp_path / "sim-live.yaml").write_text(_heredoc("sim-live.yaml"))
    result, _ = compile_sources((str(tmp_path),))
    assert not result.errors, result.errors
    assert result.graph.policies[0].scope["accounts"]["names"] == ["binanceusdm/sim-main"]


def test_every_walk_through_account_declares_the_position_mode_the_simulator_runs_it_in(tmp_path):
    # an account declared one-way that the venue runs in hedge mode reads POSITION_MODE_MISMATCH
    # (a red problem and a page) from the first tick: no walk-through means to show that
    from adapters.simulated import build
    from adapters.simulated.accounts import ManualClock

    engine = build("flash-crash", ManualClock(0))
    names = re.findall(r"^cat > /tmp/([\w-]+\.yaml) <<'YAML'$", DOC, re.M)
    checked = []
    for name in names:
        text = _heredoc(name)
        if "kind: Accounts" not in text:
            continue
        (tmp_path / name).write_text(text)
        result, _ = compile_sources((str(tmp_path / name),), allow_empty=True)
        assert not result.errors, (name, result.errors)
        (doc,) = [d.model for d in result.docs if isinstance(d.model, Accounts)]
        for account in doc.spec.accounts:
            assert account.hedge_mode == engine.hedge_mode(account.name), (name, account.name)
            checked.append(account.name)
    assert "sim-hedge" in checked and "sim-main" in checked
