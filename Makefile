# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make demo   build the demo warehouse and sync it to a local TikTok emulator
#   make test   lint, type-check and run the whole test suite
# Both create .venv and install the project on their own (make venv does only that).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The demo and the tests run in integration_tests/, a dbt project that installs this
# repository's root as a package, as a user's project does. dbt and tiktok-sync read
# its project and profile unless you point DBT_PROJECT_DIR / DBT_PROFILES_DIR elsewhere.
IT := $(CURDIR)/integration_tests
export DBT_PROJECT_DIR ?= $(IT)
export DBT_PROFILES_DIR ?= $(IT)
export TIKTOK_SYNC_DUCKDB_PATH ?= $(CURDIR)/tiktok_sync.duckdb
export DBT_SEND_ANONYMOUS_USAGE_STATS ?= false

.PHONY: venv deps build demo test lint typecheck unit clean bench bench-engines soak \
	test-postgres engine-deps test-engines test-snowflake test-bigquery test-spark test-redshift-databricks \
	test-orchestrators

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

# `dbt deps` of the integration-test project: links the package (this repository's root).
deps: venv
	cd $(IT) && $(CURDIR)/$(BIN)/dbt deps --quiet

# dbt build on the demo data: seeds, audiences, members, diff, data and unit tests.
build: deps
	$(BIN)/dbt build

demo: deps
	$(BIN)/python scripts/demo.py

lint: venv
	$(BIN)/ruff check sync tests scripts bench examples
	$(BIN)/ruff format --check sync tests scripts bench examples

typecheck: venv
	$(BIN)/mypy

# The suite runs on TEST_WORKERS processes (pytest-xdist), each file whole on one of them (its
# module fixtures build once), in the order tests/conftest.py collects them: the slowest files
# first (--no-loadscope-reorder keeps xdist from ordering them by their number of tests). A
# worker that runs Postgres tests starts a server of its own.
# TEST_WORKERS=0 runs it in this process. The 25 slowest tests are listed at the end: where the
# 10 minutes go, on every run.
TEST_WORKERS ?= 2
test: lint typecheck deps
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

# The engine suites (README "Other engines"). make test already runs the Guarantees tests on
# Postgres (a real server from Debian's postgresql package); test-postgres adds its dbt build
# parity with DuckDB (two full builds: minutes). The others install each engine's dbt adapter and local double
# and run the tests marked for it. Spark needs a Java 17 runtime
# (Debian: openjdk-17-jre-headless). The BigQuery emulator pins its own DuckDB, and
# dbt-databricks requires dbt-spark<1.11, so each gets a venv of its own.
# The suites can run side by side once everything is installed:
#   make engine-deps && make -j2 --output-sync=target test-engines
# (.ci/run does; test-spark, the longest, is listed first so that it starts first.)
SNOWFLAKE_DOUBLE := 'fakesnow[server]==0.12.1'
CRUCIBLE_VENV ?= .venv-crucible
RSDB_VENV ?= .venv-redshift-databricks

$(CRUCIBLE_VENV)/.installed:
	$(PYTHON) -m venv $(CRUCIBLE_VENV)
	$(CRUCIBLE_VENV)/bin/python -m pip install --quiet 'crucible-emulator[server]==0.1.0a2'
	@touch $@

$(RSDB_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(RSDB_VENV)
	$(RSDB_VENV)/bin/python -m pip install --quiet -c constraints.txt \
		-e '.[dev,redshift,databricks]'
	@touch $@

engine-deps: deps $(CRUCIBLE_VENV)/.installed $(RSDB_VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt \
		-e '.[dev,snowflake,bigquery,spark]' $(SNOWFLAKE_DOUBLE)

test-postgres: deps
	$(BIN)/pytest -m postgres

test-snowflake: deps
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,snowflake]' $(SNOWFLAKE_DOUBLE)
	$(BIN)/pytest -m snowflake

test-bigquery: deps $(CRUCIBLE_VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bigquery]'
	TIKTOK_SYNC_CRUCIBLE_PYTHON=$(CURDIR)/$(CRUCIBLE_VENV)/bin/python $(BIN)/pytest -m bigquery

test-spark: deps
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,spark]'
	$(BIN)/pytest -m spark

# Redshift and Databricks do not run here: dbt compiles the project for both (nothing connects)
# and the tests check which implementation each dispatched macro gets, and run the Redshift
# literals on PostgreSQL; dbt-redshift builds the project and the sync job's Redshift engine runs
# on a PostgreSQL double of Redshift (tests/engines/redshift.py: Debian's postgresql, as make
# test); the sync job's Databricks engine runs against a stand-in of databricks.sql.connect
# (tests/engines/test_databricks_sync.py).
test-redshift-databricks: deps $(RSDB_VENV)/.installed
	$(RSDB_VENV)/bin/pytest -m 'redshift or databricks'

test-engines: test-spark test-snowflake test-bigquery test-redshift-databricks test-postgres

# The orchestrator examples (examples/orchestrators/, README "Running it from an orchestrator"):
# the README's cron line, the Dagster definitions and the Airflow DAG, run against the emulator.
# Dagster, dagster-dbt and Airflow pin versions of their own (Airflow's constraints files are not
# on the package index), so they get a venv of their own, .venv-orchestrators: about 5 minutes
# and 1.3 GB to install the first time. AIRFLOW_HOME keeps Airflow's files out of ~/airflow.
ORCH_VENV ?= .venv-orchestrators
ORCH_PACKAGES := dagster==1.13.27 dagster-dbt==0.29.27 apache-airflow==3.3.2
test-orchestrators: deps
	@test -f $(ORCH_VENV)/.installed || { $(PYTHON) -m venv $(ORCH_VENV) && \
		$(ORCH_VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]' \
			$(ORCH_PACKAGES) && touch $(ORCH_VENV)/.installed; }
	AIRFLOW_HOME=$(CURDIR)/$(ORCH_VENV)/airflow $(ORCH_VENV)/bin/pytest -m orchestrators

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
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# DuckDB and PostgreSQL side by side (bench/README.md "DuckDB and Postgres"): the demo's dbt
# build, and a 1M first sync and no-change run, on a throwaway PostgreSQL server (apt:
# postgresql-15); about 25 minutes on 2 cores. Options: BENCH_ENGINES_ARGS="--build-runs 3".
bench-engines: venv
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m bench.engines $(BENCH_ENGINES_ARGS)

clean:
	rm -rf target logs tiktok_sync.duckdb tiktok_sync.duckdb.wal .demo \
		$(IT)/target $(IT)/logs $(IT)/dbt_packages
