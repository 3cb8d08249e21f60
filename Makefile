# Two commands set everything up on a fresh machine (Python >= 3.11):
#   make demo   creates .venv, installs leanops, runs the main job on the bundled log
#   make test   creates or refreshes .venv with the dev extras, runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out
PYTEST_ARGS ?=

.PHONY: demo test install bench fuzz clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "leanops needs Python >= 3.11; got " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

demo: install
	@mkdir -p $(OUT)
	$(BIN)/leanops info
	$(BIN)/leanops report -o $(OUT)
	@echo "bottleneck report written to $(OUT)/production.html (open it in a browser)"

test: install
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# hostile-input corpus, randomised and longer (not part of make test): FUZZ_CASES, FUZZ_SEED
FUZZ_CASES ?= 150
FUZZ_SEED ?= 0
fuzz: install
	$(BIN)/python tests/fuzz_hostile.py --cases $(FUZZ_CASES) --seed $(FUZZ_SEED)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
