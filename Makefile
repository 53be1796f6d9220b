# Two commands: `make run` serves the demo; `make test` passes the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench screenshots clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/openline demo

test: install
	$(BIN)/python -m pytest -q -rs $(PYTEST_ARGS)

# The README's pictures, taken by the browser tests mid-call (needs Chromium).
screenshots: install
	OPENLINE_SCREENSHOTS=docs OPENLINE_TEST_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/browser

bench: install
	$(BIN)/python bench/webhooks.py

clean:
	rm -rf $(VENV) var *.egg-info
