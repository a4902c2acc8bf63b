"""The runner's log lines (killswitch/logs.py): time and level, text or JSON, secrets scrubbed."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from killswitch.logs import REDACTED, Scrubber, configure, unconfigure

ENV = {"KS_T_SECRET": "sim-main-secret-123", "KS_API_TOKEN": "tok-abcdef", "HOME": "/home/someone-long"}


def _logged(fmt: str, *lines: tuple[int, str]) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    log = configure(fmt, env=ENV, stdout=out, stderr=err)
    try:
        for level, msg in lines:
            log.log(level, msg)
    finally:
        unconfigure()
    return out.getvalue(), err.getvalue()


def test_text_lines_carry_utc_time_level_and_the_message_unchanged():
    out, err = _logged("text", (logging.INFO, "ksctl run: stopped after 2 tick(s)"),
                       (logging.ERROR, "ksctl run: order rejected: X"))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO killswitch\.run ksctl run: stopped after 2 "
                        r"tick\(s\)\n", out), out
    assert err.endswith(" ERROR killswitch.run ksctl run: order rejected: X\n") and "INFO" not in err, err


def test_json_lines_are_one_object_each_with_ts_level_logger_and_msg():
    out, err = _logged("json", (logging.INFO, "AUDIT_HEAD seq=3 hash=ab"), (logging.INFO, 'say "hi"'),
                       (logging.WARNING, "careful"))
    docs = [json.loads(x) for x in out.splitlines()]
    assert [d["msg"] for d in docs] == ["AUDIT_HEAD seq=3 hash=ab", 'say "hi"']
    assert all(d["level"] == "INFO" and d["logger"] == "killswitch.run" and d["ts"].endswith("Z") for d in docs)
    assert json.loads(err)["level"] == "WARNING"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_scrubbed_from_every_line(fmt):
    out, err = _logged(fmt, (logging.INFO, "venue said: bad key sim-main-secret-123"),
                       (logging.ERROR, "request with Authorization: Bearer eyJhbGciOi.x.y failed"),
                       (logging.ERROR, "state at postgresql://ks:hunter2hunter@db/ks unreachable"),
                       (logging.INFO, 'params {"apiKey": "AKIA123456", "secret": "s3cr3tvalue"} token=tok-abcdef'))
    text = out + err
    for secret in ("sim-main-secret-123", "eyJhbGciOi", "hunter2hunter", "AKIA123456", "s3cr3tvalue", "tok-abcdef"):
        assert secret not in text, (secret, text)
    assert text.count(REDACTED) >= 6
    assert "postgresql://ks:" in text and "@db/ks" in text, "only the password goes"


def test_scrubbing_leaves_ordinary_words_and_unnamed_variables_alone():
    scrub = Scrubber.from_environment({**ENV, "KS_FLAG": "1"})
    assert scrub("ksctl run: mode DRY RUN; holder host-1 home /home/someone-long") == \
        "ksctl run: mode DRY RUN; holder host-1 home /home/someone-long"


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        configure("xml", env={})


def test_unconfigure_hands_the_records_back_to_the_host():
    configure("text", env={}, stdout=io.StringIO(), stderr=io.StringIO())
    unconfigure()
    base = logging.getLogger("killswitch")
    assert base.handlers == [] and base.propagate is True


# --- every record of the process, whoever logs it ------------------------------------------------------

# a token the process does not know (a viewer's, from a tokens document that keeps only its hash)
UNKNOWN = "Zq3xV9-viewer-token_0123456789abcdefABCDEF"


def _configured(fmt: str = "text"):
    out, err = io.StringIO(), io.StringIO()
    return configure(fmt, env=ENV, stdout=out, stderr=err), out, err


def _leaks(text: str, secret: str = UNKNOWN) -> bool:
    return secret in text or secret[:12] in text


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_formatted_traceback_holding_an_unknown_token_is_scrubbed(fmt):
    log, out, err = _configured(fmt)
    try:
        try:
            raise ValueError(f"Invalid header value char:\n\n  b'Authorization: Bearer {UNKNOWN}\\x00'\n  ^")
        except ValueError:
            log.exception("API request failed")
    finally:
        unconfigure()
    text = err.getvalue()
    assert not _leaks(text), text
    assert "Traceback (most recent call last)" in text and "ValueError: Invalid header value char" in text
    assert "Authorization: ***" in text


def test_the_scrubber_alone_clears_a_traceback_text():
    import traceback

    try:
        raise RuntimeError(f"GET /v1/status?token={UNKNOWN}&x=1 with {{'X-Api-Key': '{UNKNOWN}'}} "
                           f"Cookie: session={UNKNOWN}; Authorization: Basic {UNKNOWN}")
    except RuntimeError:
        text = traceback.format_exc()
    scrubbed = Scrubber()(text)
    assert not _leaks(scrubbed), scrubbed
    assert "RuntimeError: GET /v1/status?token=***&x=1" in scrubbed and "'X-Api-Key': '***'" in scrubbed


def test_aiohttp_parser_errors_are_named_not_quoted_wherever_they_are_logged():
    from aiohttp.http_exceptions import BadHttpMessage

    log, out, err = _configured()
    try:
        try:  # a bare token, with no header name in front of it: no pattern could find it
            raise BadHttpMessage(f"Invalid header token:\n\n  b'{UNKNOWN}'")
        except BadHttpMessage:
            logging.getLogger("aiohttp.server").exception("Error handling request from %s", "127.0.0.1")
        try:
            try:
                raise BadHttpMessage(f"b'{UNKNOWN}'")
            except BadHttpMessage as e:
                raise RuntimeError("wrapped") from e
        except RuntimeError:
            logging.getLogger("aiohttp.web").exception("later")
    finally:
        unconfigure()
    text = err.getvalue()
    assert not _leaks(text), text
    assert "ERROR aiohttp.server Error handling request from 127.0.0.1" in text
    assert text.count("aiohttp.http_exceptions.BadHttpMessage (not shown") == 2, text


def test_arguments_stacks_and_unformattable_records_are_scrubbed():
    log, out, err = _configured()
    try:
        log.error("header %s", f"Authorization: Bearer {UNKNOWN}")
        log.error("at", stack_info=True)  # password=stacksecret99 (this line is in the stack)
        # one argument short, on purpose: logging would print the arguments
        log.error("two %s %s", f"token={UNKNOWN}")  # noqa: PLE1206
    finally:
        unconfigure()
    text = err.getvalue()
    assert not _leaks(text) and "stacksecret99" not in text, text
    assert "Stack (most recent call last)" in text and "could not be formatted: TypeError" in text


def test_asyncio_warnings_and_threads_go_through_the_scrubber():
    import asyncio
    import threading
    import warnings

    def boom():
        raise ValueError(f"password={UNKNOWN}")

    async def main():
        asyncio.get_running_loop().call_soon(boom)  # "Exception in callback"
        await asyncio.sleep(0.01)

    log, out, err = _configured()
    try:
        asyncio.run(main())
        warnings.warn(f"api_key={UNKNOWN}", UserWarning, stacklevel=1)
        t = threading.Thread(target=boom, name="ks-test-thread")
        t.start()
        t.join()
    finally:
        unconfigure()
    text = err.getvalue()
    assert not _leaks(text), text
    assert "ERROR asyncio Exception in callback" in text
    assert "WARNING py.warnings" in text and "api_key=***" in text
    assert "thread ks-test-thread ended with ValueError" in text and "password=***" in text


def test_a_handler_the_host_set_sees_the_records_scrubbed():
    seen = io.StringIO()
    host = logging.StreamHandler(seen)
    root = logging.getLogger()
    root.addHandler(host)
    try:
        log, out, err = _configured()
        try:
            log.warning("token=%s", UNKNOWN)
        finally:
            unconfigure()
        log.warning("after: token=%s", "plain-after-unconfigure")  # not ours any more
    finally:
        root.removeHandler(host)
    assert not _leaks(seen.getvalue()) and "token=***" in seen.getvalue(), seen.getvalue()
    assert "plain-after-unconfigure" in seen.getvalue() and not host.filters


def test_values_registered_later_are_scrubbed_and_ordinary_lines_stay():
    from killswitch.logs import scrub_also

    digest = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
    log, out, err = _configured()
    try:
        scrub_also([digest, "shared-one-123"])
        log.info("the tokens document says %s; shared-one-123", digest)
        log.info("AUDIT_HEAD seq=3 hash=ab12 at=2026-11-23T08:30:00Z anchored=hmac")
        log.info("ksctl run: API identities: alice, bob, shared-token")
    finally:
        unconfigure()
    lines = out.getvalue().splitlines()
    assert digest not in lines[0] and "shared-one-123" not in lines[0]
    assert lines[1].endswith("AUDIT_HEAD seq=3 hash=ab12 at=2026-11-23T08:30:00Z anchored=hmac")
    assert lines[2].endswith("ksctl run: API identities: alice, bob, shared-token")


@pytest.mark.parametrize("text,secret", [
    ('{"password": "my pass phrase"}', "pass phrase"),
    ("Proxy-Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNz"),
    ("Set-Cookie: sid=abcdef123456; Path=/", "abcdef123456"),
    ("X-Auth-Token: abcdef123456", "abcdef123456"),
    ("client_secret=abcdef123456&grant=x", "abcdef123456"),
    ("headers <CIMultiDictProxy('Authorization': 'Bearer abc.def-123456')>", "abc.def-123456"),
])
def test_credentials_are_found_by_their_label(text, secret):
    assert secret not in Scrubber()(text)


def test_a_label_never_reaches_into_the_next_line():
    assert Scrubber()("token:\n  the next line stays") == "token:\n  the next line stays"
