"""The on-call engineer's console: a web page served by the runner's API, on its port, behind its
authentication (``GET /``; see :mod:`.http` for the routes and docs/console.md for how to open it).

What it owns: rendering what the runner's read calls answer (:mod:`.model` arranges them,
``templates/`` render them, server-side) and a little script (``static/console.js``) that
refreshes the view every 2 s without reloading the page and runs an operator's actions — lock,
unlock, a reset approval, a close — as fill in, preview (``POST /v1/preview/...``, a dry run on
the runner), type the scope, send (the API's own endpoints, with the operator's token).
Everything it serves ships in this package: no CDN, no build step.

Must not: hold runner state, decide anything (the runner does, and the API refuses what a
caller may not do), or import the sinks, the bootstrap or the command line.
"""

from .http import ConsoleHandlers

__all__ = ["ConsoleHandlers"]
