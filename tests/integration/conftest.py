"""Fixtures of the simulated-exchange integration tests (helpers live in sim_helpers)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from .sim_helpers import engine


@pytest.fixture
def sim():
    """(engine, clock): the calm scenario with flat marks (BTC 60k, ETH 3k, SOL 140) at T0."""
    return engine()


@pytest.fixture
def work(tmp_path) -> Iterator[Path]:
    """A scratch directory for a SQLite store and a lock file: on tmpfs when there is one, else
    ``tmp_path``. The runner fsyncs both every tick; durability against a power cut is not what
    these tests prove (their crashes are in-process, or of a process whose files the kernel
    keeps), and on a busy disk those fsyncs would be most of their time."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    d = Path(tempfile.mkdtemp(prefix="ks-work-", dir=shm))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
