"""Venues read in processes of their own: reader processes hold the accounts' adapters (their
connections, streams and parsing), the deciding process an adapter per account that asks them
(:class:`~.adapter.RemoteAdapter`) and a pool that keeps them running (:class:`~.link.ReaderPool`)."""

from .adapter import RemoteAdapter
from .link import ReaderPool, deal, default_readers

__all__ = ["ReaderPool", "RemoteAdapter", "deal", "default_readers"]
