"""The console's dialogs share one POST (static/dialogs.js): the token header, same-origin
credentials and the reason read back live in one place, not copied into silences.js, kill.js and
overrides.js (where a fix to one copy missed the others); the page loads dialogs.js before them.
Their behaviour is the browser tests' (tests/browser/console/test_silences.py, test_overrides.py,
test_dialogs.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from killswitch.face.console.http import ASSETS

CONSOLE = Path(__file__).resolve().parents[4] / "killswitch" / "face" / "console"
USERS = ("silences.js", "kill.js", "overrides.js")


@pytest.mark.parametrize("name", USERS)
def test_a_dialog_script_posts_through_the_shared_helper_alone(name):
    js = (CONSOLE / "static" / name).read_text()
    assert "fetch(" not in js and "[\"Authorization\"]" not in js and "credentials:" not in js, name
    assert "window.killswitchDialogs.post" in js, name


def test_the_shared_helper_is_served_and_loaded_before_the_scripts_that_use_it():
    js = (CONSOLE / "static" / "dialogs.js").read_text()
    assert 'credentials: "same-origin"' in js and '"Bearer "' in js and "window.killswitchDialogs" in js
    assert ASSETS["dialogs.js"] == "text/javascript"
    page = (CONSOLE / "templates" / "page.html.j2").read_text()
    order = re.findall(r'<script src="/console/static/([a-z]+\.js)" defer>', page)
    assert order.index("dialogs.js") < min(order.index(n) for n in (*USERS, "console.js")), order
