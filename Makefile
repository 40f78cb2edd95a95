# KetaFlow. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
UV := .uv-bootstrap/bin/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
PORT ?= 8000
# Python keeps the bytecode it compiles (in __pycache__/, ignored by git), even where the machine
# says not to (PYTHONDONTWRITEBYTECODE=1 on the CI machines): otherwise every process the tests
# start (the CLI, the servers, the migrations) compiles Django and KetaFlow again, 1.2 s of a
# 2.8-s command (docs/testing.md, "Session 13").
export PYTHONDONTWRITEBYTECODE :=

.DEFAULT_GOAL := help
.PHONY: help run test test-fast lint typecheck bench lock system-deps clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --target .uv-bootstrap uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON) --quiet
	@touch $@

run: $(VENV)/.synced ## Start the clinic app and its worker on SQLite with the demo clinic (PORT=8000)
	@mkdir -p var
	@test -f var/backup.key || $(VENV)/bin/ketaflow backup keygen --file var/backup.key
	$(VENV)/bin/ketaflow demo
	export KETAFLOW_BACKUP_KEY_FILE=$${KETAFLOW_BACKUP_KEY_FILE:-var/backup.key}; \
	$(VENV)/bin/ketaflow worker & pid=$$!; trap 'kill $$pid 2>/dev/null' EXIT; \
	$(VENV)/bin/ketaflow serve --port $(PORT)

test: $(VENV)/.synced lint typecheck ## Run the whole suite: lint, types, tests on SQLite and PostgreSQL
	bash scripts/system-deps.sh
	@echo "databases: SQLite (embedded, in memory)"
	@start=$$(date +%s); \
	$(VENV)/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup --durations 15; \
	status=$$?; echo "time: SQLite run $$(( $$(date +%s) - start )) s"; exit $$status
	@start=$$(date +%s); bash scripts/test-postgres.sh; \
	status=$$?; echo "time: PostgreSQL run $$(( $$(date +%s) - start )) s"; exit $$status

test-fast: $(VENV)/.synced ## Tests on SQLite only, no lint
	$(VENV)/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup

lint: $(VENV)/.synced ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.synced ## mypy (strict for ketaflow.clinical and ketaflow.pk)
	@start=$$(date +%s); $(VENV)/bin/mypy src tests benchmarks; \
	status=$$?; echo "time: mypy $$(( $$(date +%s) - start )) s"; exit $$status

bench: $(VENV)/.synced ## Benchmarks against named alternatives (see README, Performance)
	$(VENV)/bin/python -m pytest benchmarks -p no:cacheprovider --benchmark-enable

lock: | $(UV) ## Re-resolve uv.lock after editing pyproject.toml
	$(UV) lock --python $(PYTHON)

system-deps: ## Install Debian packages for browser and PostgreSQL tests (as root)
	bash scripts/system-deps.sh

clean: ## Remove the environment and local data
	rm -rf $(VENV) .uv-bootstrap var .pytest_cache .mypy_cache .ruff_cache
