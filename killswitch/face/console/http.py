"""The console's HTTP handlers: the page, its view for the refresh, a runbook, and its static files.

What it owns: ``GET /`` (the page: the view rendered in it when the console is public, else an
empty shell that asks for a token), ``GET /console/view`` (the view alone, which the page's
script fetches every 2 s and swaps in), ``GET /console/runbook/{incident}`` (an incident's stored
runbook as an HTML fragment for the page's runbook dialog: its markdown through the escaping
converter of :mod:`killswitch.markdown`, so nothing of the runbook's text becomes markup; 404
``UNKNOWN_INCIDENT`` without one), ``GET /console/static/{name}`` (the files of
:data:`ASSETS`: the page's style and script, the charts', the layout's, the runbook dialog's, the
notifications', the tables', the silences' and the firm strip's, and what the dialogs share), the
sandboxed jinja2 environment they render with (autoescape on, undefined names are errors), and
the page's Content-Security-Policy (scripts, styles and requests to this origin only; no inline
script, no frames, no form posts anywhere; images from this origin or ``data:``, for the tab's
icon the script draws).

Who may call what is decided by the API's middleware, where the routes are listed
(:func:`killswitch.face.api.api.make_app`); this module only renders. The view is read through
the ``call`` the API hands in (:func:`killswitch.face.api.handlers.call_view`), so the runner's state is read
on the runner's loop.

Must not: put a token, a credential or anything the view did not answer on the page; render
without escaping; serve a file other than those it names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from ...markdown import markdown_html
from ..request import bad, path_name, show
from ..runbooks import stored_runbook
from .firm_strip import firm_alert, kill_of, strip_of
from .model import _when as when, page_model
from .positions_model import positions_model
from .silences_model import with_silences

HERE = Path(__file__).parent
ASSETS = {"console.css": "text/css", "console.js": "text/javascript", "charts.css": "text/css",
          "charts.js": "text/javascript", "layout.css": "text/css", "runbook.js": "text/javascript",
          "notify.js": "text/javascript", "tables.js": "text/javascript",
          "positions.css": "text/css", "silences.js": "text/javascript", "firm.js": "text/javascript",
          "firm.css": "text/css", "kill.js": "text/javascript", "overrides.js": "text/javascript",
          "dialogs.js": "text/javascript"}
# img-src allows data: for the tab's icon alone: the script draws it (an SVG of constants) to say
# the runner is unreachable, when no file could be fetched from the runner; an image runs no script.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
HTML_HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}

Call = Callable[..., Awaitable[Any]]


def environment() -> Any:
    """The templates' environment: sandboxed, autoescaping, strict about undefined names."""
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(loader=FileSystemLoader(str(HERE / "templates")), undefined=StrictUndefined,
                                autoescape=True, trim_blocks=False, lstrip_blocks=False, auto_reload=False)


class ConsoleHandlers:
    """``view``: the runner (or a fake); ``call``: how the API calls a view method;
    ``public``: the view is rendered into ``GET /`` for anyone (``--console-public``); ``signin``:
    single sign-on is configured (the page offers "Sign in" beside the token)."""

    def __init__(self, view: Any, call: Call, *, public: bool, signin: bool = False, proxied: bool = False):
        self.view = view
        self.call = call
        self.public = public
        self.signin = signin  # single sign-on is configured: the page offers "Sign in"
        # a trusted authenticating proxy in front names the person: the page asks who without a token
        self.proxied = proxied
        self.env = environment()
        self.assets = {name: (HERE / "static" / name).read_bytes() for name in ASSETS}

    async def model(self) -> dict:
        """The page model from the view's answers, each read as the API reads it."""
        status = await self.call(self.view.status)
        ready = await self.call(self.view.ready)
        lock = await self.call(self.view.lock_document, None)
        dms = await self.call(self.view.dms_status)
        triggers = await self.call(self.view.triggers)
        incidents = await self.call(self.view.incidents)
        positions = await self.call(self.view.positions)
        silences = await self.call(self.view.silences)
        model = with_silences(page_model(status, tuple(ready), lock, dms, triggers, incidents), incidents, silences)
        firm = getattr(self.view, "firm_status", None)  # a shard's runner: the firm's section
        shown = await self.call(firm) if callable(firm) and getattr(self.view, "firm", None) is not None else None
        board = getattr(self.view, "firm_shards", None)  # and the firm strip first: every shard, from the firm's tables
        strip = strip_of(await self.call(board), lambda ms: when(ms, model["now_ms"])) \
            if callable(board) and getattr(self.view, "firm_board", None) is not None else None
        if strip is not None:
            model = {**model, "firm_strip": strip, "alert": firm_alert(model["alert"], strip)}
            killed = getattr(self.view, "firm_kill_status", None)  # the firm-wide kill's progress, on the strip
            progress = await self.call(killed) if callable(killed) else None
            model = {**model, "firm_kill": kill_of(progress)}
        return {**model, **positions_model(positions), **({"firm": shown} if shown else {})}

    def _html(self, text: str) -> web.Response:
        return web.Response(status=200, text=text, content_type="text/html", charset="utf-8",
                            headers=HTML_HEADERS)

    async def page(self, request: web.Request) -> web.Response:
        model = await self.model() if self.public else None
        template = self.env.get_template("page.html.j2")
        return self._html(template.render(public=self.public, signin=self.signin, proxied=self.proxied,
                                          view=model is not None,
                                          **(model or {})))

    async def fragment(self, request: web.Request) -> web.Response:
        return self._html(self.env.get_template("view.html.j2").render(**await self.model()))

    async def runbook(self, request: web.Request) -> web.Response:
        """An incident's runbook for the page's dialog: the stored markdown as HTML (see the module doc)."""
        incident = path_name(request.match_info.get("incident", ""), "incident")
        if request.query:
            raise bad(f"no query parameter is known here, not {show(sorted(request.query)[0])}")
        record = await stored_runbook(self.view, self.call, incident)
        return self._html(markdown_html(record.markdown))

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info.get("name", "")
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return web.Response(status=200, body=self.assets[name], content_type=ASSETS[name], charset="utf-8")
