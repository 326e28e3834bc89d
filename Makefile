# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where the portal listens (the sandboxes deliver their webhooks there).
WEB_PORT ?= 5000
PORTAL_PUBLIC_URL ?= http://127.0.0.1:$(WEB_PORT)
# Where the demo's sandbox servers listen; the demo organization's connections point at them.
TOGGL_SANDBOX_PORT ?= 5101
PROCORE_SANDBOX_PORT ?= 5102
# The demo's email goes to a local debugging SMTP server (the Procfile's `mail` line prints it).
SMTP_PORT ?= 8025
# The demo's Toggl connection talks to the sandbox (override these to try a real workspace).
TOGGL_SANDBOX_URL ?= http://127.0.0.1:$(TOGGL_SANDBOX_PORT)
TOGGL_URLS = TOGGL_API_BASE_URL=$(TOGGL_SANDBOX_URL)/api/v9 TOGGL_REPORTS_BASE_URL=$(TOGGL_SANDBOX_URL)/reports/api/v3 \
	TOGGL_WEBHOOKS_BASE_URL=$(TOGGL_SANDBOX_URL)/webhooks/api/v1 TOGGL_APP_URL=$(TOGGL_SANDBOX_URL)
# Procore: `make run` talks to the loopback sandbox, never to api.procore.com.
PROCORE_API_BASE_URL ?= http://127.0.0.1:$(PROCORE_SANDBOX_PORT)

.PHONY: run test test-fast lint duplicates clean bench

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/flask --app portal setup
	$(TOGGL_URLS) PROCORE_API_BASE_URL=$(PROCORE_API_BASE_URL) PORTAL_PUBLIC_URL=$(PORTAL_PUBLIC_URL) \
		$(BIN)/flask --app portal demo
	@echo
	@echo "Portal: $(PORTAL_PUBLIC_URL)   (log in with a demo login above; Ctrl-C stops everything)"
	@echo
	PATH="$(abspath $(BIN)):$$PATH" WEB_PORT=$(WEB_PORT) PORTAL_PUBLIC_URL=$(PORTAL_PUBLIC_URL) \
		TOGGL_SANDBOX_PORT=$(TOGGL_SANDBOX_PORT) PROCORE_SANDBOX_PORT=$(PROCORE_SANDBOX_PORT) SMTP_PORT=$(SMTP_PORT) \
		$(TOGGL_URLS) PROCORE_API_BASE_URL=$(PROCORE_API_BASE_URL) $(BIN)/honcho start -f Procfile

# Two test processes (pytest-xdist): each gets its own database and Redis index (tests/conftest.py).
PYTEST_ARGS ?= -n 2
test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check portal sandboxes tests bench worker.py wsgi.py

# Every page that grows with data at 10k and 1M time entries on PostgreSQL (BENCH_DATABASE_URL; bench/README.md).
bench: $(VENV)/.installed
	$(BIN)/python bench/pages.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) instance/*.db instance/*.db-* .pytest_cache
