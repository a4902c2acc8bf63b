"""The console behind a trusted authenticating proxy (Debian's nginx, as in
tests/integration/api/test_proxy.py): the page asks the runner who the proxy names, without a
token typed or a cookie of the runner's, shows the person and their roles, and an action sent from
the page is theirs in the audit (the page's own origin passes the same-origin check)."""

from __future__ import annotations

from tests.integration.api.test_proxy import PROXY_ADDRESS, Nginx, Runner
from tests.procs import free_port

from ..views import click_action, close_dialog, confirm_and_send, preview, text_of, view_text, wait


def test_a_person_the_proxy_names_sees_the_console_and_locks_as_themselves(tmp_path, browser, shot):
    ngx_port = free_port()
    runner = Runner(tmp_path, f"sources: [{PROXY_ADDRESS}/32]\nexternal_urls: [http://127.0.0.1:{ngx_port}]\n")
    ngx = None
    try:
        ngx = Nginx(tmp_path, ngx_port, f"http://127.0.0.1:{runner.port}",
                    bind=f"      proxy_bind {PROXY_ADDRESS};\n")
        runner.wait_ready(f"http://127.0.0.1:{runner.port}")
        browser.get(ngx.url + "/healthz")  # the proxy's origin, to set its sign-in cookie on
        browser.add_cookie({"name": "session", "value": "carol-session", "path": "/"})
        browser.get(ngx.url + "/")
        wait(browser, lambda b: "Signed in as carol" in text_of(b, "#who"), "the proxy's person is shown")
        assert text_of(browser, "#who") == "Signed in as carol (operator, viewer) through the firm's proxy."
        wait(browser, lambda b: "Scopes" in view_text(b), "the view is shown without a token")
        shot("proxy-01-signed-in", full=False)
        click_action(browser, "lock", "")  # "Lock another scope…"
        said = preview(browser, "drill from the console through the proxy", scope="global")
        assert "Lock binding global: trading allowed now, halted after." in said, said
        answer = confirm_and_send(browser, "global")
        assert answer.startswith("LOCKED"), answer
        close_dialog(browser)
        locks = runner.audit("manual_lock")
        assert [r.payload.get("by") for r in locks] == ["carol"], [r.payload for r in locks]
    finally:
        if ngx is not None:
            ngx.stop()
        runner.stop()
