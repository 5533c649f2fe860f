# Every target sets up .venv itself, so `make reproduce` and `make test` work on a fresh clone.
# The story and play need only the runtime (`pip install -e .`); the tests, linters and
# benchmarks need the test extra as well, installed the first time one of them runs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
RUNTIME := $(VENV)/.installed-runtime
STAMP  := $(VENV)/.installed

.PHONY: help test lint pytest reproduce play docs bench bench-dns bench-lb clean

## help: list these targets
help:
	@sed -n 's/^## //p' Makefile

$(RUNTIME): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(RUNTIME)

$(STAMP): $(RUNTIME) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

## test: lint, type-check and run every test
test: $(STAMP) lint pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check fake_dns fake_lb reproducer tests examples
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -n auto --dist loadgroup

## reproduce: the whole outage, live, in one command
reproduce: $(RUNTIME)
	$(PY) -m reproducer story

## play: be the scheduler yourself, in a browser (prints the URL; PORT=8000 to choose the port)
play: $(RUNTIME)
	$(PY) -m reproducer play --port $(or $(PORT),0)

## docs: build the documentation site into site/, offline; --strict fails on a broken link
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

## bench: exploration speed and strategy comparison, with peak memory (docs/benchmarks.md)
bench: $(STAMP)
	$(PY) -m reproducer.bench

## bench-dns: fake-dns beside knotd under dnsperf
bench-dns: $(STAMP)
	$(PY) -m fake_dns.bench

## bench-lb: what a load balancer costs, and how fast it sees an emptied record
bench-lb: $(STAMP)
	$(PY) -m fake_lb.bench

## clean: remove the virtualenv, caches and builds; keeps .hypothesis/ (your counterexamples)
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build site *.egg-info
