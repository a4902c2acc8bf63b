"""The adapter protocol's own guarantees: secrets never print, closes are checked before sending."""

import pytest

from adapters.base import AdapterError, Capabilities, Reason, check_close, order_rates
from adapters.credentials import Secret, resolve_secret
from killswitch.engine.planner import OrderIntent
from killswitch.policy.accounts_doc import SecretRef

SECRET = "sk_live_do_not_print_0123456789"


def intent(amount=1.0, reduce_only=True, side="sell", position_side=None):
    return OrderIntent("d", "ks0", "binanceusdm", "main", "BTC/USDT:USDT", side, position_side, amount, reduce_only,
                       None, amount * 100, 1, 1, 0, "close_all", "CLOSE_ALL")


def test_secret_never_shows_in_repr_str_or_format():
    s = Secret(SECRET)
    for text in (repr(s), str(s), f"{s}", f"{s!r}", "%s" % s, str([s]), str({"k": s})):
        assert SECRET not in text
    assert s.reveal() == SECRET


def test_resolve_secret_from_env_and_file(monkeypatch, tmp_path):
    monkeypatch.setenv("KS_TEST_KEY", SECRET)
    assert resolve_secret(SecretRef(env="KS_TEST_KEY")).reveal() == SECRET
    f = tmp_path / "secret"
    f.write_text(SECRET + "\n")
    assert resolve_secret(SecretRef(file=str(f))).reveal() == SECRET


def test_missing_secret_is_an_auth_error_that_names_the_reference_not_a_value(monkeypatch, tmp_path):
    monkeypatch.delenv("KS_NOPE", raising=False)
    with pytest.raises(AdapterError) as e:
        resolve_secret(SecretRef(env="KS_NOPE"))
    assert e.value.reason is Reason.AUTH and "KS_NOPE" in str(e.value)
    with pytest.raises(AdapterError) as e:
        resolve_secret(SecretRef(file=str(tmp_path / "none")))
    assert e.value.reason is Reason.AUTH


@pytest.mark.parametrize(
    "amount,position,reason",
    [
        (1.0, 1.0, None),
        (0.5, 1.0, None),
        (1.0000000001, 1.0, None),  # float noise within 1e-9 of the position
        (1.01, 1.0, Reason.CLOSE_EXCEEDS_POSITION),
        (0.1, 0.0, Reason.CLOSE_EXCEEDS_POSITION),
        (0.1, None, Reason.CLOSE_EXCEEDS_POSITION),  # no known position: nothing to close
    ],
)
def test_futures_close_never_exceeds_the_position(amount, position, reason):
    if reason is None:
        check_close(intent(amount), "futures", position, "binanceusdm")
    else:
        with pytest.raises(AdapterError) as e:
            check_close(intent(amount), "futures", position, "binanceusdm")
        assert e.value.reason is reason


def test_futures_close_must_be_reduce_only():
    with pytest.raises(AdapterError) as e:
        check_close(intent(reduce_only=False), "futures", 5.0, "binanceusdm")
    assert e.value.reason is Reason.NOT_REDUCE_ONLY


def test_spot_sell_is_not_reduce_only_and_passes():
    check_close(intent(reduce_only=False), "spot", None, "binance")


@pytest.mark.parametrize("reason,retry", [(Reason.TIMEOUT, True), (Reason.EXCHANGE_UNAVAILABLE, True),
                                          (Reason.RATE_LIMITED, True), (Reason.REDUCE_ONLY_REJECTED, False),
                                          (Reason.AUTH, False), (Reason.INSUFFICIENT_MARGIN, False)])
def test_only_network_level_failures_are_retryable(reason, retry):
    assert reason.retryable is retry


class _Venue:
    """An adapter as order_rates sees it: a venue and its capabilities."""

    def __init__(self, venue: str, rate: float):
        self.venue = venue
        self.capabilities = Capabilities(orders_per_second=rate)


def test_order_rates_are_the_adapters_budgets_the_slowest_account_per_venue():
    got = order_rates([_Venue("binanceusdm", 20.0), _Venue("okx", 20.0), _Venue("binanceusdm", 8.0)])
    assert got == {"binanceusdm": 8.0, "okx": 20.0}
    assert order_rates([]) == {}
