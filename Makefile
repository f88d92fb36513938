# Two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed-requirements
TEST_STAMP := $(VENV)/.installed-test-requirements
ASSETS := static/vendor/htmx.min.js
# pytest-xdist workers, one per core; modules stay whole on one worker (they may share a live server).
# PYTEST_WORKERS=0 runs in one process. PYTEST_ARGS picks tests: make test PYTEST_ARGS=tests/billing
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope
# Each server, CLI and worker process the tests start imports the app: let the first write its bytecode
# cache so the others need not compile it again (some environments set this to keep trees clean).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install install-test assets agent-tools run serve test test-fast fake-upstream bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) requirements-test.txt
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-test.txt
	touch $(TEST_STAMP)

$(ASSETS): package.json
	npm install --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

install: $(STAMP) $(ASSETS)

install-test: install $(TEST_STAMP)

assets: $(ASSETS)

instance/secret_key:
	mkdir -p instance
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(48))" > $@

run: install instance/secret_key
	ETHERGATE_SECRET_KEY="$${ETHERGATE_SECRET_KEY:-$$(cat instance/secret_key)}" $(BIN)/flask --app wsgi db upgrade
	ETHERGATE_SECRET_KEY="$${ETHERGATE_SECRET_KEY:-$$(cat instance/secret_key)}" $(BIN)/flask --app wsgi catalog sync
	ETHERGATE_SECRET_KEY="$${ETHERGATE_SECRET_KEY:-$$(cat instance/secret_key)}" exec $(BIN)/python wsgi.py --host $(HOST) --port $(PORT)

# Hermes, OpenClaw...: installed once per machine into ~/.cache/ethergate/agent-tools (scripts/agent_tools.py).
agent-tools: install-test
	$(BIN)/python scripts/agent_tools.py install

# An install that fails here (registry unreachable) fails the tests that need the tool, not the whole run.
test: install-test
	bash scripts/install-system-deps.sh db browser
	-$(BIN)/python scripts/agent_tools.py install
	$(PYTEST) $(PYTEST_ARGS)

test-fast: install-test
	bash scripts/install-system-deps.sh db
	ETHERGATE_TEST_ENGINES=sqlite $(PYTEST) -x -q -m "not browser and not agents" $(PYTEST_ARGS)

fake-upstream: install-test
	$(BIN)/python tests/fakes/upstream.py --host 127.0.0.1 --port 9100

bench: install-test
	bash scripts/install-system-deps.sh db bench
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) node_modules static/vendor
