"""``ksctl dms arm / disarm / status``: the runner's dead man's switch, through its API.

A source (a bot; its name is its strategy) armed with a timeout must send heartbeats
(``ksctl heartbeat --source SOURCE`` or ``POST /v1/heartbeat/SOURCE``) at least that often. When it goes
silent the runner cancels the source's open orders and halts trading for the scope named like
it, until the source is armed again or an operator runs ``ksctl unlock``. Its verbs are made from
their entries in the operations' table (:mod:`.verbs`); exit 0 done, 1 refused, 2 usage, 5 the
runner unreachable.
"""

from __future__ import annotations

import click

from .common import SuggestingGroup
from .verbs import attach


@click.group(cls=SuggestingGroup, epilog="""\b
Examples:
  ksctl dms arm --source strategy-a --timeout 300s
  ksctl dms status
  ksctl dms disarm --source strategy-a
""")
def dms() -> None:
    """Dead man's switch: who must keep sending heartbeats, and the venues' own countdowns."""


attach(dms)
