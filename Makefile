# GreenOps: two set-up commands on a fresh machine with Python 3.11 and make:
#   make demo   - install, generate a demo fleet's last 7 days, run the real DAGs, print the KPIs
#   make test   - install and run the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PYTHONPATH := $(CURDIR)/plugins
export GREENOPS_HOME := $(CURDIR)
export AIRFLOW_HOME := $(CURDIR)/.airflow
export DBT_PROFILES_DIR := $(CURDIR)/dbt_project
export AIRFLOW__COSMOS__ENABLE_TELEMETRY := False
export DO_NOT_TRACK := 1

.PHONY: install demo test dbt-parse airflow-setup summary report chromium clean server-env

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip check
	touch $@

# dbt's manifest.json: Cosmos renders the BigQuery task graph from it (nothing runs dbt at DAG-parse
# time); parsed for the warehouse's target, as the DAGs run it.
dbt-parse: install
	cd dbt_project && ../$(BIN)/dbt parse --quiet --target "$${GREENOPS_DBT_TARGET:-$${GREENOPS_WAREHOUSE_KIND:-duckdb}}"

# docker-compose.yml's .env (your user id, the stack's shared secrets) and data folder: once, before
# `docker compose up -d`. Needs Python only (README "Run it on a server").
server-env:
	$(PYTHON) -m greenops server-env

airflow-setup: install
	$(BIN)/python -m greenops airflow-setup

demo: install dbt-parse
	$(BIN)/python -m greenops demo --days 7

summary: install
	$(BIN)/python -m greenops summary

# The HTML report of the latest month from the published snapshot (reports/report.html);
# MONTH=YYYY-MM writes the monthly disclosure reports/<YYYY-MM>/ with CSV extracts.
report: install
	$(BIN)/python -m greenops report $(if $(MONTH),--month $(MONTH))

# Headless Chromium renders the HTML report in tests/report. Debian's package, installed when missing;
# where apt-get is not available (or fails) the browser test skips and says why.
chromium:
	@if [ -x /usr/bin/chromium ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "chromium: no apt-get here; tests/report will skip the browser check"; exit 0; fi; \
	SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null ) \
	  || echo "chromium: install failed; tests/report will skip the browser check"

test: install dbt-parse chromium
	$(BIN)/python -m pytest

clean:
	rm -rf .airflow data dbt_project/target dbt_project/logs .pytest_cache

# The performance benchmark (docs/benchmarks.md): GPUS=1000 is the reference size (about 10 GB of CSV).
# PARQUET_PART_S=60: the Parquet as the collector writes it (a part a minute, 180,000 files a day);
# with PARQUET_COMPACTED=1 as it leaves it once each hour is compacted (3,000 files a day).
GPUS ?= 1000
SCENARIOS ?= day,history,dashboard,dags
PARQUET_PART_S ?= 0
PARQUET_COMPACTED ?=
bench: install dbt-parse
	$(BIN)/python bench/fleet_bench.py --gpus $(GPUS) --scenarios $(SCENARIOS) --parquet-part-s $(PARQUET_PART_S) $(if $(PARQUET_COMPACTED),--parquet-compacted) --out bench/out
