# Two commands on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: demo test test-slow lint bench clean native docs native-sanitize

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,plot]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/coba.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples docs
	$(VENV)/bin/ruff format --check src tests benchmarks examples docs
	$(VENV)/bin/lint-imports

# two test processes (pytest-xdist): the suite is mostly single-threaded compiles and
# small runs, so the 2-core machine finishes it in about 3 min instead of 5
test: lint
	$(PY) -m pytest -m "not slow" -q -n 2

# (with the docs extra: the slow docs test builds a small site with faults injected)
test-slow: $(STAMP) $(DOCS_STAMP)
	$(PY) -m pytest -m slow -q -n 2

# The documentation site (docs/conf.py says what each step checks). The docs extra is installed
# from its list (docs/_requirements.py), without reinstalling neurodyn. Each step fails on
# its own kind of fault: a warning or broken reference (nitpicky -W), a failing tutorial
# cell or gallery number, a failing doctest, a broken internal link, an undocumented name.
SPHINX     := $(VENV)/bin/sphinx-build -W --keep-going -n -j auto -d docs/_build/doctrees

$(DOCS_STAMP): $(STAMP) pyproject.toml docs/_requirements.py
	$(PY) docs/_requirements.py docs > $(VENV)/docs-requirements.txt
	$(PY) -m pip install --quiet -r $(VENV)/docs-requirements.txt
	touch $@

docs: $(DOCS_STAMP)
	$(SPHINX) -b html docs docs/_build/html
	$(SPHINX) -b doctest docs docs/_build/doctest
	$(PY) docs/_check_links.py --html docs/_build/html
	$(PY) docs/_check_coverage.py --built docs/_build/html

# Benchmarks (benchmarks/README.md): neurodyn runs from $(VENV); each anchor from its own
# venv under benchmarks/.envs/, so their pins never touch ours. bench-setup is idempotent
# (stamp files); an anchor whose install fails is skipped by the runner, with the reason.
ENVS      := benchmarks/.envs
BENCH_PY  := $(PY) benchmarks/run.py
PIP_Q     := -m pip install --quiet --disable-pip-version-check

.PHONY: bench bench-full bench-setup bench-gpu bench-wheelhouse

# BrainPy 2.x + brainevent + numba + brainunit + brainstate, with neurodyn (editable) so
# the in-process microbenchmarks (units, state, event, integrate) can time both sides.
$(ENVS)/anchors/.installed: pyproject.toml
	$(PYTHON) -m venv $(ENVS)/anchors
	$(ENVS)/anchors/bin/python $(PIP_Q) --upgrade pip
	$(ENVS)/anchors/bin/python $(PIP_Q) -e ".[bench]"
	touch $@

# Brian2 2.9 needs numpy < 2.4; Cython for its runtime mode (a C++ compiler is needed
# too). An existing benchmarks/envs/brian2 (the old location) is reused.
$(ENVS)/brian2/.installed:
	mkdir -p $(ENVS)
	if [ -x benchmarks/envs/brian2/bin/python ] && [ ! -e $(ENVS)/brian2 ]; then \
	  ln -s ../envs/brian2 $(ENVS)/brian2; \
	else \
	  $(PYTHON) -m venv $(ENVS)/brian2 && \
	  $(ENVS)/brian2/bin/python $(PIP_Q) "brian2==2.9.*" "numpy<2.4" cython; \
	fi
	touch $@

# NEST from PyPI (nest-simulator, a manylinux wheel for CPython 3.11 x86_64). Optional:
# a failed install leaves a .failed note and the NEST rows are skipped.
$(ENVS)/nest/.installed:
	mkdir -p $(ENVS)
	( $(PYTHON) -m venv $(ENVS)/nest && \
	  $(ENVS)/nest/bin/python $(PIP_Q) nest-simulator && \
	  $(ENVS)/nest/bin/python -c "import nest" >/dev/null 2>&1 && rm -f $(ENVS)/nest.failed ) \
	  || echo "pip install nest-simulator failed" > $(ENVS)/nest.failed
	touch $@

bench-setup: $(STAMP) $(ENVS)/anchors/.installed $(ENVS)/brian2/.installed $(ENVS)/nest/.installed

# quick (<= 10 min on a 2-core CPU): units, state, small event sweep, COBA-LIF 4k, COBA-HH 4k
bench: bench-setup
	$(BENCH_PY) --quick

# all cases: COBA-LIF 4k-256k, COBA-HH 4k/16k, 1M procedural, full event sweep, ...
bench-full: bench-setup
	$(BENCH_PY) --full

# GPU mode: wheels for an offline GPU machine, then `bash benchmarks/gpu.sh` there
bench-wheelhouse:
	bash benchmarks/gpu.sh --download

bench-gpu:
	bash benchmarks/gpu.sh

# NEURON 9 for the dendrite references and benchmark (its own venv)
$(ENVS)/neuron/.installed:
	mkdir -p $(ENVS)
	$(PYTHON) -m venv $(ENVS)/neuron
	$(ENVS)/neuron/bin/python $(PIP_Q) neuron numpy
	touch $@

.PHONY: bench-dendrite neuron-references
neuron-references: $(ENVS)/neuron/.installed
	$(ENVS)/neuron/bin/python tests/reference/generate_neuron_dendrite.py
	$(ENVS)/neuron/bin/python tests/reference/generate_neuron_dendrite_synapses.py

bench-dendrite: $(STAMP) $(ENVS)/neuron/.installed
	$(PY) benchmarks/dendrite.py

# Rebuild the native kernels in place after editing src/neurodyn/event/_native/*.cc
native: $(STAMP)
	$(PY) -m pip install --quiet --no-deps -e .

# Build the native event kernels with -fsanitize=thread and, separately, with
# -fsanitize=address,undefined (in a temporary directory: the installed library is left
# alone) and run a driver through every kernel family, the threaded paths with a real
# helper thread (src/neurodyn/event/_native/sanitize_driver.cc). Fails on any report.
NATIVE_DIR := src/neurodyn/event/_native
NATIVE_SAN_SRC := $(addprefix $(NATIVE_DIR)/,sanitize_driver.cc rows.cc jitconn.cc update.cc record.cc)
native-sanitize: $(STAMP)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	inc=$$($(PY) -c "import jax; print(jax.ffi.include_dir())"); \
	for san in thread address,undefined; do \
	  echo "native-sanitize: building with -fsanitize=$$san"; \
	  $(CXX) -std=c++17 -O1 -g -fno-omit-frame-pointer -ffp-contract=off -Wno-attributes \
	    -fsanitize=$$san -fno-sanitize-recover=all -I"$$inc" -I$(NATIVE_DIR) \
	    $(NATIVE_SAN_SRC) -o "$$tmp/driver" -lpthread; \
	  echo "native-sanitize: running with -fsanitize=$$san"; \
	  TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
	  ASAN_OPTIONS="halt_on_error=1 detect_leaks=1" \
	  UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" "$$tmp/driver"; \
	done; echo "native-sanitize: no sanitizer report"

clean:
	rm -rf $(VENV) $(ENVS) build dist src/*.egg-info .pytest_cache
