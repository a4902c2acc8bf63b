"""The ``Accounts`` document: the accounts a runner reads and acts on, and its shards.

What it owns: :class:`Accounts` and :class:`AccountsSpec` (``dry_run``, failing closed), an
:class:`Account` (its venue, market, strategies and their client order id prefixes, streams,
the venue's switch of the bots' keys: :class:`RevokeSpec`), its :class:`Credentials` as
:class:`SecretRef` references (a literal secret is refused, KS209, its value never shown), and a
:class:`Shard` of the firm. Checks across accounts (shards, venues, settle coins) are the
compiler's.

Pure: no I/O.

Annotations here are evaluated as the classes are made (no ``from __future__ import
annotations``), as in every module of the policy models: see :mod:`.model`.
"""

from typing import Annotated, Any, Literal, Optional, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from .fields import DocName, Document, Labels
from .registry import Strict
from .scope import AccountSelector
from .units import AmountField, Duration, DurationField


class SecretRef(Strict):
    """Where a secret lives: an environment variable or a mounted file. Never the secret itself."""

    env: Optional[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = None
    file: Optional[Annotated[str, Field(min_length=1)]] = None

    @model_validator(mode="before")
    @classmethod
    def _no_literal(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise PydanticCustomError(
                "ks_secret",
                "a secret must be a reference ({env: VAR} or {file: PATH}); a literal value in a file leaks it",
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.env is None) == (self.file is None):
            raise PydanticCustomError("ks_value", "a secret reference names exactly one of env or file")
        return self


# An account address of a wallet-signed venue (Hyperliquid): 0x and 40 hex digits. Public, so
# written as it is, and checked here: a typo would read another account, or none.
WalletAddress = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class Credentials(Strict):
    """An API key and its secret (``password``, ``uid`` where the venue has them); or, on a venue
    whose orders a wallet signs (Hyperliquid), the account's ``wallet_address`` and the
    ``private_key`` that signs for it (the account's own, or an API wallet approved by it), with
    ``vault_address`` when the key trades a vault or a sub-account of that account."""

    api_key: Optional[SecretRef] = None
    secret: Optional[SecretRef] = None
    password: Optional[SecretRef] = None
    uid: Optional[SecretRef] = None
    wallet_address: Optional[WalletAddress] = None
    private_key: Optional[SecretRef] = None
    vault_address: Optional[WalletAddress] = None

    @model_validator(mode="after")
    def _one_way_to_sign(self) -> Self:
        key = self.api_key is not None or self.secret is not None
        wallet = self.wallet_address is not None or self.private_key is not None or self.vault_address is not None
        if key and wallet:
            raise PydanticCustomError("ks_value", "credentials are an api_key and a secret, or a wallet_address and "
                                      "a private_key (a wallet-signed venue), not both")
        if wallet and (self.wallet_address is None or self.private_key is None):
            raise PydanticCustomError("ks_missing", "a wallet-signed account needs both wallet_address and private_key")
        if not wallet and (self.api_key is None or self.secret is None):
            raise PydanticCustomError("ks_missing", "credentials need an api_key and a secret "
                                      "(or, on a wallet-signed venue, a wallet_address and a private_key)")
        return self


def _fail_closed(value: Any) -> bool:
    """Only the boolean ``false`` turns dry run off; anything else ("no", 0, "false") keeps it on."""
    return value is not False


def _keys_once(v: list[str]) -> list[str]:
    twice = sorted({k for k in v if v.count(k) > 1})
    if twice:
        raise PydanticCustomError("ks_value", f"api key listed twice: {twice[0]}")
    return v


class RevokeSpec(Strict):
    """The venue's own switch of the bots' trading permission (the ``revoke_trading`` action and
    ``ksctl revoke``): a master credential that may change the sub-account's keys, the
    sub-account (Binance: its email; Bybit: its uid; OKX: its name), and the bots' API keys by
    their public id (their secrets are never needed). ``method``: ``permissions`` (each key
    read-only, its other settings kept) or ``freeze`` (the whole sub-account frozen: Bybit)."""
    master_credentials: Credentials
    # a uid written bare (Bybit's) is read as the text it is
    sub_account: Annotated[str, BeforeValidator(lambda v: str(v) if type(v) is int else v),
                           Field(min_length=1, max_length=128)]
    api_keys: Annotated[list[Annotated[str, Field(min_length=1, max_length=256)]], Field(min_length=1),
                        AfterValidator(_keys_once)]
    method: Literal["permissions", "freeze"] = "permissions"


class StreamSpec(Strict):
    """Private streams for this account (ccxt's streaming API): the snapshot is kept from the stream, REST
    reconciles every ``reconcile_every`` and at each reconnect; a stream silent for ``stale_after`` is blind and
    the account is polled over REST at the policy interval until it is live again, as it is while the last good
    reconcile is older than 3 × ``reconcile_every`` (the reconcile's REST reads failing)."""
    enabled: bool = True
    reconcile_every: DurationField = Duration(30_000)
    stale_after: DurationField = Duration(10_000)


def _durations_positive(v: StreamSpec) -> StreamSpec:
    # 0s would mean a REST reconcile at every tick, or a stream stale at every message
    for name in ("reconcile_every", "stale_after"):
        if getattr(v, name).ms <= 0:
            raise PydanticCustomError("ks_value", f"stream.{name} must be longer than 0s")
    return v


class StrategyEntry(Strict):
    """A strategy (bot) of this account and the client order id prefixes its orders carry: an order
    whose client id begins with one of them is that strategy's (in a lock violation's page, a
    strategy-scoped policy's orders). A strategy written as its name alone is the name followed by
    ``-``, ``_``, ``:`` or ``.``."""
    name: Annotated[str, Field(min_length=1)]
    client_id_prefixes: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]


class Account(Strict):
    name: DocName
    venue: Annotated[str, Field(pattern=r"^[a-z0-9_]+$", description="ccxt exchange id, e.g. binanceusdm")]
    market_type: Literal["spot", "futures"]
    labels: Labels = {}
    hedge_mode: bool = False
    # the bots trading on this account: a name (its client ids begin with it) or a name with its prefixes
    strategies: list[str | StrategyEntry] = []
    # None: the venue's own (USD on Kraken Futures, whose multi-collateral account is valued in USD;
    # USDT elsewhere), as its dialect says
    quote_currency: Optional[str] = None
    initial_capital: Optional[AmountField] = None
    stablecoins: list[str] = ["USDT", "USDC", "FDUSD", "DAI"]
    # The settle coins whose positions and orders the account's venue lists apart (Bybit lists
    # one settle coin a call); empty: the venue's main ones (see the exchanges table in docs/exchanges.md).
    settle_coins: list[Annotated[str, Field(pattern=r"^[A-Z0-9]{2,12}$")]] = []
    sandbox: bool = False
    # The venue's REST base URL, for a local simulator or a testnet (never needed for production).
    api_url: Optional[Annotated[str, Field(pattern=r"^https?://[^\s/]+(/.*)?$")]] = None
    # The venue at api_url paces requests itself (the simulated exchange, a gateway that enforces the
    # venue's limits): ccxt's client-side throttle is off, the order budget still paces orders. Only
    # with an api_url (KS224): a public venue keeps the client's pacing.
    paced_by_venue: bool = False
    # The account's rate tier where its venue's limits depend on it (Kraken spot's verification
    # tier: its key's call counter), one of the tiers its venue's dialect declares (KS225); absent
    # on such a venue, its lowest (KS226 says so).
    rate_tier: Optional[Annotated[str, Field(
        min_length=1, max_length=32,
        description="the account's rate tier at its venue, where the venue has tiers (kraken: Starter, "
                    "Intermediate, Pro); absent, the lowest")]] = None
    credentials: Optional[Credentials] = None
    # Opt-in: absent, the account is polled over REST every policy interval as before.
    stream: Optional[Annotated[StreamSpec, AfterValidator(_durations_positive)]] = None
    # The venue's own switch of the bots' keys (revoke_trading); absent: no revoke on this account.
    revoke: Optional[RevokeSpec] = None

    def strategy_names(self) -> list[str]:
        """The strategies' names, as written."""
        return [s if isinstance(s, str) else s.name for s in self.strategies]

    def client_id_prefixes(self) -> dict[str, str]:
        """Client order id prefix → the strategy it names: a declared prefix as written, a
        strategy written as its name alone mapped to itself (matched as a name: see
        ``killswitch.attribution.strategy_of``). A prefix claimed twice is KS249."""
        out: dict[str, str] = {}
        for s in self.strategies:
            for prefix in ((s,) if isinstance(s, str) else s.client_id_prefixes):
                out.setdefault(prefix, s if isinstance(s, str) else s.name)
        return out


SHARD_NAME_RE = r"^[a-z][a-z0-9-]{0,30}$"


def _console_url(value: Any) -> Any:
    """A shard's console URL: http(s) and a host, never a credential (every console shows it)."""
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.username or parts.password:
            raise PydanticCustomError("ks_value", "a console URL carries no credentials (user:password@): every "
                                                  "shard's console shows it; each console asks for its own token")
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
            raise PydanticCustomError("ks_value", "a console URL is http:// or https:// and a host, "
                                                  "e.g. https://ks-desk-a.example/")
    return value


class Shard(Strict):
    """One shard: a runner replica set (``ksctl run --shard NAME``) holding the accounts its
    selector selects (the selector a policy's scope uses); every account is in exactly one shard
    (KS240, KS241). Its state lives in a PostgreSQL schema of its own (``ks_shard_<name>``)."""
    name: Annotated[str, Field(pattern=SHARD_NAME_RE, description="lower-case letters, digits and dashes, "
                                                                   "a letter first, 31 at most")]
    accounts: AccountSelector
    # where people reach the shard's console (its leader Service): every shard's console links to it
    console: Optional[Annotated[str, BeforeValidator(_console_url), Field(
        pattern=r"^https?://[^\s/@]+(/\S*)?$", description="the URL of the shard's console, as people reach its "
                                                          "leader; every shard's console links to it (no credentials "
                                                          "in it)")]] = None


class AccountsSpec(Strict):
    dry_run: Annotated[bool, BeforeValidator(_fail_closed)] = True
    accounts: Annotated[list[Account], Field(min_length=1)]
    # Absent or empty: no sharding, one runner (and its standby) holds every account.
    shards: list[Shard] = []


class Accounts(Document):
    kind: Literal["Accounts"] = "Accounts"
    spec: AccountsSpec
