"""The drift checker's verdict when what runs is not what git holds (``ksctl drift --post``)."""

from __future__ import annotations

from typing import Optional

from . import Fact, make

RANK = 120


def fact(page: dict) -> Optional[Fact]:
    verdict = (page.get("sync") or {}).get("verdict")
    if verdict is None or verdict["state"] == "in_sync":
        return None
    return make(__name__, "error", "POLICY DRIFT", f"{verdict['words']} ({verdict['against']}), checked by "
                                                   f"{verdict['by']}")
