"""What a stage entered again at once after its manual reset continues, as every view says it.

What it owns: :func:`relatched_text`, read by the page, ``ksctl status``, the console and the
runbook from a transition's ``continues`` (:meth:`~killswitch.engine.state.ResetMark.doc`).
Its own module, light: ``ksctl validate`` renders sample runbooks and imports it.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Mapping

from .figures import iso


def relatched_text(c: Mapping[str, Any]) -> str:
    """What a stage entry made at the first tick after a manual reset (a trigger still fired)
    continues, as every view says it after its word for it (``relatched``, ``RELATCHED``), from
    its ``continues`` (a transition's data, :meth:`~killswitch.engine.state.ResetMark.doc`):
    ``after a reset by alice at 2024-05-01T13:00:02Z; continues incident book/okx/main/L3/e2
    (3 orders, acknowledged by carol)``."""
    at = iso(int(c.get("reset_ms") or 0))
    orders, acked = c.get("orders"), list(c.get("acked_by") or ())
    had = ([] if orders is None else [f"{orders} order{'' if orders == 1 else 's'}"]) + [
        f"acknowledged by {', '.join(acked)}" if acked else "not acknowledged"]
    return (f"after a reset by {', '.join(c.get('by') or ()) or 'an unknown approver'} at {at}; "
            f"continues incident {c.get('incident')} ({', '.join(had)})")
