"""``GET /v1/charts/{policy}/{scope}``: one policy instance's chart, as SVG or as the JSON it is drawn from.

What it owns: reading the request (``hours``: how far back, above 0 and at most 12, default 3;
``format``: ``svg``, the default, or ``json``), asking the view for the chart
(``view.chart(policy, scope, hours)``, :class:`~killswitch.face.readout.charts.Charts`), and
answering it: ``image/svg+xml`` drawn by :mod:`.chart_svg`, or the
:class:`~killswitch.view.charts.ScopeChart` as JSON (every series, threshold, stage
transition and gap the SVG draws). An unknown policy or scope is a 404 with its reason code
(``UNKNOWN_POLICY``, ``UNKNOWN_SCOPE``, with the close matches); a bad parameter a 400.

Who may call it is the API's table (:func:`killswitch.face.api.api.make_app`): the console's
readers (a viewer token suffices). Must not: change anything, or answer a chart it did not read
from the view.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Awaitable, Callable

from aiohttp import web

from ...view.charts import ScopeChart
from ..request import ApiError, bad, known_query, path_name, query_choice, show
from .chart_svg import render_svg

MAX_HOURS = 12.0
DEFAULT_HOURS = 3.0
# the drawing is self-contained: it needs nothing, not even its own styles
SVG_CSP = "default-src 'none'"


def _hours(request: web.Request) -> float:
    given = request.query.getall("hours", [])
    if not given:
        return DEFAULT_HOURS
    if len(given) > 1:
        raise bad('give "hours" at most once')
    try:
        hours = float(given[0])
    except ValueError:
        raise bad(f'"hours" is a number of hours, not {show(given[0])}') from None
    if not math.isfinite(hours) or hours <= 0 or hours > MAX_HOURS:
        raise bad(f'"hours" must be above 0 and at most {MAX_HOURS:g} (the samples kept), not {show(given[0])}')
    return hours


class ChartHandlers:
    """``view``: the runner (or a fake) with ``chart(policy, scope, hours)``; ``call``: how the
    API calls a view method (on the runner's loop)."""

    def __init__(self, view: Any, call: Callable[..., Awaitable[Any]]):
        self.view = view
        self.call = call

    async def chart(self, request: web.Request) -> web.Response:
        policy = path_name(request.match_info.get("policy", ""), "policy")
        scope = path_name(request.match_info.get("scope", ""), "scope")
        known_query(request, "hours", "format")
        fmt = query_choice(request, "format", ("svg", "json"))
        hours = _hours(request)
        lookup = getattr(self.view, "chart", None)
        if not callable(lookup):
            raise ApiError(404, "NO_CHARTS", "this runner keeps no chart history")
        answer = await self.call(lookup, policy, scope, hours)
        if not isinstance(answer, ScopeChart):
            code, reason = getattr(answer, "code", None), getattr(answer, "message", None)
            if not isinstance(code, str) or not isinstance(reason, str):
                raise TypeError("chart() must return a ScopeChart or an Unknown")
            raise ApiError(404, code, reason)
        if fmt == "json":
            text = json.dumps(dataclasses.asdict(answer), allow_nan=False, separators=(",", ":"))
            return web.Response(status=200, text=text, content_type="application/json")
        return web.Response(status=200, text=render_svg(answer), content_type="image/svg+xml", charset="utf-8",
                            headers={"Content-Security-Policy": SVG_CSP})
