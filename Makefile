# Two commands: `make run` serves the demo; `make test` passes the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test bench clean

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

bench: install
	$(BIN)/python bench/webhooks.py

clean:
	rm -rf $(VENV) var *.egg-info
