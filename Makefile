SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MLFLOW_DISABLE_TELEMETRY := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test bench bench-decisions bench-faults lint clean

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null || { echo "python3.11 not found"; exit 1; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m kompetensi.demo

test: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m benchmarks.run

bench-decisions: install
	$(BIN)/python -m benchmarks.bench_decisions --out benchmarks/results/decisions

# Not part of `make bench`: ~5 minutes, and it stops a (throwaway, its own) PostgreSQL cluster; needs root.
bench-faults: install
	$(BIN)/python -m benchmarks.bench_faults --out benchmarks/results

lint: install
	$(BIN)/ruff check features engine training serving kompetensi tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

clean:
	rm -rf $(VENV) var
