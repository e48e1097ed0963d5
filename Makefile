# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,torch,postgres,ray
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

demo: install
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
	$(MAKE) install EXTRAS=dev,torch,bench
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.multifidelity

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
