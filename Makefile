# Vigil: `make run` brings the whole system up, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
PYTEST_ARGS ?=
# pytest-xdist: one worker per core this process may use (nproc honours CPU affinity), each with
# its own PostgreSQL test database (pytest-django names them test_<db>_gw0, _gw1...).
# TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 1)
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n auto --maxprocesses $(TEST_WORKERS))

.PHONY: run test test-quick install lint format migrate messages seed bench bench-ingest bench-storm bench-probes bench-ping bench-ui bench-api bench-search bench-monitors bench-text bench-llm bench-status bench-analytics bench-scaleout clean chaos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the lock files change; uv (from PyPI) makes it take seconds, pip works too.
# The failover client (clients/python, no Django) is installed editable for its tests.
$(STAMP): $(BIN)/python requirements.lock requirements-dev.lock clients/python/pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e clients/python
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Compile the translation catalogs (statuspage/locale: the public status page in German). The
# compiled .mo files are committed too, so a machine without gettext's msgfmt still has them.
messages: install
	@if command -v msgfmt >/dev/null 2>&1; then \
		$(BIN)/python manage.py compilemessages --ignore '.venv' --ignore 'node_modules' -v0; \
	else echo "msgfmt not found (apt install gettext): using the committed .mo files"; fi

run: migrate messages
	@VIGIL_BASE_URL=$${VIGIL_BASE_URL:-http://127.0.0.1:$(PORT)} $(BIN)/python manage.py seed_demo --if-empty
	@echo ""
	@echo "  Vigil is starting on http://127.0.0.1:$(PORT)/  (admin: http://127.0.0.1:$(PORT)/admin/)"
	@echo "  Demo login: admin / $${VIGIL_DEMO_PASSWORD:-vigil-demo}"
	@echo ""
	@# The demo probe watches Vigil's own /healthz on this machine: allow loopback for it
	@# unless PROBE_ALLOWED_NETWORKS is set (production leaves loopback refused).
	PORT=$(PORT) PROBE_ALLOWED_NETWORKS=$${PROBE_ALLOWED_NETWORKS-127.0.0.1/32} \
		VIGIL_BASE_URL=$${VIGIL_BASE_URL:-http://127.0.0.1:$(PORT)} $(BIN)/honcho start -f Procfile

test: install messages
	@scripts/ensure-chromium || echo "warning: Chromium missing; browser tests will be skipped"
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)

# Before a commit: everything but the schemathesis fuzz and the browser tests (CI runs them).
test-quick: install messages
	$(BIN)/pytest $(XDIST) -m "not slow and not browser" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench-ingest: install
	$(BIN)/python bench/ingest.py

# Alert storm end to end (issue 12): BENCH_STORM_ARGS="--seconds 20" shortens the burst.
bench-storm: install
	$(BIN)/python bench/storm.py $(BENCH_STORM_ARGS)

bench-probes: install
	$(BIN)/python bench/probes.py

bench-ping: install
	$(BIN)/python bench/ping.py

bench-ui: install
	$(BIN)/python bench/ui.py

bench-api: install
	$(BIN)/python bench/api.py

bench-search: install
	$(BIN)/python bench/learn_search.py

bench-monitors: install
	$(BIN)/python bench/monitors.py

# Blameless check and Markdown on 100 KB adversarial inputs (no database needed).
bench-text: install
	$(BIN)/python bench/text.py

bench-llm: install
	$(BIN)/python bench/llm.py

bench-status: install
	$(BIN)/python bench/status.py

bench-analytics: install
	$(BIN)/python bench/analytics.py

# Ingest workers 1 vs 2 on Redis and on RabbitMQ (needs rabbitmq-server for the second half).
bench-scaleout: install
	$(BIN)/python bench/scaleout.py

# Every benchmark, one after another (needs PostgreSQL and Redis).
bench: bench-ingest bench-ping bench-probes bench-api bench-ui bench-search bench-monitors bench-text bench-llm bench-status bench-analytics

# The chaos suite (docs/reliability.md): own PostgreSQL cluster, Redis, web, worker and beat on
# loopback, crashed on purpose; about 11 minutes. `make test` runs its short form (tests/chaos).
chaos: install
	$(BIN)/python scripts/chaos.py

clean:
	rm -rf $(VENV) var .pytest_cache
