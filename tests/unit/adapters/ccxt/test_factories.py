"""The client factories: ccxt's REST client and ccxt.pro's streaming one of a ccxt id, each
refusing an id its module does not know as UNSUPPORTED, naming the module."""

from __future__ import annotations

import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro
import pytest

from adapters.base import AdapterError, Reason
from adapters.ccxt_exchange.client import default_factory, pro_factory


@pytest.mark.parametrize("factory, module, said", [(default_factory, ccxt_async, "ccxt"),
                                                   (pro_factory, ccxt_pro, "ccxt.pro")])
def test_a_factory_builds_its_modules_client_and_refuses_an_unknown_id(factory, module, said):
    ex = factory("okx")({"enableRateLimit": False})
    assert type(ex) is module.okx
    with pytest.raises(AdapterError) as refused:
        factory("zzfutures")({})
    assert refused.value.reason is Reason.UNSUPPORTED
    assert str(refused.value.message) == f"{said} has no exchange 'zzfutures'"
