"""What ``ksctl validate`` makes of patterns and numbers that used to be internal errors (exit 3) or
to hold it for hours: each is a finding at file:line:col (exit 1), or, when valid, validates and
routes as Alertmanager would (exit 0).

- ``a{99999999999}``: Python's re raised OverflowError; now KS114 at the repeat.
- ``(?i)crit.*``: valid RE2 (and Alertmanager) syntax; Python's re refused it once wrapped in
  ``^(?:...)$`` (re.error, exit 3). It validates, and routes ``CRITICAL`` as it should.
- a duration of 400 digits: OverflowError in ``Duration.seconds``; now KS110 in a setting and
  KS120 in a condition.
- ``(.*.*.*...)*zz`` under ``severity``: the compiler asks whether a route lets critical pages
  through, and Python's re took 44 s with 8 ``.*``, three times longer with each one more; the
  test writes 24, hours for the old code, and runs ksctl in a subprocess with a time limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from killswitch.cli.main import cli

BAD = Path(__file__).resolve().parents[2] / "fixtures" / "bad"
ROOT = Path(__file__).resolve().parents[3]
STALL = "(" + ".*" * 24 + ")*zz"


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def routes_file(tmp_path: Path, severity_pattern: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(f"""\
        apiVersion: killswitch/v1
        kind: NotificationRoutes
        metadata: {{name: desk}}
        spec:
          route:
            receiver: chat
            routes:
              - match_re: {{severity: '{severity_pattern}'}}
                receiver: pager
          receivers:
            - {{name: chat, apprise: ["json://127.0.0.1:9/chat"]}}
            - {{name: pager, apprise: ["json://127.0.0.1:9/pager"]}}
        """))
    return path


def test_a_repeat_count_that_overflowed_is_ks114_at_the_repeat():
    f = BAD / "220-routes-pattern-repeat-count-overflows.bad.yaml"
    r = run("validate", str(f))
    assert r.exit_code == 1, r.output
    assert "internal error" not in r.output
    assert (f"{f}:12:32: error[KS114]: route.routes[0].match_re.severity: the pattern \"a{{99999999999}}\" is not "
            "a valid RE2 pattern: the repeat {99999999999} is over 1000") in r.output
    assert "hint: RE2 repeats at most 1000 times" in r.output


def test_a_duration_of_400_digits_is_an_error_where_it_is_written():
    f = BAD / "221-duration-of-400-digits.bad.yaml"
    r = run("validate", str(f))
    assert r.exit_code == 1, r.output
    assert "internal error" not in r.output
    assert f"{f}:18:17: error[KS110]: stages[0].cooldown: \"9999999999999999...9999999m (401 characters)\" is " \
           "longer than 3650d (ten years)" in r.output
    assert f"{f}:13:32: error[KS120]: trigger \"silent\": \"9999999999999999...9999999s (401 characters)\" is " \
           "longer than 3650d (ten years)" in r.output


def test_patterns_re2_refuses_are_each_ks114_where_they_go_wrong():
    f = BAD / "222-routes-patterns-re2-refuses.bad.yaml"
    r = run("validate", str(f))
    assert r.exit_code == 1, r.output
    for where, said in (("16:29", "invalid perl operator: (?!"), ("17:38", "invalid escape sequence: \\1"),
                        ("18:32", "the repeat {1001} is over 1000"), ("19:30", "missing ]"),
                        ("20:31", "unexpected )")):
        assert f"{f}:{where}: error[KS114]: " in r.output and said in r.output, (where, r.output)
    assert "RE2 has no lookahead or lookbehind" in r.output and "RE2 has no backreferences" in r.output


def test_a_leading_flag_validates_and_routes_as_alertmanager_does(tmp_path):
    f = routes_file(tmp_path, "(?i)crit.*")
    r = run("validate", str(f))
    assert r.exit_code == 0, r.output
    r = run("routes", "test", "--routes", str(f), "--label", "severity=CRITICAL")
    assert r.exit_code == 0, r.output
    assert "→ pager" in r.output, r.output
    r = run("routes", "test", "--routes", str(f), "--label", "severity=warning")
    assert "→ chat" in r.output and "→ pager" not in r.output, r.output


def _ksctl(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "killswitch.cli.main", *args], capture_output=True, text=True,
                          timeout=60, env=env, cwd=ROOT)


def test_a_pattern_that_backtracks_for_hours_validates_and_routes_at_once(tmp_path):
    """A time limit of a minute on each command, which the old code would have spent hours past;
    no timing is asserted beyond it finishing."""
    f = routes_file(tmp_path, STALL)
    out = _ksctl("validate", str(f))
    assert out.returncode == 0, out.stdout + out.stderr
    out = _ksctl("routes", "test", "--routes", str(f), "--label", "severity=" + "critical" * 500)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "→ chat" in out.stdout
    out = _ksctl("routes", "test", "--routes", str(f), "--label", "severity=" + "critical" * 500 + "zz")
    assert "→ pager" in out.stdout, out.stdout + out.stderr
