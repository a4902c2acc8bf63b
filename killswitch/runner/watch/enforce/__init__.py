"""The venue watch: what a lock in force does to the orders and positions a bot placed without asking.

A lock is a request to the bots (the lock file, ``POST /v1/check-order``); a bot that never asks
keeps trading through it. This package decides what makes the lock hold at the venue, as a pure
function of the lock book, the tick's snapshots, the runner's own client order ids, the
baselines kept since the lock came into force and the time — :func:`watch` — and returns what to
do; the runner part (:mod:`..enforcement`) only carries it out.

Rules, for each account whose snapshot was read, by the lock that binds each order or position
(the most restrictive of the ``global`` lock and those of its venue, its account, its strategy and
its symbol, as the pre-trade gate reads them: :func:`~killswitch.runner.gate.request.lock_keys`):

- **an order that can add exposure is cancelled**: under ``halted`` every open order that is not
  reduce-only; under ``reducing`` one that would grow a position (the same side as the position
  of its symbol and leg, or no position, or a larger amount than the position it faces). Never
  cancelled: an order that can only reduce (``reduce_only``: the venue's flag, a hedge-mode
  closing leg, ``closePosition``; a take-profit or stop-loss attached to a position, kind
  ``tpsl``), and never one of the runner's own (its client order id is journaled);
- **growth under a halt is reverted**: the size of every position leg (account, symbol, leg) is
  the *baseline*: its size as last read before the lock was placed, where the caller has that
  read (``before``: the previous tick's, so that growth between the placement and the first tick
  under the lock is growth under it), else in the first snapshot the lock is in force for (a leg
  absent then is 0), lowered whenever the position shrinks; a leg above its baseline is brought back to it by one
  reduce-only order of the excess, never above the position, rounded down to the market's step
  (nothing when that is below the venue's minimum amount: said in ``notes``), at a protected
  price (:data:`REVERT_SLIPPAGE` past the mark). Never on a leg a plan of this tick already
  closes (``closing``). A spot account's holdings are legs too (``ASSET/QUOTE``, long, the
  asset's total; :func:`~killswitch.snapshot.spot_holdings`, what a ``close_all`` sells: never
  the quote currency or a stablecoin), their growth sold back as a ``close_all`` sells (not
  reduce-only, at most the holding, the venue's minimum notional a minimum too);
- **a fill under a halt that reduced** is reported too (no order may pass a halt): a leg below
  its baseline under a ``halted`` lock is a candidate (``Watch.reduced``, action
  :data:`REDUCED`) that the caller keeps only where the account's trades show a bot's fill did
  it (:func:`..attribution.reduced_by_bots`); nothing is sent back;
- each is a :class:`Violation` with a key it is reported under once (an order: its id; a
  revert: the leg, its baseline and its size, so that growth again is reported again).

What a lock enforces (:func:`enforce_of`): its ``enforce`` (``{cancel, revert_growth}``, in the
hold's details: a ``lock_trading`` action's or ``ksctl lock``'s), else by its mode: ``halted``
cancels and reverts, ``reducing`` cancels growth and does not revert.

The baselines of an account live while a lock that reverts may bind part of it (one binding the
account as a whole, or a symbol or strategy lock naming what the account holds, lists or has open)
and are dropped when none does; a lock placed while another already holds keeps the earlier
baselines (growth since then was under a lock too).

One order alone (:func:`entry`): the cancel a new order a stream delivers calls for, decided
by the same rules and under the same key as :func:`watch` would, from the lock book and the
order (and, under ``reducing``, the positions of its symbol): what the runner sends at the
stream's event, before a tick reads the whole account.

Extra per-order checks (``checks``: each a function of the snapshot and an order, returning a
:class:`Flag` or None) let a caller have the watch cancel more: an order not the runner's and not
reduce-only that a check flags is cancelled as a violation of the flag's kind and scope, whether
a lock is in force or not (pre-trade limits applied to orders that never asked).

The room, by responsibility: the values (:mod:`.values`: what a lock enforces, a flag, a
violation, the watch's answer, the lock that binds an order or a position), the orders' rules
(:mod:`.orders`: the cancels, :func:`entry`), the positions' (:mod:`.legs`: sizes, baselines,
reverts and reductions, :class:`SizesMemo`) and the one pass over the accounts (:mod:`.decide`:
:func:`watch`). This face re-exports what callers use.

Must not: read the clock, do I/O, or consult anything but its arguments.
"""

from __future__ import annotations

from .decide import watch
from .legs import SizesMemo, leg_sizes
from .orders import could_be_own, entry, grows, only_reduces
from .values import (
    ACTIONS,
    LEGS as LEGS,
    LOCK_VIOLATION,
    REDUCED,
    REVERT_SLIPPAGE,
    UNKNOWN_STRATEGY,
    BotOrder as BotOrder,
    Enforce,
    Flag,
    Leg as Leg,
    OrderCheck,
    Violation,
    Watch,
    default_enforce,
    enforce_details,
    enforce_of,
    leg_of_position as leg_of_position,
    strategy_name as strategy_name,
    with_step as with_step,
)

__all__ = ["ACTIONS", "Enforce", "Flag", "LOCK_VIOLATION", "OrderCheck", "REDUCED", "REVERT_SLIPPAGE",
           "UNKNOWN_STRATEGY", "SizesMemo", "Violation", "Watch", "could_be_own", "default_enforce", "enforce_details",
           "enforce_of", "entry", "grows", "leg_sizes", "only_reduces", "watch"]
