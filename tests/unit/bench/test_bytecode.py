"""bench/validate.py says whether its runs read killswitch's modules from the bytecode cache: a
cache file written before its source last changed is read by no run (and, with
PYTHONDONTWRITEBYTECODE set, never rewritten), so the runs it times compile that module again."""

from __future__ import annotations

import importlib.util
import os
import py_compile
from pathlib import Path

from tests.conftest import bench_module

bench = bench_module("validate")


def test_a_cache_is_current_only_for_the_source_it_was_written_from(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("X = 1\n")
    os.utime(source, (1_700_000_000, 1_700_000_000))
    assert not bench.cached(source)  # never compiled
    py_compile.compile(str(source), doraise=True)
    assert bench.cached(source)
    os.utime(source, (1_700_000_100, 1_700_000_100))  # edited after: the importer compiles it again
    assert not bench.cached(source)
    py_compile.compile(str(source), doraise=True)
    source.write_text("X = 22\n")  # same second, other size
    os.utime(source, (1_700_000_100, 1_700_000_100))
    assert not bench.cached(source)
    py_compile.compile(str(source), doraise=True)
    cache = Path(importlib.util.cache_from_source(str(source)))
    cache.write_bytes(b"\0\0\0\0" + cache.read_bytes()[4:])  # another Python's
    assert not bench.cached(source)


def test_a_cache_checked_by_hash_is_taken_as_current(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("X = 1\n")
    py_compile.compile(str(source), doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    assert bench.cached(source)
