# Retail Gateway. `make run` and `make test` are the quick start; both bootstrap .venv/ with
# nothing but Python 3.11+ and its own pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
BACKEND ?= sandbox
STAMP := $(VENV)/.installed

.PHONY: run test check lint types imports bench lock clean worker

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/gateway serve --host $(HOST) --port $(PORT) --backend $(BACKEND)

worker: $(STAMP)
	$(BIN)/gateway worker

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check app adapters contracts tests bench deploy
	$(BIN)/ruff format --check app adapters contracts tests bench deploy

types: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

check: lint types imports test

bench: $(STAMP)
	$(BIN)/python -m bench

# Re-pin requirements.lock from pyproject.toml (needs network; uses pip-tools in a scratch venv).
lock:
	$(PYTHON) -m venv /tmp/rg-piptools && /tmp/rg-piptools/bin/pip install --quiet pip-tools
	/tmp/rg-piptools/bin/pip-compile --quiet --generate-hashes --allow-unsafe --extra dev \
		--strip-extras --no-emit-index-url --no-emit-find-links -o requirements.lock pyproject.toml

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
