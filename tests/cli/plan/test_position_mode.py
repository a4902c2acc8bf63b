"""``ksctl plan`` over live accounts says, per account, which position mode the venue read and
whether it is the one the Accounts document declares: the mode its closes would be built for
(the simulated exchange's Binance USDⓈ-M face, where ``sim-hedge`` is in hedge mode)."""

from __future__ import annotations

from click.testing import CliRunner

from killswitch.cli.main import cli
from tests.cli.plan.test_previews import FUTURES_BOOK, GOOD, accounts_doc, sim_exchange


def plan_stderr(tmp_path, hedge_declared: bool) -> str:
    with sim_exchange() as url:
        acc = accounts_doc(tmp_path, url)
        if not hedge_declared:
            acc.write_text(acc.read_text().replace("hedge_mode: true", "hedge_mode: false"))
        r = CliRunner().invoke(cli, ["plan", "--policies", str(FUTURES_BOOK), "--accounts", str(acc)], env=GOOD,
                               catch_exceptions=False)
    return r.stderr


def test_plan_says_the_mode_each_venue_read_and_a_mismatch_with_the_declaration(tmp_path):
    err = plan_stderr(tmp_path, hedge_declared=False)
    assert ("ksctl plan: binanceusdm/sim-hedge: position mode hedge; POSITION_MODE_MISMATCH: declared one-way, the "
            "venue reads hedge (GET /fapi/v3/positionRisk positionSide): closes would be sent as the venue's mode"
            ) in err, err
    assert ("ksctl plan: binanceusdm/sim-main: position mode one-way (read from GET /fapi/v3/positionRisk "
            "positionSide), as declared") in err, err


def test_plan_says_an_agreeing_mode_as_declared(tmp_path):
    err = plan_stderr(tmp_path, hedge_declared=True)
    assert "binanceusdm/sim-hedge: position mode hedge" in err and "POSITION_MODE_MISMATCH" not in err, err
