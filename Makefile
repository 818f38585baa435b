# Quick start: `make bench` (set up, then print the efficiency table) and `make test` (set up, then run the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup bench test benchmark clean

$(BIN)/hotpose: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $@

setup: $(BIN)/hotpose

bench: setup
	$(BIN)/hotpose bench

test: setup
	$(BIN)/python -m pytest tests

benchmark: setup
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf $(VENV) *.egg-info
