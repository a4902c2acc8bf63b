"""The crash-at-every-call matrix with the account read by a reader: the runner holds the
account's :class:`~adapters.remote.adapter.RemoteAdapter`, whose every call crosses the reader's
wire (pickled both ways, snapshots as changes of the one held, errors as values) to the real
adapter, and what the reader sends back after each call (its info, its state) is taken as the
link takes it. A crash at any of the decider's calls neither repeats nor loses an order, an
audit row or a page (test_runner.py's property; its run and its checks are rig.py's).

The reader here is in the process, not the pool's (adapters/remote/link.py): what is tried is
the decider's side of the boundary; a reader killed, wedged or losing a frame is
tests/integration/test_readers.py's."""

from __future__ import annotations

import pickle
from typing import Any, Optional

import pytest

from adapters.base import send_gate
from adapters.remote.adapter import RemoteAdapter
from adapters.remote.reader import CALLS, info, state
from adapters.remote.wire import SnapshotSender, error_of, raise_error
from tests.integration.runner.rig import CRASH_POINTS, crash_run


def crossed(value: Any) -> Any:
    """``value`` as the other side of the socket reads it."""
    return pickle.loads(pickle.dumps(value))


class Loopback:
    """A reader's link whose reader is in the process: one account's real adapter, answered as
    :class:`adapters.remote.reader.Reader` answers a call."""

    index = 0

    def __init__(self, key: str, adapter: Any):
        self.key, self.adapter = key, adapter
        self.sender = SnapshotSender()
        self.remote = RemoteAdapter(key, self, crossed(dict(info(adapter), state=state(adapter))))

    async def call(self, key: str, method: str, args: tuple, gated: bool) -> Any:
        assert key == self.key and method in CALLS, (key, method)
        args = crossed(args)
        try:
            if method == "snapshot":
                value: Any = self.sender.encode(key, await self.adapter.snapshot(), args[0])
            elif gated:
                with send_gate(lambda: True):  # the decider's own look was taken before the call left
                    value = await getattr(self.adapter, method)(*args)
            else:
                value = await getattr(self.adapter, method)(*args)
            ok, answer = True, crossed(value)
        except Exception as e:  # noqa: BLE001 - every failure is the caller's to read, as a value
            ok, answer = False, crossed(error_of(e))
        self.remote.took_info(crossed(info(self.adapter)))  # sent by the reader before its answer
        self.remote.took_state(crossed(state(self.adapter)))
        if ok:
            return answer
        raise_error(answer, key.partition("/")[0])

    def tell(self, key: str, what: str, value: Any) -> None:
        getattr(self.adapter, what)(crossed(value))

    def down_reason(self) -> Optional[str]:
        return None

    def down_since_ms(self) -> Optional[int]:
        return None


def via_reader(key: str, adapter: Any) -> RemoteAdapter:
    return Loopback(key, adapter).remote


@pytest.mark.parametrize("crash_at", CRASH_POINTS[::4])
def test_a_crash_at_any_call_through_a_reader_neither_repeats_nor_loses_an_order(work, crash_at):
    crash_run(work, crash_at, via=via_reader)


def test_without_a_crash_the_reader_answers_every_call_and_the_book_is_closed(work):
    """The run the matrix crashes, whole: the runner read and closed the account through the
    wire alone (a crash point beyond its last call)."""
    seen: list[str] = []

    def counted(key: str, adapter: Any) -> RemoteAdapter:
        link = Loopback(key, adapter)
        call = link.call

        async def noted(k: str, method: str, args: tuple, gated: bool) -> Any:
            seen.append(method)
            return await call(k, method, args, gated)

        link.call = noted  # type: ignore[method-assign]
        return link.remote

    crash_run(work, 10**9, via=counted)
    assert {"snapshot", "submit"} <= set(seen), sorted(set(seen))
