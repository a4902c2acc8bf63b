# The two commands a fresh clone needs are `make demo` and `make test`; both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo lint test tools bench crash-soak schemas recordings clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: venv
	$(BIN)/ksctl validate --strict policies/
	$(BIN)/ksctl test policies/
	$(BIN)/ksctl replay --policies policies/ --snapshots policies/recordings/futures-crash.jsonl
	$(BIN)/ksctl demo

# ruff and mypy with the configuration in pyproject.toml (the pure core strictly); both come with
# the test extra. mypy caches in .mypy_cache: about 7 s cold, under a second warm.
lint: venv
	$(BIN)/ruff check killswitch adapters tests bench
	$(BIN)/mypy

# With Go on PATH, `make test` first builds the chart tools (a no-op once built); without Go the
# chart tests skip (and fail under KS_REQUIRE_ALL=1, as in CI). The static checks run first.
test: venv lint $(if $(shell command -v go 2>/dev/null),tools)
	$(BIN)/python -m pytest -q

# helm and the helm-unittest plugin for tests/chart, built with Go into .tools/ (see .ci/install-helm).
tools:
	.ci/install-helm

bench: venv
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/tick.py
	$(BIN)/python bench/adapter.py
	$(BIN)/python bench/reaction.py

# SIGKILL a live `ksctl run` 1,000 times against the simulated exchange (tens of minutes); prints
# what was lost or repeated (nothing, or it exits 1). Fewer: make crash-soak KILLS=100
KILLS ?= 1000
crash-soak: venv
	$(BIN)/python bench/crash_soak.py --kills $(KILLS)

# Regenerate the scripted crash recording (deterministic) replayed by `make demo`.
recordings: venv
	$(BIN)/python -m killswitch.scenarios futures-crash > policies/recordings/futures-crash.jsonl

# Regenerate the JSON Schemas checked in under killswitch/schemas (a test compares them).
schemas: venv
	$(BIN)/python -m killswitch.cli.schema --write

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
