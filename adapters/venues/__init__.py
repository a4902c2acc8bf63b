"""The venues the adapter knows by name: one folder each, everything of that venue in it.

A venue folder (``adapters/venues/<venue>/``) holds

* ``__init__.py`` — plain data, nothing imported (:data:`adapters.registry.FIELDS`): its place
  in the registries (``ORDER``), the ccxt ids its dialect serves (``CCXT_IDS``), the id the
  simulated exchange answers as (``SIM_ID``) and the names of its modules below, each left out
  where it is the default (:data:`adapters.registry.DEFAULTS`: ``dialect``, ``face``, no stream
  face, its one ccxt id);
* ``dialect*.py`` — the venue's dialect of the ccxt adapter (a
  :class:`~adapters.ccxt_exchange.dialects.base.Dialect` per ccxt id, ``DIALECTS``) and the
  modules it is split into (its stream's events, its order ids); ``switches.py``, where the
  venue has one, its switch of the keys' trading permission;
* ``face*.py`` — the simulated exchange's face of the venue: its REST API (``PREFIXES``,
  ``handle``, ``sim_account``, ``MASTER``: its master endpoints, ``face_master.py``) and its
  websocket (``stream_face``) and, where the REST face serves futures, its spot account's
  (``SPOT_FACE``), each a table-driven subclass of :mod:`adapters.simulated`'s shapes;
* ``contract.py`` — the venue's rows of the adapter contract (tests/contract) and where its face
  differs (``FACE_TERMS``; ``SWITCH_TERMS``, its switch's), as data;
* ``fixtures/`` — the venue's recorded and documented answers, with a README saying which are
  verbatim recordings.

The registries find the folders (:mod:`adapters.registry`); nothing outside a folder names its
venue. The ccxt adapter imports a venue's dialect modules alone; the simulator its faces.
"""
