# mindscreen: `make` prints this help.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU wheel of torch; GPU users install their own torch build before `pip install -e .`.
TORCH ?= torch==2.13.0

.PHONY: help install quickstart test test-all test-slow test-ray lint typecheck bench-accuracy clean

help:
	@echo "make quickstart   install, then fine-tune MiniLM on the synthetic demo set (a few minutes on CPU)"
	@echo "make test         install, then run the test suite (no GPU, no network)"
	@echo "make test-all     the test suite including tests marked slow"
	@echo "make test-slow    only the tests marked slow (a local Ray per test, a real mlflow server)"
	@echo "make test-ray     the Ray engine's end-to-end tests (slow: each starts a local Ray)"
	@echo "make lint         ruff check + ruff format --check"
	@echo "make typecheck    mypy on src/"
	@echo "make bench-accuracy  benchmarks/accuracy.py on ../shared/data (see BENCHMARKS.md)"

$(BIN)/mindscreen: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

install: $(BIN)/mindscreen

quickstart: install
	$(BIN)/mindscreen train --overwrite

test: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

test-all: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m ""

test-slow: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m slow

test-ray: install
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m slow tests/test_ray_engine.py

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: install
	$(BIN)/mypy

bench-accuracy: install
	$(BIN)/python benchmarks/accuracy.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache
