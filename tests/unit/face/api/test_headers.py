"""The headers every answer of the API carries, from one response hook (killswitch/face/api/api.py):
no frame may show an HTML page the runner serves (``frame-ancestors 'none'``, ``X-Frame-Options:
DENY``), no Referer leaves it, nothing is cached or sniffed. Against a real runner on the
simulated exchange (manual clock), served on 127.0.0.1."""

from __future__ import annotations

import re

import pytest

from killswitch.face.api.api import make_app
from killswitch.state.store import RunbookRecord
from tests.unit.face.console.test_console import ALICE, VERA, Api, run
from tests.unit.runner.operator.rig import make

INCIDENT = "bot-guard/simulated/sim-main/L1/e1"


def _secure(headers) -> None:
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp, csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


def _world(tmp_path):
    w = make(tmp_path)
    w.store.save_runbook(RunbookRecord(INCIDENT, "bot-guard", "simulated/sim-main", 1, 0, "sha256:x", None,
                                       "built-in", "# halted\n", "<h1>halted</h1>", "{}"))
    return w


@pytest.mark.parametrize("public", [False, True])
def test_every_html_page_forbids_frames_and_referrers_and_keeps_its_own_policy(tmp_path, public):
    w = _world(tmp_path)

    async def go():
        await w.runner.start()
        async with Api(w, console_public=public) as api:
            return {path: await api.get(path, VERA) for path in
                    ("/", "/console/view", "/v1/runbooks/" + INCIDENT.replace("/", "%2F") + "?format=html")}

    pages = run(go())
    for path, (status, body, headers) in pages.items():
        assert status == 200 and headers["Content-Type"].startswith("text/html"), (path, status, body)
        _secure(headers)
    page_csp = pages["/"][2]["Content-Security-Policy"]
    assert "script-src 'self'" in page_csp and "connect-src 'self'" in page_csp  # the console still runs
    runbook = next(v for k, v in pages.items() if k.startswith("/v1/runbooks/"))
    assert runbook[1] == "<h1>halted</h1>"
    csp = runbook[2]["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'unsafe-inline'") and csp.count("frame-ancestors") == 1


def test_every_route_answers_with_the_headers_whatever_its_status(tmp_path):
    """Each route of the table (its parameters filled in), with a token and without, and paths
    and methods no route takes: every answer, 2xx to 4xx, JSON or not, carries them."""
    w = _world(tmp_path)
    app = make_app(w.desk)
    routes = sorted({(r.method, r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"})
    assert len(routes) > 20

    async def go():
        await w.runner.start()
        answers = []
        async with Api(w) as api:
            for method, canonical in routes:
                fill = "console.css" if canonical.startswith("/console/static") else \
                    "bot-x" if canonical.startswith("/v1/heartbeat") else "x"  # (bot-x: the policy's source)
                path = re.sub(r"\{[^}]+\}", fill, canonical)
                for token in (None, ALICE, VERA):
                    status, _, headers = await api.send(method, path, token, {} if method == "POST" else None)
                    answers.append((method, path, status, headers))
            for method, path in (("GET", "/nowhere"), ("DELETE", "/v1/status"), ("POST", "/v1/heartbeat/%2e%2e")):
                status, _, headers = await api.send(method, path, ALICE)
                answers.append((method, path, status, headers))
        return answers

    answers = run(go())
    statuses = {a[2] for a in answers}
    assert {200, 204, 400, 401, 403, 404, 405} <= statuses, statuses
    for method, path, status, headers in answers:
        try:
            _secure(headers)
        except (AssertionError, KeyError) as e:
            raise AssertionError(f"{method} {path} → {status}: {dict(headers)}") from e
