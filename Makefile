# The two commands a newcomer types:  `make demo`  and  `make test`.
# Everything else here is what those two call, plus helpers for the full stack.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test install js-deps system-deps migrate seed run web worker beat pdf-worker lint clean

## demo: set up everything (venv, packages, database, demo data) and serve http://127.0.0.1:8000
demo: install migrate seed run

## test: the whole test suite (SQLite + eager Celery locally; .ci/run adds PostgreSQL + Redis)
test: install system-deps js-deps
	$(BIN)/pytest

install: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

## js-deps: the test suite's JavaScript (axe-core for tests/e2e/test_axe.py), pinned by package-lock.json
js-deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm is missing (make system-deps as root installs it): the axe test skips locally, fails in CI" >&2; fi

## system-deps: Debian packages the tests need (Chromium for browser tests, poppler for PDFs)
system-deps:
	bash scripts/system-deps.sh

migrate: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py compilemessages --ignore=.venv >/dev/null 2>&1 || true

seed: install
	$(BIN)/python manage.py seed_demo

run: install
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

# --- The full stack on PostgreSQL + Redis (what docker-compose.yml runs, without Docker) ---
# export DATABASE_URL=postgres://postgres@127.0.0.1:5432/carm REDIS_URL=redis://127.0.0.1:6379/0
worker: install
	$(BIN)/celery -A carm_portal worker -Q celery -l info --concurrency 2

pdf-worker: install
	$(BIN)/celery -A carm_portal worker -Q pdf -l info --concurrency 1 --max-tasks-per-child 10

beat: install
	$(BIN)/celery -A carm_portal beat -l info

web: install
	$(BIN)/gunicorn carm_portal.wsgi:application --bind $(HOST):$(PORT) --workers 3

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles node_modules
