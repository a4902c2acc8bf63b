"""The built-in runbook template: the repository's ``runbooks/default.md.j2``, shipped in the
package (``killswitch/runbooks/default.md.j2`` is the file; ``runbooks/default.md.j2`` links to
it), so that a runner without a runbooks directory (the chart's default, or policies outside the
repository) renders the same runbook as one with the repository's: one text, not two copies.

Read and compiled once a process.
"""

from __future__ import annotations

import functools
from typing import Optional

from .incident import DEFAULT_TEMPLATE
from .templates import BUILTIN_ROOT, Templates, builtin_default_text


@functools.cache
def builtin_templates() -> Optional[Templates]:
    """The built-in ``default.md.j2`` alone, or None when the package lacks it (an install that
    did not ship its package data): the runbook is then the plain one of
    :func:`killswitch.render.runbook.fallback_markdown`. One a process, compiled on its first
    use (:meth:`~.templates.Templates.warm` by a runner's runbook sink at its start), so that an
    incident's runbook does not compile it on the runner's loop."""
    text = builtin_default_text()
    if text is None:
        return None
    return Templates({DEFAULT_TEMPLATE: text}, BUILTIN_ROOT)


__all__ = ["BUILTIN_ROOT", "builtin_templates"]
