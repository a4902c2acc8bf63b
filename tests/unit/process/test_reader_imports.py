"""What a reader process imports before it builds its adapters (``ksctl run --readers``).

:func:`~killswitch.process.bootstrap.reader_adapters` hands each reader its builder, ``ccxt_adapters``
over the reader's accounts; multiprocessing pickles it, and the fresh interpreter of the reader
unpickles it, importing the module the builder is named in (``killswitch.process.bootstrap``) and
the accounts' models. None of that may bring in what only the deciding process runs — the
compiler, the runner, the engine, numpy, apprise, jinja2, OpenTelemetry's SDK: each reader paid
for the compiler alone about 0.2 CPU-s of its 1.0 at start (CHANGELOG, issue 80).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from killswitch.process.bootstrap import read_accounts, reader_adapters

ROOT = Path(__file__).resolve().parents[3]
DECIDERS = ("killswitch.compile", "killswitch.runner", "killswitch.engine", "numpy", "apprise", "jinja2",
            "opentelemetry.sdk")
# what a reader's interpreter does first: import its entry point, unpickle its builder
PROBE = ("import pickle, sys; import adapters.remote.reader; pickle.loads(sys.stdin.buffer.read()); "
         "print('\\n'.join(sys.modules))")


class _Handed(Exception):
    """Raised by the stand-in pool once it holds the builders (no reader is started)."""


def _builders(monkeypatch: pytest.MonkeyPatch) -> list:
    """The builders ``reader_adapters`` hands its pool, as the pool would send them to readers."""
    import adapters.remote

    handed: list = []

    def pool(groups: list) -> None:
        handed.extend(build for _, build in groups)
        raise _Handed

    monkeypatch.setattr(adapters.remote, "ReaderPool", pool)
    spec = read_accounts(str(ROOT / "policies" / "accounts.yaml"))
    with pytest.raises(_Handed):
        asyncio.run(reader_adapters(spec.accounts, 2))
    return handed


def test_a_readers_builder_unpickles_without_the_deciders_modules(monkeypatch):
    builders = _builders(monkeypatch)
    assert len(builders) == 2
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for build in builders:
        proc = subprocess.run([sys.executable, "-c", PROBE], input=pickle.dumps(build), capture_output=True,
                              env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr.decode()[-2000:]
        modules = proc.stdout.decode().split()
        assert "killswitch.process.bootstrap" in modules and "killswitch.policy.accounts_doc" in modules
        assert [m for m in modules if any(m == d or m.startswith(d + ".") for d in DECIDERS)] == []
