"""``paced_by_venue``: an account whose venue, at the ``api_url`` it names, paces requests itself
(the simulated exchange, a gateway enforcing the venue's limits). Its ccxt client runs without
ccxt's throttle, its orders still spend the order budget; without an ``api_url`` (the public
venue) it is refused at validate (KS224, at the key) and the client's pacing is kept anyway."""

from __future__ import annotations

import asyncio
import logging

import pytest
from click.testing import CliRunner

from killswitch.cli.main import cli
from killswitch.policy.accounts_doc import Account

ACCOUNTS = """\
apiVersion: killswitch/v1
kind: Accounts
metadata: {{name: desk}}
spec:
  accounts:
    - name: sim-main
      venue: binanceusdm
      market_type: futures
{extra}"""


def _validate(tmp_path, extra: str):
    path = tmp_path / "accounts.yaml"
    path.write_text(ACCOUNTS.format(extra=extra))
    return path, CliRunner().invoke(cli, ["validate", str(path)], catch_exceptions=False)


def test_paced_by_venue_without_an_api_url_is_refused_at_the_key(tmp_path):
    path, r = _validate(tmp_path, "      paced_by_venue: true\n")
    assert r.exit_code == 1, r.output
    assert (f'{path}:9:7: error[KS224]: account "sim-main": paced_by_venue without an api_url: binanceusdm\'s '
            "public API paces no client, it bans one over its limits") in r.output, r.output
    assert "remove it to keep the client's pacing" in r.output


@pytest.mark.parametrize("extra", ["      api_url: http://127.0.0.1:8099\n      paced_by_venue: true\n",
                                   "      paced_by_venue: false\n", ""])
def test_paced_by_venue_with_an_api_url_or_not_asked_is_valid(tmp_path, extra):
    _, r = _validate(tmp_path, extra)
    assert r.exit_code == 0 and "KS224" not in r.output, r.output


def test_a_typo_of_the_option_is_refused(tmp_path):
    _, r = _validate(tmp_path, "      api_url: http://127.0.0.1:8099\n      paced_by_vennue: true\n")
    assert r.exit_code == 1 and "paced_by_vennue" in r.output, r.output


def _account(**kw) -> Account:
    return Account.model_validate({"name": "sim-main", "venue": "binanceusdm", "market_type": "futures", **kw})


def test_the_runner_leaves_pacing_to_the_venue_only_at_an_api_url_and_still_budgets_orders(caplog):
    from adapters.ccxt_exchange.budget import OrderBudget, RequestPacer
    from killswitch.process.bootstrap import ccxt_adapters

    caplog.set_level(logging.INFO, logger="killswitch.runner")
    accounts = [
        _account(api_url="http://127.0.0.1:9", paced_by_venue=True),
        _account(name="gateway-less", paced_by_venue=True),  # (KS224 at validate) the client keeps pacing
        _account(name="plain", api_url="http://127.0.0.1:9"),
    ]
    built = ccxt_adapters(accounts)
    try:
        paced, public, plain = (built.by_key[f"binanceusdm/{n}"] for n in ("sim-main", "gateway-less", "plain"))
        assert paced._ex.enableRateLimit is False and not isinstance(paced._ex.throttle, RequestPacer)
        for a in (public, plain):
            assert a._ex.enableRateLimit is True and isinstance(a._ex.throttle, RequestPacer)
        # every account's orders spend the order budget at the venue's order rate
        for a in (paced, public, plain):
            assert isinstance(a.budget, OrderBudget) and a.budget.rate == a.dialect.limits.orders
    finally:
        asyncio.run(built.close())
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("VENUE_PACED:")]
    assert said == ["VENUE_PACED: binanceusdm/sim-main: requests paced by the venue at http://127.0.0.1:9 "
                    "(paced_by_venue), not by the client; orders by the order budget"], said



def test_the_runner_refuses_accounts_that_would_leave_a_public_venue_unpaced(tmp_path):
    from killswitch.process.bootstrap import AccountsError, read_accounts

    path, _ = _validate(tmp_path, "      paced_by_venue: true\n")
    with pytest.raises(AccountsError) as e:
        read_accounts(str(path))
    assert [x.code for x in e.value.diagnostics] == ["KS224"]
