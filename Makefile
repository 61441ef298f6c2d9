# deskpulse: `make demo` runs the whole pipeline locally; `make test` runs every test, real Kafka included;
# `make bench` measures every figure of docs/performance.md beside its baseline.
# Needs Python 3.11+, Java 17+ and Maven on PATH (Kafka's jars come from Maven Central on first use).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit bench bench-quick kafka-fetch clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "deskpulse needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

demo: $(STAMP)
	$(BIN)/deskpulse demo

kafka-fetch: $(STAMP)
	$(BIN)/deskpulse kafka fetch

test: $(STAMP) kafka-fetch
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# Every figure of docs/performance.md beside its baseline and goal; writes bench/results.json.
bench: $(STAMP) kafka-fetch
	$(BIN)/python bench/run.py

# Smaller sizes, a smoke run of the same harness (writes bench/results.partial.json).
bench-quick: $(STAMP) kafka-fetch
	$(BIN)/python bench/run.py --quick

clean:
	rm -rf $(VENV) .deskpulse .pytest_cache .hypothesis
