# Developer entry points. `make` (or `make help`) lists the targets.
# Everything runs through uv with the repo's Python 3.11 venv; uv never downloads Pythons.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

export UV_PYTHON_DOWNLOADS := never
PYTHON_VERSION ?= 3.11
STACK_HOME ?= $(CURDIR)/.stack
export STACK_HOME

# uv from PATH, else the user install made by `make bootstrap`, else the pip module.
# (Recursively expanded on purpose: re-resolved after bootstrap has installed uv.)
UV = $(shell command -v uv 2>/dev/null || { test -x "$$HOME/.local/bin/uv" && echo "$$HOME/.local/bin/uv"; } || echo "python3 -m uv")
RUN = $(UV) run --frozen --python $(PYTHON_VERSION)
DEVSTACK = $(RUN) python -m devstack

PYTEST_ARGS ?=
PART ?=
FOLLOW ?=
LINT_PATHS ?= shared services tools tests bench
MYPY_PATHS ?= shared/shared tools/devstack/devstack services/intake/intake services/routing/routing \
	services/feed/feed services/notify/notify services/status-board/status_board \
	services/portal/portal \
	tests $(wildcard bench/*.py)

.PHONY: help bootstrap up up-infra down status logs test test-unit test-integration test-e2e \
	lint fmt docs bench bench-tools clean

help: ## Show this help
	@echo "Usage: make <target> [VAR=value]"
	@echo
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*?## "}; {printf "  %-17s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: PYTEST_ARGS='-k name' PART=kafka FOLLOW=1 STACK_HOME=$(STACK_HOME)"

bootstrap: ## Install what is missing: uv, the workspace venv (uv sync), Debian chromium (best effort)
	@if ! command -v uv >/dev/null 2>&1 && ! test -x "$$HOME/.local/bin/uv" \
		&& ! python3 -m uv --version >/dev/null 2>&1; then \
		echo "bootstrap: installing uv (python3 -m pip install --user uv)"; \
		python3 -m pip install --user --quiet uv \
		|| python3 -m pip install --user --quiet --break-system-packages uv; \
	fi
	@if test -f uv.lock; then \
		$(UV) sync --all-packages --frozen --python $(PYTHON_VERSION); \
	else \
		$(UV) sync --all-packages --python $(PYTHON_VERSION); \
	fi
	@if test ! -x /usr/bin/chromium; then \
		if test "$$(id -u)" = 0 && command -v apt-get >/dev/null 2>&1; then \
			echo "bootstrap: installing Debian chromium (best effort)"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| echo "bootstrap: warning: could not install chromium; browser tests will be skipped"; \
		else \
			echo "bootstrap: note: /usr/bin/chromium missing (install it as root: apt-get install chromium)"; \
		fi; \
	fi

up: ## Start Kafka, Mongo, the SMTP sink and the five services; wait until all are healthy
	@$(DEVSTACK) up

up-infra: ## Start only Kafka, the Mongo-wire server and the SMTP sink
	@$(DEVSTACK) up --infra

down: ## Stop everything (services first, then infra)
	@$(DEVSTACK) down

status: ## Show every part with its URL, pid and health
	@$(DEVSTACK) status

logs: ## Show logs (PART=kafka for one part, FOLLOW=1 to follow)
	@$(DEVSTACK) logs $(if $(FOLLOW),-f) $(PART)

test: bootstrap ## Run every test (starts the infra if it is not running)
	$(RUN) pytest tests $(PYTEST_ARGS)

test-unit: ## Run the unit tests only (no stack needed)
	$(RUN) pytest tests/unit $(PYTEST_ARGS)

test-integration: ## Run the integration tests (starts the infra if needed)
	$(RUN) pytest tests/integration $(PYTEST_ARGS)

test-e2e: ## Run the end-to-end tests against the whole running system
	$(RUN) pytest tests/e2e $(PYTEST_ARGS)

lint: ## ruff check, ruff format --check and mypy --strict
	$(RUN) ruff check $(LINT_PATHS)
	$(RUN) ruff format --check $(LINT_PATHS)
	$(RUN) mypy $(MYPY_PATHS)

fmt: ## Fix what ruff can fix and format the code
	$(RUN) ruff check --fix $(LINT_PATHS)
	$(RUN) ruff format $(LINT_PATHS)

docs: ## Generate the AsyncAPI documentation into docs/asyncapi
	$(RUN) python -m devstack.asyncapi docs/asyncapi

bench-tools: ## Install what the benchmarks compare against: Debian's nginx-light and wrk (best effort)
	@if ! command -v nginx >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1; then \
		if test "$$(id -u)" = 0 && command -v apt-get >/dev/null 2>&1; then \
			echo "bench-tools: installing Debian nginx-light and wrk (best effort)"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null; } \
			|| echo "bench-tools: warning: could not install them; the board bench then runs alone"; \
		else \
			echo "bench-tools: note: nginx or wrk missing (as root: apt-get install nginx-light wrk)"; \
		fi; \
	fi

bench: bootstrap bench-tools ## Run the benchmarks (bench/run_all.py)
	@if test -f bench/run_all.py; then \
		$(RUN) python bench/run_all.py; \
	else \
		echo "bench: bench/run_all.py does not exist yet"; \
	fi

clean: ## Stop the stack and delete its data and logs (keeps the downloaded Kafka jars and tools)
	@$(DEVSTACK) down
	rm -rf "$(STACK_HOME)/data" "$(STACK_HOME)/logs" "$(STACK_HOME)/run"
