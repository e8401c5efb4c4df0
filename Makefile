# tweetlake: `make demo` builds a working lake from generated tweets; `make test` runs the whole suite.
# Needs only Python 3.11 and pip: uv is bootstrapped into .tweetlake/bootstrap when it is not on PATH.

PYTHON ?= python3.11
BOOTSTRAP := .tweetlake/bootstrap
UV ?= $(shell command -v uv 2>/dev/null || echo $(BOOTSTRAP)/bin/uv)
VENV := .venv
BIN := $(VENV)/bin

export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell command -v $(PYTHON) 2>/dev/null || command -v python3)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false

.PHONY: install demo test lint format bench airflow clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BOOTSTRAP)/bin/uv:
	@echo "uv not found: bootstrapping it with pip into $(BOOTSTRAP)"
	$(UV_PYTHON) -m venv $(BOOTSTRAP)
	$(BOOTSTRAP)/bin/pip install --quiet "uv>=0.5,<1"

$(BIN)/tweetlake: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen
	@touch $@

install: $(BIN)/tweetlake  ## install the locked dependencies into .venv (uv sync --frozen)

demo: install  ## a full lake refresh in ./lake from the sample source (no credentials needed)
	$(BIN)/tweetlake refresh --tweets $${TWEETS:-20000} --days $${DAYS:-7}

test: install  ## run the whole test suite
	$(BIN)/pytest

lint: install  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install  ## benchmarks: SIZES="100k 1M" (add --allow-10m via BENCH_ARGS for 10M)
	$(BIN)/python -m benchmarks.run $(foreach s,$(or $(SIZES),100k 1M),--size $(s)) $(BENCH_ARGS)

clean:  ## remove the demo lake and local work files (not the venv)
	rm -rf lake .tweetlake/lake-* dbt_project/target dbt_project/logs
