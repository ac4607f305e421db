# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make demo   build the demo warehouse and sync it to a local TikTok emulator
#   make test   lint, type-check and run the whole test suite
# Both create .venv and install the project on their own (make venv does only that).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# dbt reads the generated copy of profiles.example.yml unless you point
# DBT_PROFILES_DIR at your own profiles.yml.
export DBT_PROFILES_DIR ?= $(CURDIR)/.dbt
export TIKTOK_SYNC_DUCKDB_PATH ?= $(CURDIR)/tiktok_sync.duckdb
export DBT_SEND_ANONYMOUS_USAGE_STATS ?= false

.PHONY: venv profile build demo test lint typecheck unit clean bench soak

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

profile: $(DBT_PROFILES_DIR)/profiles.yml

$(CURDIR)/.dbt/profiles.yml: profiles.example.yml
	@mkdir -p $(@D)
	cp profiles.example.yml $@

# dbt build on the demo data: seeds, audiences, members, diff, data and unit tests.
build: venv profile
	$(BIN)/dbt build

demo: venv profile
	$(BIN)/python scripts/demo.py

lint: venv
	$(BIN)/ruff check sync tests scripts bench
	$(BIN)/ruff format --check sync tests scripts bench

typecheck: venv
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

# The long variants behind the `slow` marker: the fault-injection soak over many runs
# (tests/test_soak.py; SOAK_RUNS=N, default 300; TIKTOK_SYNC_SOAK_SEED picks the faults).
SOAK_RUNS ?= 300
soak: venv
	$(BIN)/pytest -m slow -s --soak-runs $(SOAK_RUNS)

# Benchmarks (bench/README.md): 1M and 10M identifiers, warehouse build, the 1%
# incremental case, tiktok-sync against the emulator and the pandas baseline;
# about 35 minutes on 2 cores. Not part of `make test`, which runs a 100k
# version (tests/test_bench_smoke.py). Options: make bench BENCH_ARGS="--sizes 1M --runs 3".
bench: venv
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf target logs .dbt tiktok_sync.duckdb tiktok_sync.duckdb.wal .demo
