# One command per habit; CI runs the same ones (.ci/run calls `make test`).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
SIM_PORT ?= 8100

.PHONY: run serve test lint types bench compare-litellm install dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

run: install  ## the demo: service on $(HOST):$(PORT) in front of the provider simulator
	$(BIN)/python -m compileall -q app  # as an installed service has it, even where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/llm-router demo --host $(HOST) --port $(PORT) --simulator-port $(SIM_PORT)

serve: install  ## the service alone, on the embedded defaults
	$(BIN)/python -m compileall -q app
	$(BIN)/llm-router serve --host $(HOST) --port $(PORT)

test: dev  ## the whole suite
	$(BIN)/pytest

lint: dev
	$(BIN)/ruff check .

types: dev
	$(BIN)/mypy app bench

bench: dev
	$(BIN)/python bench/bench_routing.py
	$(BIN)/python bench/bench_health.py
	$(BIN)/python bench/bench_execute.py
	$(BIN)/python bench/bench_auth.py
	$(BIN)/python bench/bench_store.py

compare-litellm: dev  ## ours and LiteLLM's proxy side by side (installs it into .bench-venvs/litellm on first use)
	$(BIN)/python bench/compare_litellm.py

clean:
	rm -rf $(VENV) data .pytest_cache
