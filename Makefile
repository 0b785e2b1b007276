# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8080
DATA_DIR ?= ./var
SHELL := /bin/bash
# jsii silences its end-of-life warning only for the Node major versions listed here.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20

RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed
BENCH := $(VENV)/.bench-installed

.PHONY: run test lint synth bench soak fuzz fuzz-atheris clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,cdk]'
	touch $@ $(RUNTIME)

## run: the service on embedded backends (files and SQLite under DATA_DIR) on PORT.
run: $(RUNTIME)
	@mkdir -p $(DATA_DIR)
	@echo "My Little Image Sharer on http://127.0.0.1:$(PORT)/ (data in $(DATA_DIR)); Ctrl-C stops it."
	@export SHARER_DATA_DIR="$(DATA_DIR)" SHARER_BIND="127.0.0.1:$(PORT)"; \
	$(BIN)/sharer-worker & worker=$$!; \
	$(BIN)/sharer-server & server=$$!; \
	trap 'kill -TERM $$server $$worker 2>/dev/null' INT TERM; \
	wait -n; kill -TERM $$server $$worker 2>/dev/null; wait

## test: the whole suite (unit, contract, end to end, infrastructure).
test: $(DEV)
	$(BIN)/pytest -q

# Every test directory but infra, which is type-checked with the CDK app.
CHECKED_TESTS := $(filter-out tests/infra/ tests/__pycache__/,$(wildcard tests/*/))

## lint: ruff and mypy (the CDK app is type-checked apart: aws_cdk's types are large).
lint: $(DEV)
	$(BIN)/ruff check src tests cdk app.py bench
	$(BIN)/ruff format --check src tests cdk app.py bench
	$(BIN)/mypy
	MYPYPATH=src:tests:bench $(BIN)/mypy --strict --explicit-package-bases $(CHECKED_TESTS) bench
	MYPYPATH=src:tests/infra $(BIN)/mypy --strict --explicit-package-bases cdk app.py tests/infra

## synth: the CloudFormation templates in cdk.out/, with no AWS account.
synth: $(DEV)
	CDK_OUTDIR=cdk.out $(BIN)/python app.py

$(BENCH): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@ $(RUNTIME)

## bench: every benchmark, thumbor and AWS round trips included (never in make test); tables in bench/results/.
bench: $(BENCH)
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk; }
	$(BIN)/python bench/run_all.py

## soak: 10 minutes of uploads with a worker SIGKILLed every minute (not in make test).
soak: $(DEV)
	$(BIN)/python bench/soak.py --output bench/results/soak.json

## fuzz: the thumbnail and validation fuzz targets with many more examples (minutes).
fuzz: $(DEV)
	$(BIN)/pytest -q tests/fuzz -p no:cacheprovider --hypothesis-profile=fuzz

## fuzz-atheris: coverage-guided fuzzing of make_thumbnails for 10 minutes.
fuzz-atheris: $(DEV)
	$(BIN)/pip install --quiet -e '.[fuzz]'
	$(BIN)/python tests/fuzz/atheris_thumbnails.py -max_total_time=600

clean:
	rm -rf $(VENV) cdk.out .pytest_cache .mypy_cache .ruff_cache
