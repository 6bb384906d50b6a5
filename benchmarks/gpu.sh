#!/usr/bin/env bash
# GPU mode of the benchmark suite: the neurodyn cases (COBA-LIF 4k-256k, COBA-HH 4k/16k,
# COBA-LIF with procedural connectivity at 1M, event matvec, units, state, integrate) on a
# GPU machine without network access, in a few minutes.
#
#   bash benchmarks/gpu.sh --download   # here, with network (make bench-wheelhouse):
#                                       # jax[cuda12] + CUDA wheels, numpy, matplotlib
#                                       # into benchmarks/.wheels/
#   bash benchmarks/gpu.sh              # there, offline (make bench-gpu): a venv from the
#                                       # wheelhouse only, then `run.py --gpu`
#   bash benchmarks/gpu.sh --cpu-smoke  # here: the same cases at tiny sizes on the CPU,
#                                       # with the project's .venv (JAX_PLATFORMS=cpu)
#
# neurodyn itself is not installed: it runs from src/ (PYTHONPATH); its native kernels are
# CPU-only and optional. Results: benchmarks/results/<date>-<host>-gpu.{json,md,png}.
# Environment: PYTHON (interpreter for the venv, default python3), GPU_PYTHON_VERSION
# (the GPU machine's Python for --download, default this one's), JAX_VERSION (default
# the one in .venv), GPU_BENCH_TIMEOUT (seconds, default 900).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WHEELS=benchmarks/.wheels
ENV=benchmarks/.envs/gpu
PY=${PYTHON:-python3}

case "${1:-}" in
--download)
  pyver=${GPU_PYTHON_VERSION:-$($PY -c 'import sys; print("%d.%d" % sys.version_info[:2])')}
  jaxver=${JAX_VERSION:-$(.venv/bin/python -c 'import jax; print(jax.__version__)' 2>/dev/null || true)}
  mkdir -p "$WHEELS"
  plats=()
  for p in manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_27_x86_64 \
    manylinux_2_28_x86_64 manylinux_2_34_x86_64; do
    plats+=(--platform "$p")
  done
  $PY -m pip download --dest "$WHEELS" --only-binary=:all: --python-version "$pyver" \
    "${plats[@]}" "jax[cuda12]${jaxver:+==$jaxver}" "numpy>=1.26" matplotlib
  echo "python $pyver jax ${jaxver:-latest}" > "$WHEELS/.complete"
  du -sh "$WHEELS"
  echo "wheelhouse ready: copy the checkout (with $WHEELS) and run bash benchmarks/gpu.sh"
  ;;
--cpu-smoke)
  export JAX_PLATFORMS=cpu
  PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" \
    .venv/bin/python benchmarks/run.py --gpu --smoke
  ;;
"" | --run)
  if [ ! -f "$ENV/.installed" ]; then
    if [ ! -f "$WHEELS/.complete" ]; then
      echo "no wheelhouse in $WHEELS: run 'make bench-wheelhouse' on a machine with network" >&2
      exit 1
    fi
    $PY -m venv "$ENV"
    "$ENV/bin/python" -m pip install --quiet --no-index --find-links "$WHEELS" \
      "jax[cuda12]" numpy matplotlib
    touch "$ENV/.installed"
  fi
  "$ENV/bin/python" -c 'import jax; print("jax", jax.__version__, jax.devices())'
  # the opt-in Pallas scatter kernel: correctness against the reference, and timings
  PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" \
    timeout 300 "$ENV/bin/python" benchmarks/gpu_kernels.py || echo "gpu_kernels.py failed" >&2
  # scale-out (#21): the same networks on no mesh and on 1, 2, 4, 8 of the GPUs present;
  # spike digests must agree across device counts (tests/dyn/test_shard.py does it on CPU)
  mkdir -p benchmarks/results
  PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" \
    timeout 300 "$ENV/bin/python" tests/dyn/_shard_script.py 200 \
    > "benchmarks/results/$(date +%Y%m%d)-shard-gpu.txt" || echo "_shard_script.py failed" >&2
  PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" \
    timeout "${GPU_BENCH_TIMEOUT:-900}" "$ENV/bin/python" benchmarks/run.py --gpu
  ;;
*)
  echo "usage: bash benchmarks/gpu.sh [--download | --cpu-smoke | --run]" >&2
  exit 2
  ;;
esac
