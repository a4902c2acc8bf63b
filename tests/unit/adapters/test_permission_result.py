"""PermissionResult: what the venue said of each key, never a state assumed from what was asked."""

from __future__ import annotations

import pytest

from adapters.base import ALLOWED, REVOKED, UNKNOWN_STATE, PermissionResult, Reason, Refusal


def test_holds_only_when_every_key_is_in_the_state_asked():
    r = PermissionResult(states={"k1": REVOKED, "k2": REVOKED})
    assert r.holds(allowed=False) and not r.holds(allowed=True)
    partial = PermissionResult(states={"k1": REVOKED, "k2": UNKNOWN_STATE})
    assert not partial.holds(allowed=False)


def test_no_keys_never_holds():
    assert not PermissionResult(states={}).holds(allowed=False)


def test_refusal_keeps_the_venues_code_and_message_and_leads_the_reason():
    r = PermissionResult(states={"k1": ALLOWED, "k2": UNKNOWN_STATE},
                         refusals={"k1": Refusal("-1002", "You are not authorized to execute this request.")},
                         failures={"k2": (Reason.TIMEOUT, "no answer within 10s")})
    assert r.refusals["k1"][:2] == ("-1002", "You are not authorized to execute this request.")
    assert r.reason() is Reason.REVOKE_REFUSED
    line = r.describe()
    assert "k1 refused: -1002 You are not authorized" in line and "k2: TIMEOUT" in line


@pytest.mark.parametrize("failures,expected", [({}, None), ({"k": (Reason.TIMEOUT, "x")}, Reason.TIMEOUT)])
def test_reason_without_refusal(failures, expected):
    assert PermissionResult(states={"k": UNKNOWN_STATE}, failures=failures).reason() is expected


def test_an_account_whose_adapter_cannot_be_built_refuses_the_switch_with_its_error():
    import asyncio

    from adapters.base import AdapterError
    from adapters.deferred import DeferredAdapter
    from killswitch.policy.accounts_doc import Account

    acc = Account.model_validate({"name": "a", "venue": "bybit", "market_type": "futures"})
    err = AdapterError(Reason.AUTH, "environment variable KS_X is not set")

    def make():
        raise err

    ad = DeferredAdapter(acc, make, err)
    assert not ad.capabilities.revoke_trading
    for call in (ad.set_trading(False), ad.read_trading()):
        with pytest.raises(AdapterError) as e:
            asyncio.run(call)
        assert e.value.reason is Reason.AUTH


def test_an_account_whose_adapter_is_built_later_hands_each_call_to_it():
    import asyncio

    from adapters.base import AdapterError
    from adapters.deferred import DeferredAdapter
    from killswitch.policy.accounts_doc import Account

    class Built:
        async def arm_cancel_all_after(self, seconds, symbols=()):
            return ("armed", seconds, symbols)

        async def open_orders(self, symbols=()):
            return ["listed", symbols]

        async def fills(self, symbol, since_ms):
            return ["filled", symbol, since_ms]

    acc = Account.model_validate({"name": "a", "venue": "bybit", "market_type": "futures"})
    err = AdapterError(Reason.AUTH, "environment variable KS_X is not set")
    fixed = []

    def make():
        if not fixed:
            raise err
        return Built()

    ad = DeferredAdapter(acc, make, err)
    with pytest.raises(AdapterError):
        asyncio.run(ad.arm_cancel_all_after(5.0, symbols=("BTC/USDT:USDT",)))
    fixed.append(True)  # the Secret mounted in place
    assert asyncio.run(ad.arm_cancel_all_after(5.0, symbols=("BTC/USDT:USDT",))) == ("armed", 5.0, ("BTC/USDT:USDT",))
    # its reads too: the built adapter's, not the protocol's "not supported"
    assert asyncio.run(ad.open_orders()) == ["listed", ()]
    assert asyncio.run(ad.fills("BTC/USDT:USDT", 7)) == ["filled", "BTC/USDT:USDT", 7]
