"""An account's private stream through ccxt's streaming API, as a room of its own.

Its parts: the connection (:mod:`.stream`: :class:`~.stream.AccountStream`), its frames applied
(:mod:`.frames`), when it may be trusted — health, REST reconciles, the snapshot it answers
(:mod:`.trust`), the pure state (:mod:`.state`) and the account it answers, valued
(:mod:`.book`), a venue endpoint's marks subscribed once for every account on it (:mod:`.hub`),
and what both kinds of connection do with their sockets (:mod:`.sockets`). The adapter's side of
it — building the stream, answering the snapshot from it — is
:mod:`adapters.ccxt_exchange.streamed`.
"""
