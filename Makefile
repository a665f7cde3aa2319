# `make local` and `make test` do all the set-up on a fresh machine (see README).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# Material for MkDocs prints a banner about MkDocs 2.0 on every build.
export NO_MKDOCS_2_WARNING := 1
# No AWS region or profile is set here: `make deploy` and `make bootstrap` use the caller's own
# (AWS_PROFILE, AWS_REGION, ~/.aws/config), the ones `cdk bootstrap` ran with. Tests, the local
# stack and the benchmarks set their own region for moto.
CDK := npx --yes aws-cdk@2
CDK_PROFILE = $(if $(AWS_PROFILE),--profile $(AWS_PROFILE))

.PHONY: install test lint typecheck unit docs docs-build local bench bench-quick bootstrap deploy require-stage synth clean security load-full fuzz-soak

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
	$(BIN)/mypy functions edgeauth_cli edgeauth_local infra app.py bench tools

unit: install
	$(BIN)/pytest

# The documentation site (docs/, mkdocs.yml), built offline. --strict: a broken link, a missing page
# or an anchor that no longer exists fails the build (and so `make test`).
docs-build: install
	$(BIN)/mkdocs build --strict --site-dir build/site

# The site on http://127.0.0.1:8000, rebuilt on every change.
docs: install
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

# Lint, type check, the documentation build and every test suite.
test: lint typecheck docs-build unit

# Offline (no credentials, no AWS call); STAGE=NAME synthesizes that stage, as deploy would.
synth: install
	$(if $(STAGE),CDK_CONTEXT_JSON='{"stage": "$(STAGE)"}' )$(BIN)/python app.py

local: install
	$(BIN)/python -m edgeauth_local $(ARGS)

bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

# Once per account and region (docs/deploying.md).
bootstrap: install
	$(CDK) bootstrap $(CDK_PROFILE)

# STAGE names a stage of cdk.json; there is no default, so that a forgotten STAGE cannot deploy the
# local stack's dev stage (or anything else) by accident. Checked before anything is installed.
deploy: require-stage install
	$(CDK) deploy -c "stage=$(STAGE)" $(CDK_PROFILE)

require-stage:
	@if [ -z "$(STAGE)" ]; then \
		echo "make deploy: STAGE is not set: name the stage of cdk.json to deploy, e.g. 'make deploy STAGE=prod' (docs/deploying.md)" >&2; \
		exit 2; \
	fi

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
