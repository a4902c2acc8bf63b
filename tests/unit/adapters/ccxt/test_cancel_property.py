"""Property: nothing a venue refused, or left unnamed, is ever counted cancelled.

Every venue dialect found by the registry (``adapters.registry.parts("DIALECT")``) has, in its
venue's folder (``adapters/venues/<venue>/contract.py``), a builder of each answer to a cancel it
reads (``CANCEL_ANSWERS``, by ``how``: ``one``, ``symbol``, ``batch``), in the shapes its tests and
fixtures document (cited there), or a line saying why it never reads one (``CANCEL_NOT_SENT``,
each claim checked here); a venue whose folder gives neither fails, named. Hypothesis splits the
orders sent at random into done, refused in a success answer (a code of the dialect's
``refusal_rules`` or one not in it) and not named at all, and adds orders never sent that the
answer names cancelled. For each answer the dialect's reading (``cancel_answer``) must:

* count done only ids the answer names cancelled, every one of them it was sent (the reading is
  not vacuous), and none it refused or left unnamed;
* keep each refused order's venue code (``refused[oid].code``), mapped by its table;
* say ``whole`` only for the shapes docs/exchanges.md calls acknowledged;
* raise BAD_RESPONSE where the answer lacks what the venue documents (the port lists again);

and the port's tally of it (``cancels.Tally``) count cancelled only what was sent and named done.

Then, at the port (``tests.ports.confirmed_cancel``: the runner's one way out) on MEXC through
the real ccxt client: an order still listed open after an acknowledged "whole" cancel is never
``canceled`` (ORDER_STILL_OPEN).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

import ccxt
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters.base import AdapterError, CancelResult, CancelSelector, Reason
from adapters.ccxt_exchange.cancels import Tally
from adapters.ccxt_exchange.dialects import dialect_for
from adapters.ccxt_exchange.dialects.refusals import codes, mapped
from adapters.registry import PACKAGE, parts
from killswitch.snapshot import Order
from tests.ports import confirmed_cancel
from tests.unit.adapters.ccxt.fake import run
from tests.unit.adapters.venues.mexc.test_dialect import (
    ORDER as MEXC_ORDER,
    TRIGGER as MEXC_TRIGGER,
    MexcVenue,
    adapter as mexc_adapter,
    ok,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HOWS = ("one", "symbol", "batch")
KINDS = ("regular", "conditional", "tpsl", "oco", "trailing")
MAX_SENT = 12  # the most orders one drawn answer is for (below the venues' caps: 20 to 500)


# --- what one answer is built from ---------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    code: str  # the venue's code, as text
    words: str


_CCXT: dict[str, Any] = {}


def client(cid: str) -> Any:
    """One ccxt client of ``cid`` for its parsers (built once: a client is slow to make)."""
    if cid not in _CCXT:
        _CCXT[cid] = getattr(ccxt, cid)()
    return _CCXT[cid]


@dataclass
class Fates:
    """The orders sent, what the answer is to say of each, and the draws a venue's builder makes
    (what a builder is handed: adapters/venues/binance/contract.py, CANCEL_ANSWERS)."""

    sent: list[Order]
    done: list[str]  # sent ids the answer names cancelled
    refused: dict[str, Refusal]  # sent ids the answer refuses, with the venue's code and words
    unnamed: list[str]  # sent ids the answer names neither way
    strangers: list[str]  # ids never sent, for the answer to name cancelled
    by_client: set[str] = field(default_factory=set)  # sent ids a row names by client id alone
    draw: Any = None  # hypothesis's draw, for the builder's choices

    def client(self, oid: str) -> str:
        return f"ks{oid}"

    def flip(self) -> bool:
        return bool(self.draw(st.booleans()))

    def pick(self, values: list) -> Any:
        return self.draw(st.sampled_from(values))

    def shuffled(self, rows: list) -> list:
        """A list answer's rows in any order, some named twice (an id named twice counts once)."""
        if not rows:
            return rows
        twice = self.draw(st.lists(st.sampled_from(rows), max_size=2))
        return list(self.draw(st.permutations(rows + copy.deepcopy(twice))))

    @staticmethod
    def ccxt(cid: str) -> Any:
        return client(cid)

    @staticmethod
    def parsed(oid: Optional[str], info: Any) -> dict:
        """ccxt's parsed order of a one-order cancel: the venue's row in its info."""
        return {"id": oid, "status": "canceled", "info": info}


@dataclass(frozen=True)
class Built:
    answer: Any
    named_done: frozenset[str]  # every id the answer names cancelled (sent or not)
    bad: bool = False  # the answer lacks what the venue documents: BAD_RESPONSE


@dataclass(frozen=True)
class Shape:
    """One answer a dialect reads, as its venue's ``CANCEL_ANSWERS`` row says: ``how`` it is read,
    the venue's endpoint, the kind of the orders it is for, how many one answer is for, the fates
    it can give an order sent, whether it is the venue's acknowledged "all of them"
    (docs/exchanges.md) and its builder."""

    venue: str
    how: str
    endpoint: str
    build: Callable[[Fates], tuple]
    kinds: tuple[str, ...] = ("regular",)
    most: int = 1
    fates: tuple[str, ...] = ("done",)
    whole: bool = False
    strangers: bool = False  # the answer can name orders never sent
    novel: Optional[str] = None  # the form (a regex) of the venue's codes not in its table
    not_novel: tuple[str, ...] = ()  # codes of that form that are no refusal (the venue's word for done)
    symbol: str = "BTC/USDT:USDT"  # the orders' (a spot answer's are a spot pair's)

    def built(self, fates: Fates) -> Built:
        answer, named, *bad = self.build(fates)
        return Built(answer, frozenset(named), bool(bad and bad[0]))


# --- the venues' answers, each from its folder ---------------------------------------------------


def venue_dialects() -> list[tuple[str, str]]:
    """(venue folder, ccxt id) of every dialect the registry finds."""
    return [(p.venue, d.id) for p in parts("DIALECT") for d in p.module.DIALECTS]


def venue_answers(venue: str) -> tuple[tuple[Shape, ...], dict[str, str]]:
    """A venue's cancel answers and what its dialect is never handed, from its folder's
    ``contract.py`` (``CANCEL_ANSWERS``, ``CANCEL_NOT_SENT``); a venue that gives none fails here,
    naming itself and what it lacks."""
    where = f"adapters/venues/{venue}/contract.py"
    try:
        module = import_module(f"{PACKAGE}.{venue}.contract")
    except ModuleNotFoundError as e:
        raise AssertionError(f"{where} is missing: no builder of the venue's cancel answers (CANCEL_ANSWERS)") from e
    lacks = [name for name in ("CANCEL_ANSWERS", "CANCEL_NOT_SENT") if not hasattr(module, name)]
    assert not lacks, (f"{where} lacks {' and '.join(lacks)}: the builders of the answers to a cancel its "
                       f"dialect reads, and the ones it is never handed (see adapters/venues/binance/contract.py)")
    return tuple(Shape(venue, **row) for row in module.CANCEL_ANSWERS), dict(module.CANCEL_NOT_SENT)


def cases() -> list:
    out = []
    for venue, cid in venue_dialects():
        try:
            shapes: tuple = venue_answers(venue)[0]
        except AssertionError:
            shapes = ()
        for at, shape in enumerate(shapes or (None,)):
            name = f"{cid}-{shape.how}-{at}" if shape is not None else f"{cid}-no-builder"
            out.append(pytest.param(venue, cid, shape, id=name))
    return out


# --- every dialect, every answer it reads ----------------------------------------------------------


def test_every_dialect_of_the_registry_has_its_answers_built_or_said_not_sent():
    for venue, cid in venue_dialects():
        shapes, said_not = venue_answers(venue)
        read = {s.how for s in shapes}
        said = set(said_not)
        assert read | said == set(HOWS) and not read & said, \
            f"adapters/venues/{venue}/contract.py: each of {HOWS} built (CANCEL_ANSWERS) or said not sent " \
            f"(CANCEL_NOT_SENT), never both: built {sorted(read)}, said not sent {sorted(said)}"
        d = dialect_for(cid)
        for how in said:  # the claim is the adapter's: it never sends that request
            if how == "batch":
                assert all(d.cancel_batch_size(k) == 0 for k in KINDS), f"{cid}: batches {how}"
            elif all(d.cancels_itself(k) and d.cancel_batch_size(k) >= 1 for k in KINDS):
                pass  # every order goes through the dialect's batches: never ccxt's one or a symbol's
            else:
                assert not client(cid).has.get("cancelAllOrders"), f"{cid}: has cancelAllOrders"


def codes_of(rules: Any, shape: Shape) -> st.SearchStrategy[str]:
    """A venue code for a refused row: one of its refusal table, or (``shape.novel``) one not in
    it; never the venue's word for done (0, cancelled)."""
    assert shape.novel is not None, f"{shape.endpoint}: refuses, yet no form of the venue's codes"
    known = codes(rules) | {"0", "cancelled", *shape.not_novel}
    novel = st.from_regex(shape.novel, fullmatch=True).filter(lambda c: c not in known)
    table = sorted(codes(rules) - {"0", "cancelled"})
    return st.sampled_from(table) | novel if table else novel


@st.composite
def fates_of(draw: Any, shape: Shape, rules: Any) -> Fates:
    n = draw(st.integers(1, min(shape.most, MAX_SENT)))
    ids = draw(st.lists(st.integers(10**17, 10**19).map(str), min_size=n + 3, max_size=n + 3, unique=True))
    kind = draw(st.sampled_from(shape.kinds))
    sent = [Order(id=i, client_id=f"ks{i}", symbol=shape.symbol, side="buy", type="limit", kind=kind, amount=1.0)
            for i in ids[:n]]
    fates = Fates(sent, [], {}, [], [])
    words = st.sampled_from(["order not exist", "Order cancellation failed as the order has been filled",
                             "service return an error", "the order was not found", "busy"])
    for o in sent:
        fate = draw(st.sampled_from(shape.fates))
        if fate == "done":
            fates.done.append(o.id)
        elif fate == "refused":
            fates.refused[o.id] = Refusal(draw(codes_of(rules, shape)), draw(words))
        else:
            fates.unnamed.append(o.id)
        if draw(st.booleans()):
            fates.by_client.add(o.id)
    if shape.most == 1 and fates.unnamed:
        fates.strangers = ids[n:n + 1]  # a one-order answer naming another order
    elif shape.strangers:
        fates.strangers = ids[n:n + draw(st.integers(0, 3))]
    return fates


@pytest.mark.parametrize("venue, cid, shape", cases())
@SETTINGS
@given(data=st.data())
def test_only_what_an_answer_names_cancelled_is_done(venue, cid, shape, data):
    if shape is None:
        venue_answers(venue)  # fails naming the venue and what its folder lacks
        pytest.fail(f"adapters/venues/{venue}/contract.py: CANCEL_ANSWERS is empty")
    dialect = dialect_for(cid)
    fates = data.draw(fates_of(shape, dialect.refusal_rules))
    fates.draw = data.draw
    built = shape.built(fates)
    sent = fates.sent
    sent_ids = {o.id for o in sent}
    left = set(fates.refused) | set(fates.unnamed)
    if built.bad:
        with pytest.raises(AdapterError) as e:
            dialect.cancel_answer(shape.how, built.answer, sent)
        assert e.value.reason is Reason.BAD_RESPONSE
        return
    a = dialect.cancel_answer(shape.how, built.answer, sent)
    # only what it names cancelled, never what it refused or left unnamed
    assert a.done <= built.named_done, f"{shape.endpoint}: done {sorted(a.done - built.named_done)} never named"
    assert not a.done & left, f"{shape.endpoint}: refused or unnamed counted done: {sorted(a.done & left)}"
    assert a.done & sent_ids == built.named_done & sent_ids  # every order sent and named done is read so
    # each refusal keeps the venue's code, mapped by its table
    assert set(a.refused) == set(fates.refused), shape.endpoint
    for oid, said in fates.refused.items():
        r = a.refused[oid]
        assert r.code == said.code, (shape.endpoint, r, said)
        assert r.reason == mapped(r.code, r.message, dialect.refusal_rules).reason
    assert a.whole is shape.whole, shape.endpoint
    # the port's tally: cancelled only what was sent and named done; the rest refused or left to the list
    tally = Tally()
    tally.read(a, sent)
    assert set(tally.canceled) <= built.named_done & sent_ids and not set(tally.canceled) & left
    assert set(tally.failed) == set(fates.refused)
    assert set(tally.acknowledged if shape.whole else tally.unconfirmed) == set(fates.unnamed)


# --- the port: an acknowledged "whole" still listed is never cancelled ----------------------------
# MEXC through the real ccxt client (tests/unit/adapters/venues/mexc/test_dialect.py's MexcVenue):
# order/cancel_all and planorder/cancel_all answer success true, naming none (acknowledged); the
# venue here takes away only the orders it is drawn to, and lists the others open after.


class RestingMexc(MexcVenue):
    """MEXC's contract API holding ``regular`` and ``triggers`` open (documented rows, their ids
    ours); a symbol's cancel-all answers success and cancels every order not in ``resting``."""

    def __init__(self, regular: list[str], triggers: list[str], resting: set[str]):
        super().__init__(mode=2)
        self.regular = [dict(MEXC_ORDER, orderId=i, externalOid=f"ks{i}", positionMode="2") for i in regular]
        self.triggers = [dict(MEXC_TRIGGER, id=i) for i in triggers]
        self.resting = resting
        self.cancels: list[str] = []

    async def fetch(self, url, method="GET", headers=None, body_=None, **kw):
        path = urlsplit(url).path
        if path == "/api/v1/private/order/list/open_orders":
            return ok(self.regular)
        if path == "/api/v1/private/planorder/list/orders":
            return ok(self.triggers)
        if path == "/api/v1/private/stoporder/list/orders":
            return ok([])
        if path in ("/api/v1/private/order/cancel_all", "/api/v1/private/planorder/cancel_all"):
            self.cancels.append(path)
            self.regular = [r for r in self.regular if r["orderId"] in self.resting]
            self.triggers = [r for r in self.triggers if r["id"] in self.resting]
            return {"success": True, "code": 0}
        return await super().fetch(url, method, headers, body_, **kw)


@SETTINGS
@given(data=st.data())
def test_an_order_listed_open_after_an_acknowledged_cancel_is_never_cancelled(data):
    ids = data.draw(st.lists(st.integers(10**17, 10**19).map(str), min_size=1, max_size=8, unique=True))
    cut = data.draw(st.integers(0, len(ids)))
    regular, triggers = ids[:cut], ids[cut:]
    resting = set(data.draw(st.lists(st.sampled_from(ids), unique=True)))
    venue = RestingMexc(regular, triggers, resting)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KS_TEST_KEY", "k")
        env.setenv("KS_TEST_SECRET", "s")
        a = mexc_adapter(venue)
        answers: list[CancelResult] = []  # the adapter's own answers, before the port decides
        cancel = a.cancel_orders

        async def recorded(selector: CancelSelector) -> CancelResult:
            answers.append(await cancel(selector))
            return answers[-1]

        a.cancel_orders = recorded  # type: ignore[method-assign]
        try:
            res = run(confirmed_cancel(a, CancelSelector(which="all")))
        finally:
            run(a.close())
    # the adapter's first answer: acknowledged, none of them counted cancelled before the list
    assert not answers[0].canceled and set(answers[0].acknowledged) == set(ids)
    # each kind's cancel-all sent, answered success naming none
    kinds = [("/api/v1/private/order/cancel_all", regular), ("/api/v1/private/planorder/cancel_all", triggers)]
    assert set(venue.cancels) == {path for path, held in kinds if held}
    assert not set(res.canceled) & resting, f"still resting yet cancelled: {sorted(set(res.canceled) & resting)}"
    assert {o.id for o in res.still_open} == resting
    assert all(res.failed[i] == Reason.ORDER_STILL_OPEN.value for i in resting)
    assert set(res.canceled) == set(ids) - resting  # what the venue took away, confirmed by its list
