# Almanac developer commands. `make run` starts everything; `make test` runs every check.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Tests pick their own Redis DB numbers (14/15) on this server; nothing here flushes it.
# Not exported globally: `make run` starts a private Redis when REDIS_URL is unset.
REDIS_URL ?= redis://127.0.0.1:6379/0
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1/test
SQLITE_TEST_REDIS ?= redis://127.0.0.1:6379/15
PG_TEST_REDIS ?= redis://127.0.0.1:6379/14
BROWSER_TEST_REDIS ?= redis://127.0.0.1:6379/13

PYTEST_COV := --cov=app --cov-branch --cov-report=term --cov-fail-under=85 -p no:cacheprovider
# The pytest runs come last, so the end of a long CI log shows their results.
TEST_STEPS := lint typecheck schemathesis test-suites
REPORTS := reports

.PHONY: help venv install run services bytecode lint typecheck test test-sqlite test-postgres test-databases test-suites \
	test-browser schemathesis clean translations faults

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Re-run pip only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[dev]'
	@touch $@

venv: $(STAMP) ## Create .venv and install Almanac with its dev tools
install: $(STAMP) ## Same as `make venv`

run: ## Migrate, seed a demo admin and start every Procfile process on :5000
	@bash scripts/run.sh

services: ## Start (or install) PostgreSQL, Redis and Chromium for the tests
	@bash scripts/ensure-services.sh

# This machine sets PYTHONDONTWRITEBYTECODE: without cached bytecode every process compiles
# Almanac's modules again at start (0.2 s of CPU each), and the engine tests start hundreds.
bytecode: $(STAMP) ## Compile Almanac's and the tests' modules once (__pycache__)
	@$(BIN)/python -m compileall -q app tests bench migrations scheduler.py worker.py retry.py > /dev/null

lint: $(STAMP) ## ruff check and ruff format --check
	@printf '\n==> lint: ruff check, ruff format --check\n'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy (strict) on app/
	@printf '\n==> typecheck: mypy app\n'
	$(BIN)/mypy app

# Each suite has its own Redis DB and coverage file, so test-databases can run both at once.
test-sqlite: $(STAMP) bytecode ## Tests (not browser) on a temporary SQLite file, coverage >= 85 %
	@printf '\n==> test-sqlite: pytest on SQLite with coverage\n'
	env -u TEST_DATABASE_URL REDIS_URL='$(REDIS_URL)' TEST_REDIS_URL='$(SQLITE_TEST_REDIS)' \
		COVERAGE_FILE=.coverage.sqlite \
		$(BIN)/pytest -m "not browser" $(PYTEST_COV) --junitxml=$(REPORTS)/sqlite.xml

test-postgres: $(STAMP) bytecode ## Tests (not browser) on PostgreSQL, coverage >= 85 %
	@printf '\n==> test-postgres: pytest on PostgreSQL with coverage\n'
	TEST_DATABASE_URL='$(PG_TEST_URL)' REDIS_URL='$(REDIS_URL)' TEST_REDIS_URL='$(PG_TEST_REDIS)' \
		COVERAGE_FILE=.coverage.postgres \
		$(BIN)/pytest -m "not browser" $(PYTEST_COV) --junitxml=$(REPORTS)/postgres.xml

# Run the given make targets at the same time, each into its own log in reports/, then print
# every log once all have ended; fail if any failed. Most of the suites' time is spent
# waiting for real processes (workers, schedulers, Chromium), so side by side they take
# little more than the longest alone.
define side_by_side
	@mkdir -p $(REPORTS); pids=(); \
	for target in $(1); do \
		$(MAKE) --no-print-directory $$target > $(REPORTS)/$$target.log 2>&1 & pids+=($$!); \
	done; \
	status=0; for pid in "$${pids[@]}"; do wait $$pid || status=1; done; \
	for target in $(1); do cat $(REPORTS)/$$target.log; done; \
	exit $$status
endef

test-databases: $(STAMP) ## test-sqlite and test-postgres at the same time, then both logs
	@printf '\n==> test-databases: test-sqlite and test-postgres side by side\n'
	$(call side_by_side,test-sqlite test-postgres)

test-suites: $(STAMP) ## test-sqlite, test-postgres and test-browser at the same time, then the logs
	@printf '\n==> test-suites: test-sqlite, test-postgres and test-browser side by side\n'
	$(call side_by_side,test-sqlite test-postgres test-browser)

test-browser: $(STAMP) bytecode ## Browser tests in Debian's Chromium
	@printf '\n==> test-browser: pytest -m browser (Chromium)\n'
	@test -x /usr/bin/chromium || { echo 'No /usr/bin/chromium: run `make services` (or apt-get install chromium chromium-driver).' >&2; exit 1; }
	REDIS_URL='$(REDIS_URL)' TEST_REDIS_URL='$(BROWSER_TEST_REDIS)' $(BIN)/pytest -m browser -p no:cacheprovider \
		--junitxml=$(REPORTS)/browser.xml

schemathesis: $(STAMP) bytecode ## Fuzz the live JSON API against its OpenAPI document
	@printf '\n==> schemathesis: fuzz /api/v1 against openapi.json\n'
	REDIS_URL='$(REDIS_URL)' bash scripts/schemathesis.sh

# Not part of `make test`: the long scenarios run only here (ALMANAC_FAULTS=1).
faults: $(STAMP) bytecode ## Every fault scenario on PostgreSQL, then a table of what each measured
	@printf '\n==> faults: tests/faults on PostgreSQL (real processes, a few minutes)\n'
	@mkdir -p $(REPORTS) && rm -f $(REPORTS)/faults.jsonl
	@status=0; ALMANAC_FAULTS=1 FAULTS_REPORT=$(REPORTS)/faults.jsonl \
		TEST_DATABASE_URL='$(PG_TEST_URL)' REDIS_URL='$(REDIS_URL)' \
		$(BIN)/pytest tests/faults -p no:cacheprovider -q -rs --junitxml=$(REPORTS)/faults.xml \
		|| status=$$?; \
	printf '\n'; $(BIN)/python scripts/fault_table.py $(REPORTS)/faults.jsonl $(REPORTS)/faults.xml; \
	exit $$status

test: $(STAMP) ## Every check in order, stopping at the first failure
	@rm -rf $(REPORTS)
	@for step in $(TEST_STEPS); do \
		start=$$(date +%s); \
		if ! $(MAKE) --no-print-directory $$step; then \
			printf '\n==> FAILED: make %s (after %ss)\n' $$step $$(( $$(date +%s) - start )); \
			exit 1; \
		fi; \
		printf '==> ok: make %s (%ss)\n' $$step $$(( $$(date +%s) - start )); \
	done; \
	printf '\n'; $(BIN)/python scripts/test_summary.py $(REPORTS)/*.xml; \
	printf '==> all checks passed\n'

# The compiled .mo files are committed (tests/test_i18n.py fails when one is out of date
# with its .po), so running or testing Almanac needs no compile step.
POT := translations/messages.pot
translations: $(STAMP) ## Extract strings, update the .po files, compile the .mo files
	$(BIN)/pybabel extract -F babel.cfg -k _l -w 100 --project=Almanac -o $(POT) app templates templates/_macros
	$(BIN)/pybabel update -i $(POT) -d translations -w 100
	$(BIN)/pybabel compile -d translations --statistics

clean: ## Remove caches and reports (keeps .venv and instance/)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis .schemathesis htmlcov schemathesis-report $(REPORTS) \
		.coverage .coverage.* coverage.xml *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
