# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
DATA_DIR ?= ./var
SHELL := /bin/bash
# jsii silences its end-of-life warning only for the Node major versions listed here: this
# machine's Node 20 is past its end of life; users run 22 or 24 (docs/deploy.md).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20

RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
BENCH := $(VENV)/.bench-installed
SIMULATE := $(VENV)/.simulate-installed

.PHONY: help run test unit browser nginx rehearse rehearsal-tools lint mypy mypy-cdk format synth checkov lock bench simulate soak fuzz fuzz-atheris clean

# `make` alone prints the targets; `make run` and `make test` work as before.
.DEFAULT_GOAL := help

## help: this list, from the `## target: text` comments above each target.
help:
	@awk '/^## [a-z-]+:/ { sub(/^## /, ""); split($$0, part, ": "); \
		printf "  %-13s %s\n", part[1], substr($$0, length(part[1]) + 3); next } \
		/^## / { sub(/^## /, ""); printf "  %-13s %s\n", "", $$0 }' $(MAKEFILE_LIST)

# The pins every install uses as constraints (all extras), and the runtime pins with their
# hashes that the AMI installs from its wheelhouse (cdk/wheelhouse.py); `make lock` writes
# both from pyproject.toml. A dependency added to pyproject.toml but not locked yet still
# installs (a constraints file only narrows what it names); `make lock` then pins it.
LOCK := requirements.lock
RUNTIME_LOCK := image-builder/requirements.lock
UV_VERSION := 0.13.9
LOCK_OPTIONS := --universal --python-version 3.11 --quiet

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(LOCK) -e .
	touch $@

# The tests' helpers (`import support`), the CDK constructs (`import cdk`) and the fleet
# model (`import fleet_model`) are packages of the dev installs, each a distribution of its
# own (tests/support/, cdk/ and fleet_model/pyproject.toml; the service's is what the AMI
# builds): the benchmarks and tools import them without patching sys.path.
DEV_PACKAGES := -e tests/support -e cdk -e fleet_model
DEV_PROJECTS := tests/support/pyproject.toml cdk/pyproject.toml fleet_model/pyproject.toml

$(DEV): pyproject.toml $(DEV_PROJECTS) $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev,cdk,simulate]' $(DEV_PACKAGES)
	touch $@ $(RUNTIME)

## run: the service on embedded backends (files and SQLite under DATA_DIR) on PORT,
## nginx in front of gunicorn (both as you, no root needed once nginx is installed),
## a worker, the reconciler every minute (stale jobs, expiry) and webhook delivery.
run: $(RUNTIME) nginx
	@mkdir -p $(DATA_DIR)
	@echo "My Little Image Sharer on http://127.0.0.1:$(PORT)/ (data in $(DATA_DIR)); Ctrl-C stops it."
	@export SHARER_DATA_DIR="$(DATA_DIR)" SHARER_BIND="127.0.0.1:$(PORT)"; \
	$(BIN)/sharer-worker & worker=$$!; \
	$(BIN)/sharer-reconcile --every & reconciler=$$!; \
	$(BIN)/sharer-webhooks & webhooks=$$!; \
	$(BIN)/sharer-server & server=$$!; \
	all="$$server $$worker $$reconciler $$webhooks"; \
	trap 'kill -TERM $$all 2>/dev/null' INT TERM; \
	wait -n; kill -TERM $$all 2>/dev/null; wait

# Coverage of the suite and of the processes it starts (gunicorn, workers, reconciler, the
# CLI): the floor and the subprocess patch are in pyproject.toml's [tool.coverage].
COVERAGE := --cov --cov-report=term:skip-covered

# Two xdist workers, each running whole groups (tests/conftest.py's scheduler: a module,
# a directory sharing a session fixture, or the tests that measure time or memory), in
# the order conftest.py sets; pytest-cov combines the workers' and their processes' data.
PARALLEL := -n 2 --dist loadgroup --no-loadscope-reorder

## test: the whole suite (unit, contract, end to end, pages in a browser, infrastructure),
## with coverage of the processes it starts; fails under the floor in pyproject.toml.
test: $(DEV) browser nginx rehearsal-tools
	$(BIN)/pytest -q $(PARALLEL) $(COVERAGE)

## unit: the unit and contract tests only, in parallel (well under a minute; no coverage).
unit: $(DEV)
	$(BIN)/pytest -q -n auto tests/unit tests/contract

## browser: Debian's Chromium and its driver for tests/pages, installed when missing.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

## nginx: Debian's nginx, installed when missing (root, or sudo); sharer-server runs its
## own instance of it as you, with a config rendered from the settings.
nginx:
	@if ! PATH="$$PATH:/usr/sbin:/sbin" command -v nginx >/dev/null 2>&1; then \
		if [ "$$(id -u)" -eq 0 ]; then as_root=; else as_root=sudo; fi; \
		$$as_root apt-get update -qq && \
		$$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; \
	fi

# The rehearsal's AWS CLI (sharer-fetch-settings calls it) when the machine has none: in a
# venv of its own, as it pins a botocore of its own; AWS_ENDPOINT_URL needs awscli 1.29+.
AWSCLI_VENV := $(VENV)/awscli

## rehearsal-tools: HAProxy, Varnish (Debian) and the AWS CLI for the rehearsal, when missing.
rehearsal-tools:
	@if ! command -v haproxy >/dev/null || ! command -v varnishd >/dev/null; then \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy varnish; \
	fi
	@if ! command -v aws >/dev/null && [ ! -x $(AWSCLI_VENV)/bin/aws ]; then \
		$(PYTHON) -m venv $(AWSCLI_VENV) && $(AWSCLI_VENV)/bin/pip install --quiet 'awscli>=1.29'; \
	fi

## rehearse: the AWS-shaped rehearsal, every scenario (HAProxy, Varnish, moto with IAM,
## all from the synthesized template); table in bench/results/rehearsal.md (minutes).
rehearse: $(DEV) nginx rehearsal-tools
	$(BIN)/python bench/rehearse.py

PYTHON_SOURCES := src tests cdk fleet_model app.py bench

# Every test directory but infra, which is type-checked with the CDK app.
CHECKED_TESTS := $(filter-out tests/infra/ tests/__pycache__/,$(wildcard tests/*/))

## lint: ruff, ruff format --check and mypy (both mypy targets below).
lint: $(DEV)
	$(BIN)/ruff check $(PYTHON_SOURCES)
	$(BIN)/ruff format --check $(PYTHON_SOURCES)
	@$(MAKE) --no-print-directory mypy mypy-cdk

## mypy: strict mypy of src, then of the fleet model, the tests and bench (but tests/infra).
mypy: $(DEV)
	$(BIN)/mypy
	MYPYPATH=src:tests:bench $(BIN)/mypy --strict --explicit-package-bases \
		fleet_model $(CHECKED_TESTS) bench

## mypy-cdk: strict mypy of the CDK app and tests/infra, apart because aws_cdk's types are large.
mypy-cdk: $(DEV)
	MYPYPATH=src:tests/infra:tests $(BIN)/mypy --strict --explicit-package-bases cdk app.py tests/infra

## format: ruff format, then ruff check --fix (what lint would refuse, fixed where it can be).
format: $(DEV)
	$(BIN)/ruff format $(PYTHON_SOURCES)
	$(BIN)/ruff check --fix $(PYTHON_SOURCES)

## synth: the CloudFormation templates in cdk.out/, with no AWS account.
synth: $(DEV)
	CDK_OUTDIR=cdk.out $(BIN)/python app.py

# checkov has its own venv: its pins would fight the dev tools'. Each of its findings is
# fixed, or skipped beside its resource with a reason (cdk/nag.py's skip_checkov).
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30

## checkov: checkov's CloudFormation checks on the synthesized template; fails on any finding.
checkov: synth
	@test -x $(CHECKOV_VENV)/bin/checkov || { $(PYTHON) -m venv $(CHECKOV_VENV) && \
		$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION); }
	$(CHECKOV_VENV)/bin/checkov --framework cloudformation --compact --quiet --skip-download \
		$$(printf -- '--file %s ' cdk.out/*.template.json)

## lock: re-pin every dependency of pyproject.toml from PyPI (run it after changing them).
lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	| $(BIN)/uv pip compile pyproject.toml - $(LOCK_OPTIONS) --generate-hashes -o $(RUNTIME_LOCK)
	$(BIN)/uv pip compile pyproject.toml --all-extras -c $(RUNTIME_LOCK) $(LOCK_OPTIONS) -o $(LOCK)

$(BENCH): pyproject.toml $(DEV_PROJECTS) $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev,bench]' $(DEV_PACKAGES)
	touch $@ $(RUNTIME)

## bench: every benchmark, thumbor and AWS round trips included (never in make test); tables in bench/results/.
bench: $(BENCH)
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/run_all.py

$(SIMULATE): pyproject.toml $(DEV_PROJECTS) $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev,simulate]' $(DEV_PACKAGES)
	touch $@ $(RUNTIME)

# The fleet model (fleet_model/) reads its calibration from the path it is given: this one.
SCALING_CALIBRATION := bench/results/scaling_calibration.json

## simulate: calibrate the fleet simulator on real processes, run the scaling scenarios;
## tables and plots in bench/results/scaling.md (a few minutes, never part of make test).
simulate: $(SIMULATE)
	$(BIN)/python bench/scaling_calibration.py --output $(SCALING_CALIBRATION)
	$(BIN)/python bench/simulate.py --calibration $(SCALING_CALIBRATION)

## soak: 10 minutes of uploads with a worker SIGKILLed every minute (not in make test).
soak: $(DEV)
	$(BIN)/python bench/soak.py --output bench/results/soak.json

## fuzz: the thumbnail and validation fuzz targets with many more examples (minutes).
fuzz: $(DEV)
	$(BIN)/pytest -q tests/fuzz -p no:cacheprovider --hypothesis-profile=fuzz

## fuzz-atheris: coverage-guided fuzzing of make_thumbnails for 10 minutes.
fuzz-atheris: $(DEV)
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[fuzz]'
	$(BIN)/python tests/fuzz/atheris_thumbnails.py -max_total_time=600

## clean: remove the venv, caches, coverage data and cdk.out.
clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
