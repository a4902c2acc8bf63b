# The two commands a fresh clone needs are `make demo` and `make test`; both build .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test bench schemas recordings clean

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

test: venv
	$(BIN)/python -m pytest -q

bench: venv
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/tick.py
	$(BIN)/python bench/adapter.py
	$(BIN)/python bench/reaction.py

# Regenerate the scripted crash recording (deterministic) replayed by `make demo`.
recordings: venv
	$(BIN)/python -m killswitch.scenarios futures-crash > policies/recordings/futures-crash.jsonl

# Regenerate the JSON Schemas checked in under killswitch/schemas (a test compares them).
schemas: venv
	$(BIN)/python -m killswitch.cli.schema --write

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
