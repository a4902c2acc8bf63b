"""How a face reads a request: the order it names (:meth:`RestFace.order_ref`): the venue's id
where it gives one (digits), else the client id; the venue's refusal of an id it never gave, or
of a request that names neither; and a number it gives (:func:`finite_number`)."""

from __future__ import annotations

import pytest

from adapters.simulated.faces.shared import RestFace, VenueFail, finite_number

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


@pytest.mark.parametrize("value, required, want", [
    ("1.5", False, 1.5), ("-2", True, -2.0), (3, False, 3.0),
    (None, False, None), ("", False, None), (None, True, MISSING), ("", True, MISSING),
    ("x", False, UNKNOWN), ("nan", False, UNKNOWN), ("inf", True, UNKNOWN), ("-Infinity", False, UNKNOWN),
])
def test_a_number_is_finite_absent_or_refused(value, required, want):
    p = {} if value is None else {"qty": value}
    if isinstance(want, VenueFail):
        with pytest.raises(VenueFail) as refused:
            finite_number(p, "qty", MISSING if required else None, UNKNOWN)
        assert refused.value is want
    else:
        assert finite_number(p, "qty", MISSING if required else None, UNKNOWN) == want
