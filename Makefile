# GlowWorm: every command a developer or CI runs. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
SERVICES_DIR ?= $(CURDIR)/.services
ENV_FILE := $(SERVICES_DIR)/env
# Load the settings `make services` wrote, for every recipe that talks to the services.
WITH_ENV := set -a && source $(ENV_FILE) && set +a &&
# The test session's processors and API servers log here (tests/conftest.py), beside the
# services' logs; emptied before each run so an old run's logs are never read as this one's.
TEST_LOG_DIR := $(SERVICES_DIR)/logs/tests
# More pytest arguments: make test PYTEST_ARGS="-p no:randomly -x tests/integration"
PYTEST_ARGS ?=
# A failed run ends with the tail of every service's log, then pytest's own exit status.
SHOW_LOGS_ON_FAILURE = || { code=$$?; GLOWWORM_SERVICES_DIR=$(SERVICES_DIR) bash infra/services.sh logs; exit $$code; }
# The browser tests: Debian's Chromium, driven by playwright-core from tests/browser.
BROWSER_DIR := tests/browser
CHROMIUM ?= /usr/bin/chromium

.PHONY: help install services services-stop setup stack stack-token run test test-unit test-browser browser-deps lint bench bench-quick clean

help:  ## list the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed  ## make the virtualenv and install the project

services: $(BIN)/.installed  ## install (if missing) and start Postgres, RabbitMQ and MinIO on 127.0.0.1
	bash infra/services.sh start

services-stop:  ## stop exactly the services `make services` started
	bash infra/services.sh stop

setup: services  ## migrate the schema, make both buckets, wire the bucket notification
	$(WITH_ENV) $(BIN)/glowworm setup

stack: setup  ## run upload_service on :8000 and one processor in the foreground (Ctrl-C stops both)
	$(WITH_ENV) bash infra/stack.sh

run: $(BIN)/.installed  ## the demo: the whole pipeline in one process, no external service
	$(BIN)/python -m demo

stack-token: setup  ## print an admin token for the real local services
	@$(WITH_ENV) $(BIN)/glowworm token create --name admin --admin

test: services browser-deps  ## the whole suite, on real services, browser tests included
	rm -rf $(TEST_LOG_DIR)
	$(WITH_ENV) GLOWWORM_TEST_LOG_DIR=$(TEST_LOG_DIR) $(BIN)/pytest $(PYTEST_ARGS) $(SHOW_LOGS_ON_FAILURE)

test-browser: services browser-deps  ## only the browser tests (pages in Chromium, the real Uppy)
	rm -rf $(TEST_LOG_DIR)
	$(WITH_ENV) GLOWWORM_TEST_LOG_DIR=$(TEST_LOG_DIR) $(BIN)/pytest tests/browser $(PYTEST_ARGS) $(SHOW_LOGS_ON_FAILURE)

browser-deps: $(BROWSER_DIR)/build/uppy.js  ## Chromium from Debian and the browser tests' npm packages
	@test -x $(CHROMIUM) || { apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# npm ci installs exactly the lock file (playwright-core, Uppy, esbuild; no browser download);
# the build bundles @uppy/core + @uppy/aws-s3 into one module the test page loads.
$(BROWSER_DIR)/build/uppy.js: $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json $(BROWSER_DIR)/uppy-entry.js
	@command -v node >/dev/null && node -e 'process.exit(parseInt(process.versions.node) < 20 ? 1 : 0)' \
		|| { echo "the browser tests need node 20 or later (playwright-core)"; exit 1; }
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund && npm run build

test-unit: $(BIN)/.installed  ## only the tests that need no services
	$(BIN)/pytest -m "not integration"

lint: $(BIN)/.installed  ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# The benchmarks run on the services `make services` starts (they never start or stop
# them themselves). The API benchmark's load generators: wrk from Debian, and vegeta
# (fixed-rate load) built from source, like MinIO.
VEGETA := github.com/tsenart/vegeta/v12@v12.13.0
GO := $(shell command -v go || echo /usr/local/go/bin/go)
# `make bench RUNS=3`: the whole set three times over, and each target's median.
RUNS ?= 1
bench: services  ## every benchmark on the real services (~16 min a run); report in bench/reports/
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	@$(GO) install $(VEGETA)
	$(WITH_ENV) $(BIN)/python -m bench --runs $(RUNS) --report bench/reports/$$(date +%Y%m%d-%H%M%S).txt

bench-quick: services  ## a short run of every benchmark (~5 min); report in bench/reports/
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	@$(GO) install $(VEGETA)
	$(WITH_ENV) $(BIN)/python -m bench --quick --report bench/reports/quick-$$(date +%Y%m%d-%H%M%S).txt

clean: services-stop  ## stop services and remove their data and the virtualenv
	rm -rf $(SERVICES_DIR) $(VENV)
