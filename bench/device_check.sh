#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA GPU (about 5 minutes): installs cupy-cuda12x
# if missing, runs the CuPy equivalence tests of the vc1 kernels (unused neurons left out
# too) and of training, then the GPU benchmark at B = 1024 and 8192 next to the fused Numba
# kernel (all propagation paths, to tune sim/chip/kernel_cupy.GPU_EVENT_COST; and Numba
# with 320 of 1024 neurons used) and the training throughput.
#
#     bash bench/device_check.sh [python]      # run from anywhere; default python3
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
status=0

nvidia-smi -L || echo "nvidia-smi: no GPU listed"
if ! "$PY" -c "import cupy" 2>/dev/null; then
    echo "== installing cupy-cuda12x"
    "$PY" -m pip install -q "cupy-cuda12x>=13" || echo "could not install cupy-cuda12x (offline?)"
fi
"$PY" - <<'PY' || exit 1
import cupy, numba, numpy
from sim.backend import cupy_available
print(f"cupy {cupy.__version__}, numba {numba.__version__}, numpy {numpy.__version__}, "
      f"GPU visible: {cupy_available()}")
raise SystemExit(0 if cupy_available() else "CuPy sees no GPU: nothing to check")
PY

echo "== CuPy equivalence tests (the CPU ones run elsewhere)"
timeout 150 "$PY" -m pytest -q -x -k "cupy" tests/test_chip_equivalence.py || status=1
timeout 60 "$PY" -m pytest -q -x tests/test_training_gpu.py || status=1

echo "== GPU benchmark"
timeout 130 "$PY" bench/bench_chip.py --steps 200 --batches 1024,8192 --repeats 3 --budget 5 \
    --kernels numba,cupy,cupy-events,cupy-dense || status=1
timeout 60 "$PY" bench/bench_train.py --steps 200 --batch 256 || status=1
exit $status
