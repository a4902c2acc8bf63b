"""The same-origin check of writes a browser's own credentials authenticate (CSRF)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from killswitch.face.api.origin import check_same_origin, origin_of
from killswitch.face.request import ApiError


@pytest.mark.parametrize("url, want", [
    ("https://KS.Desk.example/console", "https://ks.desk.example"),
    ("https://ks.desk.example:443", "https://ks.desk.example"),
    ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("null", None), ("file:///etc/passwd", None), ("https://", None), ("http://h:99999", None),
])
def test_an_origin_is_scheme_host_and_a_port_that_is_not_the_default(url, want):
    assert origin_of(url) == want


def _post(**headers):
    return make_mocked_request("POST", "/v1/lock", headers={"Host": "127.0.0.1:8080", **headers})


@pytest.mark.parametrize("headers", [
    {"Origin": "http://127.0.0.1:8080"},
    {"Origin": "https://ks.desk.example"},  # the configured external URL
    {"Sec-Fetch-Site": "same-origin"},
])
def test_a_write_from_the_console_s_own_origin_passes(headers):
    check_same_origin(_post(**headers), ["https://ks.desk.example/"])


@pytest.mark.parametrize("headers, words", [
    ({"Origin": "https://evil.example"}, "came from 'https://evil.example'"),
    ({"Origin": "null"}, "came from 'null'"),
    ({"Origin": "http://127.0.0.1:8081"}, "came from"),  # another port is another origin
    ({"Origin": "https://127.0.0.1:8080"}, "came from"),  # another scheme too
    ({"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site is not same-origin"),
    ({"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site is not same-origin"),
    ({}, "no Origin"),
    ({"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}, "came from"),  # Origin rules
])
def test_a_write_from_anywhere_else_is_refused(headers, words):
    with pytest.raises(ApiError) as e:
        check_same_origin(_post(**headers), ["https://ks.desk.example"])
    assert e.value.status == 403 and e.value.code == "CSRF_ORIGIN" and words in e.value.reason
