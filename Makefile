# Every target bootstraps .venv from the pinned requirements.txt when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

#: Parallel workers for the tests that time nothing (make test's first pass).
TEST_WORKERS ?= 3
#: Rounds of make stress.
ROUNDS ?= 5

.PHONY: demo test test-fast stress serve probe matrix advise lint clean os-packages

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

os-packages:  ## redis-server, nginx: installed when missing (root with apt-get), else one line says how
	@sh scripts/os-packages.sh

demo: $(STAMP) os-packages  ## the quick matrix (about 2 min on 2 cores); report in reports/<timestamp>/
	$(BIN)/python -m loadtests.matrix --quick

probe: $(STAMP)  ## a 15-second probe: concurrent /io and /prime per worker model
	$(BIN)/python -m loadtests.probe

matrix: $(STAMP) os-packages  ## the full matrix: every cell twice (about 36 min)
	$(BIN)/python -m loadtests.matrix --full

test: $(STAMP) os-packages  ## every test: those that time nothing in parallel, then the timing tests one at a time
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not timing"
	$(BIN)/python -m pytest -m timing

stress: $(STAMP) os-packages  ## the timing tests ROUNDS times in a row beside a CPU hog on one core
	$(BIN)/python scripts/stress.py --rounds $(ROUNDS)

test-fast: $(STAMP) os-packages  ## skip the slow fixture numbers
	$(BIN)/python -m pytest -m "not slow"

advise: $(STAMP)  ## your app: make advise APP=pkg.module:app PATHS="/a /b" [CHDIR=dir] [ARGS=--full]
	@test -n "$(APP)" -a -n "$(PATHS)" || { echo 'usage: make advise APP=package.module:app PATHS="/path [/other]" [CHDIR=your/project] [ARGS="--full --users 100"]' >&2; exit 2; }
	$(BIN)/python -m loadtests.advise --app $(APP) $(foreach p,$(PATHS),--path $(p)) $(if $(CHDIR),--chdir $(CHDIR)) $(ARGS)

serve: $(STAMP)  ## gunicorn with WORKER_CLASS, WORKERS, THREADS, ... from the environment
	$(BIN)/gunicorn -c gunicorn.conf.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache reports
