# Every target bootstraps .venv from the pinned requirements.txt when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

#: Parallel workers for the tests that time nothing (make test's first pass). The timing
#: tests run two at a time: each holds its claim while the other core is busy (make stress
#: checks that beside a CPU hog); those that claim two cores run alone.
TEST_WORKERS ?= 7
#: Rounds of make stress.
ROUNDS ?= 5
#: make docs-serve's port (gunicorn's is 8000).
DOCS_PORT ?= 8765
DOCS_OUT := docs/_build/html
#: The tests' Python and pytest, with bytecode caches written even where
#: PYTHONDONTWRITEBYTECODE is set: otherwise each of the passes' pytest processes rewrites
#: every test module's assertions and every server and command the tests start compiles
#: the lab's modules anew (collecting the tests: 4.1 CPU-seconds without the caches, 2.1
#: with them).
TESTS_PYTHON := env -u PYTHONDONTWRITEBYTECODE $(BIN)/python
PYTEST := $(TESTS_PYTHON) -m pytest

.PHONY: demo test slow stress serve probe lesson matrix hosts advise lint docs docs-pages docs-serve clean os-packages

# pip compiles each installed module's bytecode one file at a time (about 30 s of the 59 s
# bootstrap on 2 cores); --no-compile, then compileall on every core, writes the same .pyc
# files in about 13 s (a file that does not compile is left to import time, as pip leaves it).
# The packages' own test folders (a sixth of their modules, never imported here) are left
# out: 8.3 s against 11.1 with them (2026-12-07); one that is imported compiles then.
$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --no-compile -r requirements.txt
	$(BIN)/python -m compileall -q -j 0 -x '/tests?/' $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') > /dev/null || true
	touch $(STAMP)

os-packages:  ## redis-server, nginx: installed when missing (root with apt-get), else one line says how
	@sh scripts/os-packages.sh

demo: $(STAMP) os-packages  ## the quick matrix and one open cell per model (about 3 min on 2 cores); report in reports/<timestamp>/
	$(BIN)/python -m loadtests.matrix --quick

probe: $(STAMP)  ## a 15-second probe: concurrent /io and /prime per worker model [ARGS="--io-requests 4"]
	$(BIN)/python -m loadtests.probe $(ARGS)

lesson: $(STAMP) os-packages  ## one lesson live, its cells and observation: make lesson L=gil [ARGS=--full]
	@test -n "$(L)" || { echo 'usage: make lesson L=<lesson> [ARGS=--full]  (the lessons: docs/teaching.md)' >&2; exit 2; }
	$(BIN)/python -m loadtests.matrix --lesson $(L) $(ARGS)

matrix: $(STAMP) os-packages  ## the full matrix: every cell twice and every lesson's observations (over an hour)
	$(BIN)/python -m loadtests.matrix --full

hosts: $(STAMP) os-packages  ## the multi-host scenarios in network namespaces, each cut with each broker (root; about 7 min)
	$(BIN)/python -m loadtests.matrix --no-cells --hosts

test: $(STAMP) os-packages  ## every test but make slow's: those that time nothing in parallel, the timing tests two at a time (the in-process ones beside them at nice 19), the two-core ones alone
	$(PYTEST) -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not timing and not inprocess and not slow"
	$(TESTS_PYTHON) scripts/beside.py -n 2 --dist worksteal -m "timing and not two_cores and not slow"
	$(PYTEST) -m "timing and two_cores and not slow"

slow: $(STAMP) os-packages  ## the tests make test leaves out for its budget (the advisor on the CPU example, alone on both cores: about 60 s)
	$(PYTEST) -m slow

stress: $(STAMP) os-packages  ## the timing tests ROUNDS times in a row beside a CPU hog on one core
	$(BIN)/python scripts/stress.py --rounds $(ROUNDS)

advise: $(STAMP)  ## your app: make advise APP=pkg.module:app PATHS="/a /b" [CHDIR=dir] [ARGS=--full]
	@test -n "$(APP)" -a -n "$(PATHS)" || { echo 'usage: make advise APP=package.module:app PATHS="/path [/other]" [CHDIR=your/project] [ARGS="--full --users 100"]' >&2; exit 2; }
	$(BIN)/python -m loadtests.advise --app $(APP) $(foreach p,$(PATHS),--path $(p)) $(if $(CHDIR),--chdir $(CHDIR)) $(ARGS)

serve: $(STAMP)  ## gunicorn with WORKER_CLASS, WORKERS, THREADS, ... from the environment
	$(BIN)/gunicorn -c gunicorn.conf.py

lint: $(STAMP)
	$(BIN)/ruff check .

docs: $(STAMP)  ## the docs site, strictly: a warning, a broken link, a missing image or a stale generated block fails
	$(BIN)/python -m loadtests.site --check
	$(BIN)/sphinx-build -W --keep-going -n -q -E -b html docs $(DOCS_OUT)
	@echo "docs: $(DOCS_OUT)/index.html"

docs-pages: $(STAMP)  ## rewrite the pages' generated blocks (and lesson charts) from docs/sample/ and the code
	$(BIN)/python -m loadtests.site

docs-serve: docs  ## the built site on http://127.0.0.1:$(DOCS_PORT)/
	$(BIN)/python -m http.server --bind 127.0.0.1 --directory $(DOCS_OUT) $(DOCS_PORT)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache reports docs/_build
