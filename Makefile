# Two commands do all the set-up on a fresh machine with Python 3.11+ and make:
#   make demo   the main job end to end on embedded defaults (embedded PostgreSQL + simulator)
#   make test   the test suite (embedded PostgreSQL unless TEST_DATABASE_URL is set)
# The venv gets the product with its `local` extra (the simulator's Faker, the embedded
# PostgreSQL's pgserver) and the dev tools; a production install is `pip install .`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast ui lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tampuuri-sync demo

test: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile -q

ui: $(STAMP)
	$(BIN)/tampuuri-sync ui

lint: $(STAMP)
	$(BIN)/ruff check pipelines tests benchmarks
	$(BIN)/ruff format --check pipelines tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .tampuuri .pytest_cache .mypy_cache .ruff_cache
