"""An account's ``settle_coins`` names the settle coins its venue lists positions and orders by
(Bybit: one list a coin, issue "Venue truth", finding 4). A coin the venue does not settle in, or
settle_coins on a venue that does not read it, would be a list never asked for: KS220 at the
entry, in ``ksctl validate`` and where the runner reads its accounts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.process.bootstrap import AccountsError, read_accounts
from tests.conftest import POLICIES

BYBIT = "      venue: bybit\n      market_type: futures\n"
BINANCE = "      venue: binanceusdm\n      market_type: futures\n"


def accounts(tmp_path, after: str, line: str):
    text = (POLICIES / "accounts.yaml").read_text()
    assert after in text
    path = tmp_path / "accounts.yaml"
    path.write_text(text.replace(after, after + line, 1))
    return path


def validate(path):
    return CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)


def test_a_misspelt_settle_coin_is_refused_with_the_closest_one(tmp_path):
    path = accounts(tmp_path, BYBIT, "      settle_coins: [USDC, USDTT]\n")
    r = validate(path)
    assert r.exit_code == 1, r.output
    line = f'{path}:24:28: error[KS220]: account "bybit-futures": venue "bybit" does not settle in "USDTT"'
    assert line in r.output, r.output
    assert 'hint: did you mean "USDT"? bybit settles in USDT, USDC, BTC, ETH' \
        in r.output, r.output


def test_settle_coins_on_a_venue_that_does_not_read_them_is_an_error(tmp_path):
    path = accounts(tmp_path, BINANCE, "      settle_coins: [USDT]\n")
    r = validate(path)
    assert r.exit_code == 1, r.output
    assert (f'{path}:14:22: error[KS220]: account "binance-futures-main": settle_coins is not read for venue '
            '"binanceusdm"') in r.output, r.output
    assert "venues that read it: bybit" in r.output


def test_declared_coins_the_venue_settles_in_are_accepted(tmp_path):
    r = validate(accounts(tmp_path, BYBIT, "      settle_coins: [USDT, USDC, BTC]\n"))
    assert r.exit_code == 0 and "KS220" not in r.output, r.output


def test_the_runner_refuses_accounts_with_an_unknown_settle_coin(tmp_path):
    with pytest.raises(AccountsError) as e:
        read_accounts(str(accounts(tmp_path, BYBIT, "      settle_coins: [USDTT]\n")))
    assert [x.code for x in e.value.diagnostics] == ["KS220"]
