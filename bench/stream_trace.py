"""``ksctl run`` with stamps along the streamed reaction path, for ``bench/stream.py --trace``.

Run as ``python bench/stream_trace.py TRACE_FILE <ksctl arguments>``: the same ``ksctl`` (its
``main``), with wrappers put around the points the bench wants stamped, each stamp a line of
TRACE_FILE written at once (``time.monotonic()``, which every process on the machine shares, so
the venue's stamps and these compare): a websocket frame's arrival at ccxt's decode (its size,
the decode's end, the end of its handling: our dialect and stream state), the wake, each tick's
start (the daemon's) and its phases' ends, the stream snapshot, each order's submit, and every
full garbage collection (its duration). Bench-only: nothing here is imported by ``ksctl``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

mono = time.monotonic


Rec = Callable[..., None]


def install(path: str) -> None:
    out = open(path, "a", buffering=1)

    def rec(kind: str, **kw: Any) -> None:
        out.write(json.dumps({"k": kind, "t": mono(), **kw}) + "\n")

    _trace_decode(rec)
    _trace_runner(rec)
    _trace_adapter(rec)
    if os.environ.get("KS_TRACE_PROFILE"):  # the stream snapshots that take long, profiled
        _profile_stream_snapshots(path)
    _trace_full_gc(rec)
    if os.environ.get("KS_TRACE_SAMPLE"):  # the main thread's stack every 5 ms: what kept the loop busy
        _sample_main_thread(rec)


def _trace_decode(rec: Rec) -> None:
    """A stamp per websocket frame decoded by ccxt: its size, and whether it is the crossing mark."""
    from adapters.ccxt_exchange.streaming import sockets as sockets_mod

    guard = sockets_mod.guard_decode

    def guard_decode(client: Any, on_bad: Callable[[], None]) -> None:
        guard(client, on_bad)
        decode = client.handle_text_or_binary_message
        if getattr(decode, "_ks_traced", False):
            return

        def traced(data: Any) -> Any:
            t0 = mono()
            size = len(data) if isinstance(data, (str, bytes, bytearray)) else -1
            cross = size < 2000 and isinstance(data, str) and '"p":"80.' in data
            try:
                return decode(data)
            finally:
                rec("frame", t0=t0, size=size, cross=cross)

        traced._ks_traced = True  # type: ignore[attr-defined]
        traced._ks_guarded = True  # type: ignore[attr-defined]
        client.handle_text_or_binary_message = traced

    sockets_mod.guard_decode = guard_decode


def _trace_runner(rec: Rec) -> None:
    """Stamps at the wake, each tick's start (the daemon's and the runner's) and its phases' ends."""
    from killswitch.runner.tick import loop as loop_mod, report as report_mod, wakes as wakes_mod

    wake = wakes_mod.Wakes.wake

    def traced_wake(self: Any, account: str) -> None:
        rec("wake", woken=self.event.is_set())
        wake(self, account)

    wakes_mod.Wakes.wake = traced_wake  # type: ignore[method-assign]
    started = wakes_mod.Wakes.tick_started

    def traced_started(self: Any, at: float, cause: str) -> None:
        rec("tick", cause=cause)
        started(self, at, cause)

    wakes_mod.Wakes.tick_started = traced_started  # type: ignore[method-assign]
    phase = report_mod.Phases.__call__

    def traced_phase(self: Any, name: str) -> None:
        rec("phase", name=name)
        phase(self, name)

    report_mod.Phases.__call__ = traced_phase  # type: ignore[method-assign]
    run_tick = loop_mod.Runner._tick

    async def traced_tick(self: Any, report: Any) -> None:
        rec("_tick")
        try:
            await run_tick(self, report)
        finally:
            rec("_tick_end")

    loop_mod.Runner._tick = traced_tick  # type: ignore[method-assign]


def _trace_adapter(rec: Rec) -> None:
    """Stamps at each snapshot (streamed or over REST) and each order's submit."""
    from adapters.ccxt_exchange import adapter as adapter_mod

    snap = adapter_mod.CcxtAdapter.snapshot

    async def traced_snapshot(self: Any) -> Any:
        t0 = mono()
        stream = self._stream
        rest = stream is None or stream.needs_rest()
        s = await snap(self)
        rec("snapshot", t0=t0, rest=rest)
        return s

    adapter_mod.CcxtAdapter.snapshot = traced_snapshot  # type: ignore[method-assign]
    submit = adapter_mod.CcxtAdapter.submit

    async def traced_submit(self: Any, intent: Any) -> Any:
        rec("submit")
        return await submit(self, intent)

    adapter_mod.CcxtAdapter.submit = traced_submit  # type: ignore[method-assign]


def _profile_stream_snapshots(path: str) -> None:
    """Each stream snapshot over 50 ms profiled, its top 25 written beside the trace."""
    import cProfile
    import pstats

    from adapters.ccxt_exchange.streaming import stream as stream_mod

    stream_snapshot = stream_mod.AccountStream.snapshot

    def profiled(self: Any) -> Any:
        prof = cProfile.Profile()
        t0 = mono()
        out = prof.runcall(stream_snapshot, self)
        if mono() - t0 > 0.05:
            with open(path + ".prof.txt", "a") as f:
                pstats.Stats(prof, stream=f).sort_stats("cumulative").print_stats(25)
        return out

    stream_mod.AccountStream.snapshot = profiled  # type: ignore[method-assign]


def _trace_full_gc(rec: Rec) -> None:
    gc_start: list[float] = []

    def on_gc(ph: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if ph == "start":
            gc_start[:] = [mono()]
        elif gc_start:
            rec("gc2", t0=gc_start[0], collected=info.get("collected"))

    gc.callbacks.append(on_gc)


def _sample_main_thread(rec: Rec) -> None:
    import threading

    main_id = threading.get_ident()

    def sample() -> None:
        while True:
            time.sleep(0.005)
            frame = sys._current_frames().get(main_id)
            stack = []
            while frame is not None and len(stack) < 40:
                code = frame.f_code
                stack.append(f"{Path(code.co_filename).name}:{code.co_name}")
                frame = frame.f_back
            rec("sample", stack=stack)

    threading.Thread(target=sample, daemon=True).start()


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    install(sys.argv[1])
    from killswitch.cli.main import main as ksctl

    ksctl(sys.argv[2:])


if __name__ == "__main__":
    main()
