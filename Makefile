# Set-up is part of every target: a fresh clone needs only `make demo` or `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,torch,postgres,ray,bench,mlflow,wandb,tensorboard,optuna,lightning,keras,xgboost,lightgbm,transformers,docs
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
comma := ,

.PHONY: install demo test lint typecheck unit quick-pythons quick bench docs clean

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

# TEST_WORKERS=N runs the suite in N pytest-xdist workers, each taking whole test files (their module fixtures once):
# on this 2-core machine three took 15 minutes unloaded where one process took 25 to 30 beside CI's quick suites, but
# beside them three ran no faster (23.7 minutes) and timing tests failed. CI (.ci/run) runs two, with nothing beside them but the tail of a quick share begun during the set-up.
TEST_WORKERS ?= 1

unit: install
	scripts/ensure-chromium.sh
	scripts/ensure-postgres.sh
	$(BIN)/pytest -q $(if $(filter-out 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile) --durations=30

test: lint typecheck unit

# The quick suite (every test not marked slow) on the other supported Pythons, each in its own venv with
# the core, dev and postgres extras: the pinned CPU build of torch lies on this machine's disk for 3.11 only,
# so the torch, ray and training-library tests skip there (they run in `unit` on 3.11). The Pythons run side
# by side (one pytest each, on a 2-core machine), each into its own log, shown when both have ended.
# SHARD=I/N runs only the I-th of N shares of the test files (tests/conftest.py: `--shard`).
OTHER_PYTHONS ?= 3.12 3.13
QUICK_EXTRAS ?= dev,postgres

quick-pythons:
	scripts/ensure-chromium.sh
	scripts/ensure-postgres.sh
	@for v in $(OTHER_PYTHONS); do scripts/find-python.sh $$v >/dev/null || exit 1; done
	@for v in $(OTHER_PYTHONS); do \
		( $(MAKE) --no-print-directory quick PYTHON="$$(scripts/find-python.sh $$v)" VENV=.venv-$$v \
			EXTRAS=$(QUICK_EXTRAS) > .quick-$$v.log 2>&1; echo $$? > .quick-$$v.rc ) & \
	done; wait; status=0; \
	for v in $(OTHER_PYTHONS); do \
		echo "== the quick suite on Python $$v"; cat .quick-$$v.log; \
		[ "$$(cat .quick-$$v.rc)" = 0 ] || { echo "== Python $$v failed"; status=1; }; \
		rm -f .quick-$$v.log .quick-$$v.rc; \
	done; exit $$status

quick: install
	scripts/ensure-chromium.sh
	scripts/ensure-postgres.sh
	$(BIN)/python --version
	$(BIN)/pytest -q -m "not slow" -p no:cacheprovider --durations=15 $(if $(SHARD),--shard=$(SHARD))

bench:
	$(MAKE) install
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.multifidelity
	$(BIN)/python -m benchmarks.throughput
	$(BIN)/python -m benchmarks.memory --optuna --trials 5000

clean:
	rm -rf $(VENV) .venv-3.* .pytest_cache .mypy_cache .ruff_cache
