# cogsim: `make run` runs the default scenario suite; `make test` runs the tests.
# Both create the virtual environment .venv on first use (Python 3.11+) and install cogsim into it.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.cogsim-installed
# tests run in one worker per core, each test file in one worker (`make test PYTEST_ARGS=` runs them serially);
# a worker that dies is not replaced: pytest-xdist 3.8's file scheduling hangs after replacing one
# (docs/architecture.md, "Tests"), while without a replacement the run ends, the crash reported as a failure
PYTEST_ARGS ?= -n auto --dist loadfile --max-worker-restart=0 --durations=25

.PHONY: run test lint clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip "setuptools>=69" wheel
	$(BIN)/python -m pip install --quiet --constraint constraints.txt -e ".[test]"
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/cogsim suite --preset quick --out runs

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check cogsim models kernels scenarios tests benchmarks
	$(BIN)/ruff format --check cogsim models kernels scenarios tests benchmarks

clean:
	rm -rf runs build *.egg-info
