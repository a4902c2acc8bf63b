"""The venue's switch of the bots' trading permission, end to end: the production CcxtAdapter
(a real ccxt client signed with the master credential) against the simulated exchange's faces of
every venue whose dialect has a switch (``adapters.registry``; what each venue sends and answers:
its folder's ``contract.SWITCH_TERMS``), and a bot's own ccxt client trading with the key it
revokes.

Each test starts a :class:`SimServer` on a free 127.0.0.1 port and stops it; each is bounded in
time. The runner's adapter trades with the account's own key, the bot with a key of its own
(``bot-key-1``), the switch with a master credential (``master-key``)."""

from __future__ import annotations

import ccxt
import pytest

from adapters.base import ALLOWED, REVOKED, UNKNOWN_STATE, AdapterError, Reason
from adapters.ccxt_exchange import CcxtAdapter
from adapters.simulated.faults import FaultKind, FaultPlan, FaultRule
from adapters.simulated.http import SimServer, wall_clock
from adapters.simulated.venues import sim_account
from killswitch.policy.accounts_doc import Account
from tests.integration.sim_helpers import engine, run

ACCOUNT = "sim-main"
BOT, BOT_SECRET = "bot-key-1", "bot-secret-1"
MASTER, MASTER_SECRET = "master-key", "master-secret"
def switch_terms() -> dict[str, dict]:
    """Every venue the simulated exchange answers as whose dialect has a switch of the keys
    (``adapters.registry``), by its ccxt id: its folder's ``contract.SWITCH_TERMS``."""
    from importlib import import_module

    from adapters.ccxt_exchange import dialect_for
    from adapters.registry import sim_venues

    return {v: import_module(f"{pkg.__name__}.contract").SWITCH_TERMS for v, pkg in sim_venues().items()
            if dialect_for(v).permission_switches()}


TERMS = switch_terms()
VENUES = tuple(TERMS)
SUB = {v: t["sub_account"] for v, t in TERMS.items()}
PATH = {v: t["path"] for v, t in TERMS.items()}  # each venue's documented request of the switch
REFUSED_ORDER = {v: t["refused_order"] for v, t in TERMS.items()}  # a revoked key's order refused
REFUSALS = {v: t["not_master"] for v, t in TERMS.items()}  # a key that is no master's, refused


def master_credentials(venue: str) -> dict:
    """The revoke block's master credential: a passphrase too where the venue signs with one."""
    creds = {"api_key": {"env": "KS_T_MASTER_KEY"}, "secret": {"env": "KS_T_MASTER_SECRET"}}
    if getattr(ccxt, venue)().requiredCredentials.get("password"):
        creds["password"] = {"env": "KS_T_MASTER_PASS"}
    return creds


def _face(venue: str):
    from importlib import import_module

    from adapters.registry import sim_venues

    pkg = sim_venues()[venue]
    return import_module(f"{pkg.__name__}.{pkg.FACE}")


def _account(srv: SimServer, venue: str, monkeypatch, *, method: str = "permissions", keys=(BOT,),
             master=(MASTER, MASTER_SECRET)) -> Account:
    monkeypatch.setenv("KS_T_MASTER_KEY", master[0])
    monkeypatch.setenv("KS_T_MASTER_SECRET", master[1])
    monkeypatch.setenv("KS_T_MASTER_PASS", "sim-passphrase")
    revoke = {"master_credentials": master_credentials(venue), "sub_account": SUB[venue], "api_keys": list(keys),
              "method": method}
    return sim_account(srv, ACCOUNT, venue, revoke=revoke)


def _bot(srv: SimServer, venue: str):
    """The bot's own ccxt client, trading with its key."""
    return _face(venue).sim_client(srv, ACCOUNT, apiKey=BOT, secret=BOT_SECRET)


def serve(venue: str, test, monkeypatch, *, faults=None, timeout: float = 30.0, **account_kw):
    eng, clock = engine()
    if faults is not None:
        eng.faults = faults
    perms = eng.permissions
    perms.add_key(ACCOUNT, BOT, BOT_SECRET)
    perms.add_master(MASTER, MASTER_SECRET)
    perms.name_sub(ACCOUNT, *SUB.values())

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock, hang_s=6.0)
        await srv.start()
        acc = _account(srv, venue, monkeypatch, **account_kw)
        ad = CcxtAdapter(acc, urls=srv.base_url, timeout=3.0, max_retries=1, backoff_s=0.05, ccxt_rate_limit=False)
        bot = _bot(srv, venue)
        try:
            return await test(srv, ad, bot, eng)
        finally:
            await ad.close()
            await bot.close()
            await srv.stop()

    return run(go(), timeout)


async def _buy(bot, venue: str) -> dict:
    return await bot.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, 50_000.0)


async def _refused_code(bot, venue: str) -> str:
    with pytest.raises(ccxt.BaseError) as e:
        await _buy(bot, venue)
    assert REFUSED_ORDER[venue] in str(e.value), str(e.value)
    return REFUSED_ORDER[venue]


# --- the documented request ---------------------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
def test_revoke_sends_the_venues_documented_request_signed_with_the_master_key(venue, monkeypatch):
    async def t(srv, ad, bot, eng):
        assert ad.capabilities.revoke_trading
        result = await ad.set_trading(False)
        assert result.holds(allowed=False), result.describe()
        changes = [(m, p, q) for m, p, q in eng.permissions.requests if m == "POST"]
        assert [(m, p) for m, p, _ in changes] == [("POST", PATH[venue])]
        params = changes[0][2]
        terms = TERMS[venue]
        signed = terms.get("signed", ())
        assert all(f in params for f in signed)
        sent = {k: v.format(key=BOT) if isinstance(v, str) else v for k, v in terms["revoke_sent"].items()}
        assert {k: v for k, v in params.items() if k not in signed} == sent
        # signed with the master key, never with the account's or the bot's
        assert MASTER in eng.permissions.masters

    serve(venue, t, monkeypatch)


# --- a revoked key cannot trade; a restored one can -----------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
def test_a_revoked_keys_order_is_refused_with_the_venues_code_and_a_restore_trades_again(venue, monkeypatch):
    async def t(srv, ad, bot, eng):
        placed = await _buy(bot, venue)  # the bot trades before the revoke
        assert placed["id"]
        assert (await ad.set_trading(False)).holds(allowed=False)
        await _refused_code(bot, venue)
        with pytest.raises(ccxt.BaseError) as e:  # and cancels, as the venue refuses them too
            await bot.cancel_order(placed["id"], "BTC/USDT:USDT")
        assert REFUSED_ORDER[venue] in str(e.value)
        # the runner's own key is not revoked: its reads and closes go on
        snap = await ad.snapshot()
        assert snap.fetch.ok, snap.fetch.error
        restored = await ad.set_trading(True)
        assert restored.holds(allowed=True), restored.describe()
        assert (await _buy(bot, venue))["id"]

    serve(venue, t, monkeypatch)


@pytest.mark.parametrize("venue", VENUES)
def test_revoking_a_revoked_key_is_success(venue, monkeypatch):
    async def t(srv, ad, bot, eng):
        first = await ad.set_trading(False)
        again = await ad.set_trading(False)
        assert first.holds(allowed=False) and again.holds(allowed=False) and not again.refusals
        await _refused_code(bot, venue)

    serve(venue, t, monkeypatch)


@pytest.mark.parametrize("venue", VENUES)
def test_the_read_agrees_with_the_venue_where_it_offers_one(venue, monkeypatch):
    from adapters.ccxt_exchange import dialect_for

    readable = dialect_for(venue).permission_switches()["permissions"].readable

    async def t(srv, ad, bot, eng):
        before = await ad.read_trading()
        assert before.readable is readable
        assert before.states == {BOT: ALLOWED if readable else UNKNOWN_STATE}
        await ad.set_trading(False)
        after = await ad.read_trading()
        assert after.states == {BOT: REVOKED if readable else UNKNOWN_STATE}
        if readable:  # the read is the venue's own: a key revoked behind our back reads so
            eng.permissions.key(BOT).futures = eng.permissions.key(BOT).spot = True
            assert (await ad.read_trading()).states == {BOT: ALLOWED}

    serve(venue, t, monkeypatch)


# --- refusals keep the venue's words ----------------------------------------------------------------------



@pytest.mark.parametrize("venue", VENUES)
def test_a_refused_revoke_keeps_the_venues_code_and_message_and_is_never_shown_revoked(venue, monkeypatch):
    async def t(srv, ad, bot, eng):
        code, msg = REFUSALS[venue]
        eng.permissions.refuse(code, msg, ops=("revoke_trading",))
        result = await ad.set_trading(False)
        assert not result.holds(allowed=False)
        assert result.refusals[BOT][:2] == (code, msg), result.describe()
        assert result.states[BOT] != REVOKED
        assert (await _buy(bot, venue))["id"]  # nothing changed at the venue

    serve(venue, t, monkeypatch)


@pytest.mark.parametrize("venue", VENUES)
def test_a_master_credential_that_is_no_master_is_refused_by_the_venue(venue, monkeypatch):
    async def t(srv, ad, bot, eng):
        result = await ad.set_trading(False)
        code, msg = REFUSALS[venue]
        assert result.refusals[BOT][:2] == (code, msg), result.describe()
        assert not result.holds(allowed=False)

    serve(venue, t, monkeypatch, master=(BOT, BOT_SECRET))  # the bot's key given as the master


@pytest.mark.parametrize("venue", VENUES)
def test_a_revoke_that_never_answers_is_unknown_not_revoked(venue, monkeypatch):
    faults = FaultPlan([FaultRule("revoke_trading", FaultKind.TIMEOUT)])

    async def t(srv, ad, bot, eng):
        result = await ad.set_trading(False)
        assert not result.holds(allowed=False)
        reason, _ = result.failures[BOT]
        assert reason is Reason.TIMEOUT
        assert result.states[BOT] in (UNKNOWN_STATE, ALLOWED)  # read back where the venue offers a read

    serve(venue, t, monkeypatch, faults=faults, timeout=40.0)


# --- what is refused before anything is sent ----------------------------------------------------------------


@pytest.mark.parametrize("venue", VENUES)
def test_listing_the_runners_own_key_is_refused_locally(venue, monkeypatch):
    async def t(srv, ad, bot, eng):
        with pytest.raises(AdapterError) as e:
            await ad.set_trading(False)
        assert e.value.reason is Reason.REVOKE_OWN_KEY
        assert eng.permissions.requests == []

    eng_key = "sim-main-key"  # the engine's own key of sim-main (scenarios: <account>-key)
    serve(venue, t, monkeypatch, keys=(BOT, eng_key))


def test_an_unreadable_master_credential_fails_the_revoke_not_the_snapshots(monkeypatch):
    async def t(srv, ad, bot, eng):
        monkeypatch.delenv("KS_T_MASTER_SECRET")
        with pytest.raises(AdapterError) as e:
            await ad.set_trading(False)
        assert e.value.reason is Reason.AUTH and "KS_T_MASTER_SECRET" in e.value.message
        assert (await ad.snapshot()).fetch.ok

    serve("bybit", t, monkeypatch)


def test_a_venue_without_the_switch_says_so():
    acc = Account.model_validate({"name": "a", "venue": "zzfutures", "market_type": "futures", "revoke": {
        "master_credentials": {"api_key": {"env": "X"}, "secret": {"env": "Y"}}, "sub_account": "s",
        "api_keys": ["k"]}})
    ad = CcxtAdapter(acc, exchange_factory=lambda config: None)  # a made-up id: no venue folder, no ccxt class
    assert not ad.capabilities.revoke_trading

    async def t():
        try:
            with pytest.raises(AdapterError) as e:
                await ad.set_trading(False)
            assert e.value.reason is Reason.REVOKE_UNSUPPORTED
        finally:
            await ad.close()

    run(t())


# --- Bybit: the key's IPs kept; the sub-account frozen --------------------------------------------------------


def test_bybit_keeps_the_keys_bound_ips_through_revoke_and_restore(monkeypatch):
    async def t(srv, ad, bot, eng):
        eng.permissions.key(BOT).ips = ("10.0.0.1", "10.0.0.2")
        await ad.set_trading(False)
        await ad.set_trading(True)
        assert eng.permissions.key(BOT).ips == ("10.0.0.1", "10.0.0.2")
        posts = [q for m, _, q in eng.permissions.requests if m == "POST"]
        assert [q["ips"] for q in posts] == ["10.0.0.1,10.0.0.2"] * 2

    serve("bybit", t, monkeypatch)


def test_bybit_freeze_freezes_the_sub_account_and_reads_it_back(monkeypatch):
    async def t(srv, ad, bot, eng):
        result = await ad.set_trading(False)
        assert result.method == "freeze" and result.holds(allowed=False), result.describe()
        posts = [(p, q) for m, p, q in eng.permissions.requests if m == "POST"]
        assert posts == [("/v5/user/frozen-sub-member", {"subuid": 53888001, "frozen": 1})]
        with pytest.raises(ccxt.BaseError) as e:
            await _buy(bot, "bybit")
        assert "10027" in str(e.value)
        assert (await ad.set_trading(True)).holds(allowed=True)
        assert (await _buy(bot, "bybit"))["id"]

    serve("bybit", t, monkeypatch, method="freeze")


def test_okx_paces_its_changes_at_one_a_second(monkeypatch):
    import time

    async def t(srv, ad, bot, eng):
        eng.permissions.add_key(ACCOUNT, "bot-key-2", "bot-secret-2")
        started = time.monotonic()
        result = await ad.set_trading(False)
        assert result.holds(allowed=False), result.describe()
        assert time.monotonic() - started >= 0.9  # two keys, one request a second

    serve("okx", t, monkeypatch, keys=(BOT, "bot-key-2"))


# --- the in-process adapter -----------------------------------------------------------------------------------


def test_the_in_process_adapter_switches_the_engines_keys_behind_its_fault_plan():
    from adapters.simulated.adapter import SimulatedAdapter

    eng, _ = engine()
    eng.permissions.add_key(ACCOUNT, BOT, BOT_SECRET)
    plain = SimulatedAdapter(eng, ACCOUNT)
    assert not plain.capabilities.revoke_trading
    ad = SimulatedAdapter(eng, ACCOUNT, revoke_keys=(BOT,), timeout_s=0.5)
    assert ad.capabilities.revoke_trading

    async def t():
        assert (await ad.set_trading(False)).holds(allowed=False)
        assert not eng.permissions.may_trade(BOT) and eng.permissions.may_trade("sim-main-key")
        assert (await ad.read_trading()).states == {BOT: REVOKED}
        eng.permissions.refuse("-1002", "You are not authorized to execute this request.", times=1)
        refused = await ad.set_trading(True)
        assert refused.refusals[BOT][:2] == ("-1002", "You are not authorized to execute this request.")
        assert refused.states == {BOT: REVOKED} and not eng.permissions.may_trade(BOT)
        eng.faults.rules.append(FaultRule("restore_trading", FaultKind.TIMEOUT, times=1))
        lost = await ad.set_trading(True)
        assert lost.failures[BOT][0] is Reason.TIMEOUT and lost.states == {BOT: UNKNOWN_STATE}
        assert (await ad.set_trading(True)).holds(allowed=True) and eng.permissions.may_trade(BOT)
        with pytest.raises(AdapterError) as e:
            await SimulatedAdapter(eng, ACCOUNT, revoke_keys=("sim-main-key",)).set_trading(False)
        assert e.value.reason is Reason.REVOKE_OWN_KEY
        with pytest.raises(AdapterError) as e:
            await plain.set_trading(False)
        assert e.value.reason is Reason.REVOKE_UNSUPPORTED

    run(t())


@pytest.mark.parametrize("venue", VENUES)
def test_serve_prints_a_master_and_bot_keys_that_revoke_on_every_switch_venue(venue, monkeypatch):
    """What ``python -m adapters.simulated serve`` prints under ``revoke`` and ``venues`` is
    enough to try a revoke: the entry's revoke: block and its environment work as printed."""
    from adapters.simulated.__main__ import faces_settings, revoke_keys

    eng, _ = engine()

    async def go():
        srv = SimServer(eng, auth_clock=wall_clock)
        await srv.start()
        keys = revoke_keys(eng)
        face = faces_settings(srv, ACCOUNT, keys)[venue]
        for name, value in face["env"].items():
            monkeypatch.setenv(name, value)
        assert face["account"]["revoke"]["api_keys"] == [keys["bots"][ACCOUNT]["api_key"]] == ["sim-main-bot-key"]
        acc = Account.model_validate(face["account"])
        ad = CcxtAdapter(acc, urls=srv.base_url, timeout=3.0, max_retries=1, backoff_s=0.05, ccxt_rate_limit=False)
        bot = _face(venue).sim_client(srv, ACCOUNT, apiKey=keys["bots"][ACCOUNT]["api_key"],
                                      secret=keys["bots"][ACCOUNT]["secret"])
        try:
            assert ad.capabilities.revoke_trading
            await _buy(bot, venue)  # the bot's key trades before the revoke
            res = await ad.set_trading(False)
            assert not res.refusals and not res.failures and set(res.states.values()) == {"revoked"}, res
            await _refused_code(bot, venue)
        finally:
            await ad.close()
            await bot.close()
            await srv.stop()

    run(go(), 30.0)
