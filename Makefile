# tweetlake: `make demo` builds a working lake from generated tweets; `make test` runs the whole suite,
# `make test-fast` the quick layer only (every test not marked slow: no dbt, Great Expectations or Airflow runs).
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

.PHONY: install chromium demo test test-fast test-faults lint format bench airflow airflow-stop clean help

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

# The first query's last day is cut by 80% (a drill): the quality index shows the volume monitor flag it.
demo: install  ## a full lake refresh in ./lake from the sample source (no credentials needed)
	$(BIN)/tweetlake refresh --tweets $${TWEETS:-20000} --days $${DAYS:-7} --drill-volume-drop $${DRILL:-0.8}

# The report-rendering test opens the data-quality report in headless Chromium (Debian's package).
# Installed when missing and possible (root + apt-get); without it that one test is skipped, and says so.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (headless browser for the report test)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/dev/null; \
	  else echo "note: chromium not installed (needs root + apt-get): the report rendering test will be skipped"; fi; }

# Two workers, whole files each (module fixtures build one lake per file): the end-to-end tests wait on
# Airflow's scheduler and on subprocesses often enough that two of them share two cores well.
test: install chromium  ## run the whole test suite (the quick layer and the end-to-end layer)
	$(BIN)/pytest -n 2 --dist loadfile

test-fast: install  ## the quick layer: every test not marked slow (under a minute)
	$(BIN)/pytest -m "not slow"

test-faults: install  ## the fault matrix alone (tests/faults/, marker faults; also part of `make test`)
	$(BIN)/pytest -n 2 --dist loadfile -m faults

lint: install  ## ruff (style, complexity), import-linter (the layers), mypy (types)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install  ## benchmarks: SIZES="100k 1M" (add --allow-10m via BENCH_ARGS for 10M)
	$(BIN)/python -m benchmarks.run $(foreach s,$(or $(SIZES),100k 1M),--size $(s)) $(BENCH_ARGS)

airflow: install  ## Airflow on 127.0.0.1:8080 against this repo (Ctrl-C or `make airflow-stop` stops it)
	orchestration/run_airflow.sh

airflow-stop:  ## stop what `make airflow` started
	orchestration/run_airflow.sh stop

clean:  ## remove the demo lake and local work files (not the venv)
	rm -rf lake .tweetlake/lake-* dbt_project/target dbt_project/logs
