# Quick start: `make demo` (set up, then lift the built-in sample to 3D and render it) and `make test` (set up, then
# run the tests). `make bench` prints the efficiency table of the paper's models.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo bench test benchmark clean

$(BIN)/hotpose: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $@

setup: $(BIN)/hotpose

demo: setup
	$(BIN)/hotpose demo

bench: setup
	$(BIN)/hotpose bench

test: setup
	$(BIN)/python -m pytest tests

benchmark: setup
	$(BIN)/python benchmarks/speed.py

clean:
	rm -rf $(VENV) *.egg-info
