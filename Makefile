# `make local` and `make test` do all the set-up on a fresh machine (see README).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install test lint typecheck unit local bench bench-quick deploy synth clean security load-full fuzz-soak

$(STAMP): requirements.txt requirements-dev.txt functions/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy functions edgeauth_cli edgeauth_local infra app.py bench

unit: install
	$(BIN)/pytest

# Lint, type check and every test suite.
test: lint typecheck unit

synth: install
	$(BIN)/python app.py

local: install
	$(BIN)/python -m edgeauth_local $(ARGS)

bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

deploy: install
	npx --yes aws-cdk@2 deploy -c stage=$${STAGE:-dev}

# Security checks that need no network: ruff's bandit rules, then the property tests, fuzzers and
# fault-injection tests in quick mode (CI's budget, about a minute). `make test` runs them too.
security: install
	$(BIN)/ruff check --select S .
	FUZZ_QUICK=1 $(BIN)/pytest tests/property tests/fuzz tests/faults -q

# By hand: the 20,000-request load test, and the fuzzers and properties at 10x the local budget.
load-full: install
	EDGEAUTH_LOAD_FULL=1 $(BIN)/pytest tests/load -q -s

fuzz-soak: install
	FUZZ_SCALE=10 $(BIN)/pytest tests/property tests/fuzz -q

clean:
	rm -rf $(VENV) cdk.out .mypy_cache .ruff_cache .pytest_cache
