# The two commands that open the README: `make run` and `make test`.
# Both create or update .venv from the lock files; nothing else needs installing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint lock chromium clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "linkhealth needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(RUN_STAMP): requirements.lock pyproject.toml | $(PY)
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

$(DEV_STAMP): requirements-dev.lock pyproject.toml | $(PY)
	$(PY) -m pip install -q -r requirements-dev.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@ $(RUN_STAMP)

## Check the bundled toolkit catalog and write the report to var/reports/.
run: $(RUN_STAMP)
	$(VENV)/bin/linkhealth check

## Headless Chromium for the browser tests of the HTML report, and pdftotext (poppler-utils)
## for its print tests (Debian packages, root only).
chromium:
	@{ command -v chromium && command -v pdftotext; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium and poppler-utils for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null; \
	  else echo "chromium or pdftotext not found: browser tests will be skipped (apt-get install chromium poppler-utils)"; fi; }

## Four pytest-xdist workers on two cores: half of the tests' time is spent waiting on
## sockets, sleeps and subprocesses, not computing (~975 s of tests, ~490 CPU-s), and a
## fourth worker fills that time: 285 s against 328-340 s for three on this machine. The
## Prefect tests share one worker, the tests marked `waits` two others (tests/conftest.py).
## With the Prefect and waits groups (2026-12-07, 0.34-0.38 s per 10M additions): four
## workers 329-355 s, five 317-334 s in four runs, one of which had a test fail that we could
## not name, six 357 s. Four stay. Since each worker freezes what it holds (its full
## collections no longer walk it) and the waits tests take two workers: 257 s (2026-12-07).
## `make test PYTEST_PARALLEL=` runs the suite in one process.
PYTEST_PARALLEL ?= -n 4 --dist loadgroup

## Lint, type-check and run the whole test suite.
test: $(DEV_STAMP) chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy catalog flows reports bench tests
	$(VENV)/bin/pytest $(PYTEST_PARALLEL)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy catalog flows reports bench tests

## Re-pin the lock files after editing pyproject.toml (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml -o requirements.lock --python-version 3.11 -q
	uv pip compile pyproject.toml --extra dev -o requirements-dev.lock --python-version 3.11 -q

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
