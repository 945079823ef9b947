# ssl_workbench: every target that needs Python depends on the venv, so on a fresh clone
# `make demo` or `make test` alone sets everything up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The venv is rebuilt whenever the dependency spec changes (never reuse a venv built for another spec). The stamp's
# name holds the hash of pyproject.toml's content, so a new spec means a missing stamp; the stamp has no file
# prerequisite, because nbdev-export rewrites pyproject.toml (same content, new mtime) on every export.
SPEC_HASH := $(shell cat pyproject.toml | md5sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(SPEC_HASH)
export SSL_WORKBENCH_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),$(abspath data))

.PHONY: install test demo lab docs bench sync-check clean-check lint nbtest pytest clean

install: $(STAMP)

$(STAMP):
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

## test: sync check, clean check, lint, then pytest (which executes every notebook and the tests/ suite)
test: install sync-check clean-check lint pytest

sync-check: install
	@bash tools/check_unchanged.sh ssl_workbench -- $(BIN)/nbdev-export

clean-check: install
	@bash tools/check_unchanged.sh nbs -- $(BIN)/nbdev-clean

lint: install
	$(BIN)/ruff check ssl_workbench nbs tests tools bench

# The browser tests first, alone (they time a real UI), then every other test in two xdist workers
# (tests/conftest.py); both passes always run, and the target fails if either does.
pytest: install
	$(BIN)/python -m pytest tests/ -ra --durations=10 -m browser; a=$$?; \
	$(BIN)/python -m pytest tests/ -ra --durations=15 -m "not browser" -n 2; b=$$?; \
	exit $$(( a || b ))

nbtest: install
	$(BIN)/nbdev-test --n-workers 2 --timing

demo: install
	$(BIN)/ssl-workbench quickstart

lab: install
	$(BIN)/jupyter lab --notebook-dir=nbs --ServerApp.ip=127.0.0.1 --no-browser

docs: install
	$(BIN)/python tools/make_readme.py
	$(BIN)/python tools/build_docs.py

bench: install
	$(BIN)/python -m bench.run_all

clean:
	rm -rf _proc docs/_tmp .pytest_cache
