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
