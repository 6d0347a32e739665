# Two commands do everything on a fresh machine with Python 3.11: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Label Studio server the annotate tests start: its own venv, it pins packages the project does not.
LS_VENV := .venv-labelstudio
LS_STAMP := $(LS_VENV)/.installed
# Airflow lives in its own venv (it pins its own dependencies); its tasks call $(BIN)/earwitness.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
AIRFLOW_VERSION := 3.3.2

.PHONY: setup labelstudio airflow demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,verify,annotate]'
	touch $(STAMP)

setup: $(STAMP)

$(LS_STAMP):
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/pip install --quiet --upgrade pip
	$(LS_VENV)/bin/pip install --quiet label-studio==1.23.2
	touch $(LS_STAMP)

labelstudio: $(LS_STAMP)

$(AIRFLOW_STAMP):
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/pip install --quiet 'apache-airflow==$(AIRFLOW_VERSION)'
	touch $(AIRFLOW_STAMP)

airflow: $(AIRFLOW_STAMP)

demo: $(STAMP)
	$(BIN)/earwitness demo --out runs/demo

test: $(STAMP) $(LS_STAMP) $(AIRFLOW_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

bench: $(STAMP) $(LS_STAMP)
	$(BIN)/python benchmarks/prune_bench.py
	$(BIN)/python benchmarks/acquire_bench.py
	$(BIN)/python benchmarks/build_bench.py
	$(BIN)/python benchmarks/verify_bench.py
	$(BIN)/python benchmarks/fetch_bench.py
	$(BIN)/python benchmarks/annotate_bench.py

clean:
	rm -rf $(VENV) $(LS_VENV) $(AIRFLOW_VENV) runs
