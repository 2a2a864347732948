# Every target creates and uses its own virtual environment in .venv; python3 >= 3.11 is the
# only thing the machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

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

# The peer engines are installed for the tests too: the suite checks that each of them
# agrees with the benchmark's reference function.
$(STAMP): pyproject.toml setup.py src/ztgate/guard/injection/_kernel.c | $(BIN)/python
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

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
