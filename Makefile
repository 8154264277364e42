SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test bench lint clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "python3.11 not found"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m training.demo

test: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m benchmarks.run

lint: install
	$(BIN)/ruff check features training serving tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var
