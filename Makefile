# One entry point for people and CI. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# Plain `=`, not `?=`: some shells export HOST as the machine's name, and `make run` must not
# listen beyond loopback unless asked on the command line (make run HOST=0.0.0.0).
HOST   = 127.0.0.1
SECONDS ?= 300
SUDO   := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
CHECKED := src tests scripts bench faults worker_settings.py

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench faults fuzz clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/.installed ## Create .venv and install the service with its dev tools

run: install ## Run API + worker (+ a private redis-server unless JOBQUEUE_REDIS_URL is set) on 127.0.0.1:8000; elsewhere: make run PORT=8001 HOST=...
	$(BIN)/python -m scripts.run_local --host $(HOST) --port $(PORT)

test: install lint ## Lint, type-check, then every test (needs redis-server on PATH)
	$(BIN)/pytest

lint: install ## ruff (lint + format check) and mypy --strict
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/mypy

bench: install ## Benchmarks against arq, SAQ, dramatiq, taskiq and bare FastAPI; writes docs/benchmarks.md
	@command -v redis-server >/dev/null || { echo "bench needs redis-server (apt-get install redis-server)"; exit 1; }
	@command -v wrk >/dev/null || { echo "installing wrk (optional: without it the Python load generator is used)"; \
		$(SUDO) apt-get install -y -qq wrk >/dev/null 2>&1 || echo "could not install wrk: using the Python load generator"; }
	$(BIN)/python -m bench.run

faults: install ## Fault injection (killed workers, deploys, Redis killed/full/paused, crons, idempotency); writes docs/reliability.md
	@command -v redis-server >/dev/null || { echo "faults needs redis-server (apt-get install redis-server)"; exit 1; }
	$(BIN)/python -m faults.run --into docs/reliability.json

fuzz: install ## Fuzz the API from its OpenAPI with schemathesis for 5 minutes (make fuzz SECONDS=60 for less)
	@command -v redis-server >/dev/null || { echo "fuzz needs redis-server (apt-get install redis-server)"; exit 1; }
	$(BIN)/python -m scripts.fuzz --max-time $(SECONDS)

format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(CHECKED)
	$(BIN)/ruff format $(CHECKED)

clean: ## Remove the venv, caches and local run data
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
