"""The venues the adapter knows by name: one folder each, everything of that venue in it.

A venue folder (``adapters/venues/<venue>/``) holds

* ``__init__.py`` — plain data, nothing imported (:data:`adapters.registry.FIELDS`): its place
  in the registries (``ORDER``), the ccxt ids its dialect serves (``CCXT_IDS``), the id the
  simulated exchange answers as (``SIM_ID``) and the names of its modules below, each left out
  where it is the default (:data:`adapters.registry.DEFAULTS`: ``dialect``, ``face``, no stream
  face, its one ccxt id);
* ``dialect.py`` — the venue's dialect of the ccxt adapter (a
  :class:`~adapters.ccxt_exchange.dialects.base.Dialect` per ccxt id, ``DIALECTS``), a room
  ``dialect/`` once split (its stream's events, its order ids); ``switches.py``, where the
  venue has one, its switch of the keys' trading permission;
* ``face.py`` (a room ``face/`` once split) — the simulated exchange's face of the venue: its
  REST API (``PREFIXES``, ``handle``, ``sim_account``, ``MASTER``: its master endpoints,
  ``face/master.py``) and its websocket (``stream_face``) and, where the REST face serves
  futures, its spot account's (``SPOT_FACE``), each a table-driven subclass of :mod:`adapters.simulated`'s shapes;
* ``contract.py`` — what the tests read of the venue, found through the registry: its rows of
  the adapter contract (tests/contract) and where its face differs (``FACE_TERMS``;
  ``SWITCH_TERMS``, its switch's), how a hedge account's mode is read (``POSITION_MODE_READ``), its
  documented refusals of an order (``REFUSALS``), the builders of its answers to a cancel
  (``CANCEL_ANSWERS``, ``CANCEL_NOT_SENT``), its stream face's private topics (``STREAM_TOPICS``),
  how a bot places a stop on its face (``BOT_STOP``) and the streamed reaction bench's terms
  (``STREAM_BENCH``; a spot account's, ``SPOT_STREAM_BENCH``): a test that finds a venue
  without what it needs fails naming it, unless the venue says why it has none;
* ``fixtures/`` — the venue's recorded and documented answers, with a README saying which are
  verbatim recordings and, under ``## In the exchanges table``, the venue's rows of
  docs/exchanges.md's table of venues (the site assembles it: docs/hooks/exchanges.py).

The registries find the folders (:mod:`adapters.registry`); nothing outside a folder names its
venue. The ccxt adapter imports a venue's dialect modules alone; the simulator its faces.
"""
