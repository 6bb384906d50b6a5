# Two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow lint bench clean native

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,plot]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/coba.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/lint-imports

test: lint
	$(PY) -m pytest -m "not slow" -q

test-slow: $(STAMP)
	$(PY) -m pytest -m slow -q

# Benchmarks against the anchors run in their own environment (.venv-bench).
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e ".[bench]"
	touch $(BENCH_VENV)/.installed

bench: $(BENCH_VENV)/.installed
	cd benchmarks && ../$(BENCH_VENV)/bin/python units.py
	cd benchmarks && ../$(BENCH_VENV)/bin/python state.py
	cd benchmarks && ../$(BENCH_VENV)/bin/python integrate.py
	cd benchmarks && ../$(BENCH_VENV)/bin/python event.py
	cd benchmarks && ../$(BENCH_VENV)/bin/python coba.py --n 4000

# Rebuild the native kernels in place after editing src/neurodyn/event/_native/kernels.cc
native: $(STAMP)
	$(PY) setup.py -q build_ext --inplace

clean:
	rm -rf $(VENV) $(BENCH_VENV) build dist src/*.egg-info .pytest_cache
