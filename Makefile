# Every target creates and uses its own virtual environment in .venv; python3 >= 3.11 is the
# only thing the machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test lint bench clean help

help:
	@echo "make demo   run the scripted demo on the embedded defaults"
	@echo "make test   install everything into .venv and run the whole suite"
	@echo "make lint   ruff, mypy and the import-layer contracts"
	@echo "make bench  run the benchmarks side by side with peer engines"

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		(echo "ztgate needs python3 >= 3.11" >&2; exit 2)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

demo: $(STAMP)
	$(BIN)/ztgate demo

test: $(STAMP)
	$(BIN)/python -m pytest -q
	$(BIN)/lint-imports

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
