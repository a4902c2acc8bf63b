"""What the runner's operations answer and the API serialises, and the one table of those
operations (:mod:`.operations`): a room of their own below both the runner and the face above it
(:mod:`killswitch.face`: the API calls the runner through
:class:`killswitch.face.runner_view.RunnerView`, and the readout, :mod:`killswitch.face.readout`,
works the values out from the runner's parts), each kind in a module of its own. The pure reads
of those values from the book's read-only face are here too: the scopes (:mod:`.scopes`, a
stage's own lock :mod:`.own_lock`), the triggers (:mod:`.triggers`), the armed coverage
(:mod:`.coverage`) and a reset's warning of a trigger that still fires (:mod:`.relatch`).

Re-exported here: the runner's status (:mod:`.status`), an incident's and its triggers'
(:mod:`.incidents`), an action's preview and answer (:mod:`.answers`), the positions'
(:mod:`.positions`), a close's (:mod:`.closes`) and the overrides' (:mod:`.overrides`).
Imported from their modules: policy sync's (:mod:`.policy_sync`), a silence's preview
(:mod:`.silence_preview`) and a scope's chart (:mod:`.charts`, which the console alone draws).

The API serialises these values field by field (tuples as arrays); :func:`decode`
(:mod:`.decode`) is the inverse, for clients that read them back (:mod:`killswitch.client`).

Must not: import the runner, the face, the state or the adapters, or do any I/O (the
``view-pure`` contract): the client and the command line read it too.
"""

from __future__ import annotations

from .answers import (  # re-exported: callers import them from here
    ActionPreview as ActionPreview,
    Caller as Caller,
    ChangeResult as ChangeResult,
    ResetResult as ResetResult,
)
from .closes import CloseResult as CloseResult, PlannedOrder as PlannedOrder  # a manual close's answer
from .decode import DecodeError as DecodeError, decode as decode
from .incidents import (  # re-exported: callers import them from here
    ApprovalRow as ApprovalRow,
    IncidentStatus as IncidentStatus,
    OrderRow as OrderRow,
    PlannedRow as PlannedRow,
    ThresholdCheck as ThresholdCheck,
    TriggerStatus as TriggerStatus,
)
from .overrides import OverrideResult as OverrideResult, OverrideStatus as OverrideStatus
from .positions import (  # the positions' values (GET /v1/positions), a module of their own
    AccountPositions as AccountPositions,
    PositionRow as PositionRow,
    PositionsStatus as PositionsStatus,
)
from .status import (  # re-exported: callers import them from here
    AckStatus as AckStatus,
    BlindTrigger as BlindTrigger,
    CoverageStatus as CoverageStatus,
    ReceiverFailure as ReceiverFailure,
    RelatchStatus as RelatchStatus,
    ResidualStatus as ResidualStatus,
    ResumeStatus as ResumeStatus,
    RunnerStatus as RunnerStatus,
    ScopeStatus as ScopeStatus,
    SilenceResult as SilenceResult,
    SilenceStatus as SilenceStatus,
    StillOpenStatus as StillOpenStatus,
)
