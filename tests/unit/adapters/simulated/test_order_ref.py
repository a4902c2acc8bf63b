"""How a face reads the order a request names (:meth:`RestFace.order_ref`): the venue's id where
it gives one (digits), else the client id; the venue's refusal of an id it never gave, or of a
request that names neither."""

from __future__ import annotations

import pytest

from adapters.simulated.faces.shared import RestFace, VenueFail

MISSING, UNKNOWN = VenueFail(400, "missing"), VenueFail(400, "unknown")


@pytest.mark.parametrize("oid, cid, want", [
    ("17", None, (17, None)), ("17", "ks1", (17, None)),  # the venue's id wins over the client id
    (None, "ks1", (None, "ks1")), ("", "ks1", (None, "ks1")),
    (None, None, MISSING), ("", "", MISSING),
    ("x17", None, UNKNOWN), ("-1", "ks1", UNKNOWN),
])
def test_an_order_is_named_by_its_id_else_its_client_id(oid, cid, want):
    if isinstance(want, VenueFail):
        with pytest.raises(VenueFail) as refused:
            RestFace.order_ref(oid, cid, MISSING, UNKNOWN)
        assert refused.value is want
    else:
        assert RestFace.order_ref(oid, cid, MISSING, UNKNOWN) == want
