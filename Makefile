# Two commands do everything on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,verify,annotate]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/earwitness demo --out runs/demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/prune_bench.py
	$(BIN)/python benchmarks/acquire_bench.py
	$(BIN)/python benchmarks/build_bench.py

clean:
	rm -rf $(VENV) runs
