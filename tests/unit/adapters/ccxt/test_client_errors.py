"""A client that cannot be made or set up (adapters/ccxt_exchange/client.py) fails as an
AdapterError that names what failed and carries neither the credential nor the library's
exception (nothing chained, so no traceback prints it)."""

from __future__ import annotations

import traceback

import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.client import configure_client, create_client
from adapters.ccxt_exchange.dialects import dialect_for

SECRET = "s3cr3t-0a1b2c3d4e5f"


class Leaky(Exception):
    """A library's exception whose text holds the credential."""


def failed(call) -> AdapterError:
    with pytest.raises(AdapterError) as ei:
        call()
    err = ei.value
    assert err.__cause__ is None and err.__context__ is None
    assert SECRET not in "".join(traceback.format_exception(type(err), err, err.__traceback__))
    return err


def test_a_factory_that_fails_is_a_scrubbed_error_naming_the_creation():
    def factory(config):
        raise Leaky(f"bad config secret={SECRET}")

    err = failed(lambda: create_client(factory, {}, venue="okx", secrets=[SECRET]))
    assert "create exchange" in err.message and err.venue == "okx"


def test_a_sandbox_the_client_refuses_is_unsupported_and_scrubbed():
    import ccxt.async_support as ccxt_async

    class NoSandbox(ccxt_async.okx):
        def set_sandbox_mode(self, enabled):
            raise Leaky(f"no sandbox for key {SECRET}")

    ex = NoSandbox({})
    err = failed(lambda: configure_client(ex, dialect_for("okx"), market_type="futures", sandbox=True, urls=None,
                                          secrets=[SECRET]))
    assert err.reason is Reason.UNSUPPORTED and "sandbox mode" in err.message
