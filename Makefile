# Every target creates .venv on first use, so a fresh clone needs nothing else.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test e2e screenshots run api emulators bench bench-full soak clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# Without Chromium the browser tests are skipped, with one line saying how to enable them.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Only the browser tests (Debian's chromium: apt-get install -y chromium).
e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e -m e2e $(PYTEST_ARGS)

# The browser tests again, writing their screenshots over docs/screenshots/.
screenshots: $(STAMP)
	E2E_SCREENSHOTS=1 $(BIN)/python -m pytest tests/e2e -m e2e $(PYTEST_ARGS)

run: $(STAMP)
	GATEWAY_MODE=demo $(BIN)/gateway console

api: $(STAMP)
	GATEWAY_MODE=demo $(BIN)/gateway serve --host 127.0.0.1 --port 8000

emulators: $(STAMP)
	$(BIN)/gateway emulators --azure-port 8081 --bedrock-port 8082 --profile demo

bench: $(STAMP)
	$(BIN)/python -m bench --quick

bench-full: $(STAMP)
	$(BIN)/python -m bench --full

soak: $(STAMP)
	GATEWAY_SOAK=1 $(BIN)/python -m pytest tests/reliability -m "soak or not soak"

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
