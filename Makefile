# deskpulse: `make demo` runs the whole pipeline locally; `make test` runs every test, real Kafka included.
# Needs Python 3.11+, Java 17+ and Maven on PATH (Kafka's jars come from Maven Central on first use).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test unit kafka-fetch clean

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

clean:
	rm -rf $(VENV) .deskpulse .pytest_cache .hypothesis
