# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,torch,postgres,ray,bench
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
comma := ,

.PHONY: install demo test lint typecheck unit bench clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

install: $(STAMP)

# The demo needs only the core package; the test install adds the extras every test exercises.
demo:
	$(MAKE) install EXTRAS=dev
	$(BIN)/tunesmith demo

lint: install
	$(BIN)/ruff check src tests $(wildcard benchmarks examples)

typecheck: install
	$(BIN)/mypy

unit: install
	scripts/ensure-chromium.sh
	scripts/ensure-postgres.sh
	$(BIN)/pytest -q

test: lint typecheck unit

bench:
	$(MAKE) install
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.multifidelity
	$(BIN)/python -m benchmarks.throughput
	$(BIN)/python -m benchmarks.memory --optuna --trials 5000

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
