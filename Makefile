# Two commands: `make run` serves the demo; `make test` passes the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM := $(shell command -v npm)
# `make run PORT=8080` serves the demo on another port.
PORT ?= 8000

.PHONY: install run test bench screenshots clean

install: $(STAMP)

# The browser headset (Twilio's Voice JS SDK) comes from package-lock.json when npm is here;
# without npm everything else still works and listeners are offered practice or a desk phone.
$(STAMP): pyproject.toml package-lock.json
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
ifneq ($(NPM),)
	$(NPM) ci --no-audit --no-fund
else
	@echo "npm not found: the browser headset is not available; practice and desk-phone headsets will be offered."
endif
	touch $(STAMP)

run: install
	$(BIN)/openline demo --port $(PORT)

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -rs $(PYTEST_ARGS)

# The README's pictures, taken by the browser tests mid-call (needs Chromium).
screenshots: install
	OPENLINE_SCREENSHOTS=docs OPENLINE_TEST_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q tests/browser

# The benchmarks (README's Benchmark section): never part of `make test`. PostgreSQL runs make
# (and drop) their own database on BENCH_POSTGRES_URL's server. The national day is replayed as a
# storm (BENCH_CALLS, every webhook as fast as the server takes it) and lived as a story
# (BENCH_STORY_CALLS, listeners taking callers); `make bench BENCH_CALLS=2000` is a quick one.
BENCH_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
BENCH_CALLS ?= 20000
BENCH_STORY_CALLS ?= 2000
bench: install
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/webhooks.py --postgres $(BENCH_POSTGRES_URL) --workers 1 2
	$(BIN)/python bench/national_day.py --storm --calls $(BENCH_CALLS)
	$(BIN)/python bench/national_day.py --storm --calls $(BENCH_CALLS) --postgres $(BENCH_POSTGRES_URL)
	$(BIN)/python bench/national_day.py --calls $(BENCH_STORY_CALLS)
	$(BIN)/python bench/national_day.py --calls $(BENCH_STORY_CALLS) --postgres $(BENCH_POSTGRES_URL)
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/scale.py --postgres $(BENCH_POSTGRES_URL)
	$(BIN)/python bench/capacity.py

clean:
	rm -rf $(VENV) var *.egg-info node_modules
