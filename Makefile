# The two commands of the README: `make demo` runs the main job, `make test` the tests.
# Both set up .venv from scratch when it is missing (Python 3.11; torch from its local CPU wheel).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

$(BIN)/robust-rl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned torch resolves to the CUDA build (GBs)
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[sb3,plots,dev,data,docs,zoo,ray]"
	touch $@

install: $(BIN)/robust-rl

demo: install
	$(BIN)/robust-rl demo

test: install
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -m "not slow" -n 2 --durations=15

test-slow: install
	PYTHONHASHSEED=0 $(BIN)/python -m pytest -m slow

# the documentation site: HTML with warnings as errors, then the examples of every page (Sphinx's doctest builder);
# both builders share one doctree cache, so the pages are read once
docs: install
	$(BIN)/sphinx-build -W --keep-going -q -b html -d docs/_build/doctrees docs docs/_build/html
	$(BIN)/sphinx-build -W --keep-going -q -b doctest -d docs/_build/doctrees docs docs/_build/doctest

lint: install
	$(BIN)/ruff check robust_envs robust_sb3 tests benchmarks
	$(BIN)/black --check robust_envs robust_sb3 tests benchmarks

.PHONY: install demo test test-slow docs lint
