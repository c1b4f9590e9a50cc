# albert-tf developer commands. `make demo` runs the whole pipeline; `make test` runs the test suite.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint format test test-fast demo demo-zh clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): setup.py constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,bench,lint,beam]'
	touch $(STAMP)

install: $(STAMP)

# Style: yapf (Google style, 100 columns, .style.yapf) must leave every file unchanged, and ruff
# (ruff.toml) must find nothing. `make format` rewrites the files and applies ruff's safe fixes.
LINTED := albert_tf data_prep benchmarks tests setup.py
lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/yapf --diff --recursive --parallel $(LINTED) --exclude 'tests/data/*'

format: $(STAMP)
	$(BIN)/yapf --in-place --recursive --parallel $(LINTED) --exclude 'tests/data/*'
	$(BIN)/ruff check --fix $(LINTED)

# Unit tests run on 2 pytest processes; then the multi-process, kill/resume and convergence tests
# (-m slow), also on 2, a file per process (--dist loadfile), so that a module's expensive fixture
# (the one-update matrix) runs once.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow" tests
	$(BIN)/python -m pytest -n 2 --dist loadfile -q -m slow tests

# The inner loop while developing: everything except the multi-process and training-to-convergence tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow" tests

demo: $(STAMP)
	$(BIN)/python -m albert_tf.demo

demo-zh: $(STAMP)
	$(BIN)/python -m albert_tf.demo --language=zh

clean:
	rm -rf $(VENV) build dist *.egg-info demo_output
