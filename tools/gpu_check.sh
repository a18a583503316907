#!/usr/bin/env bash
# The device check: one command, from a clone, on a fresh GPU machine.
#
#   bash tools/gpu_check.sh               # driver/CUDA check, make install, CUDA tests, benchmark table
#   bash tools/gpu_check.sh --cpu-smoke   # the same tests and benchmark code on the CPU with a tiny
#                                         # model, no nvidia-smi, no install (under a minute)
#   bash tools/gpu_check.sh --driver-only # step 1 alone: does the driver fit the torch build?
#
# Steps (the full check; about 12 minutes on a 16-core machine with a cached mmcv wheel):
#   1. nvidia-smi: GPU, driver and the CUDA version the driver supports, checked against
#      the torch build (cu130 needs driver r580+); a misfit is said plainly, and stops the
#      check before the install unless MMSTAN_TORCH names another torch build.
#   2. make install (tools/install.sh): torch, mmcv (its CPU ops; mmstan's models need no
#      mmcv CUDA op), mmaction2, mmstan; an mmcv wheel cached under $MMSTAN_WHEEL_CACHE is
#      reused instead of compiling.
#   3. torch's view: version, CUDA build, device, native bf16; the driver check again.
#   4. pytest -m cuda tests/cuda: the CUDA tests (skipped, with their reason, without CUDA).
#   5. tools/analysis/gpu_benchmark.py: the table (markdown here, JSON into the out dir).
#
# Environment:
#   MMSTAN_WHEEL_CACHE     where install.sh looks for / keeps built mmcv wheels (passed on)
#   MMSTAN_TORCH           torch pip spec for install.sh (passed on; so is MMSTAN_MMCV_CUDA)
#   MMSTAN_GPU_CHECK_OUT   where the JSON and logs go (default: work_dirs/gpu_check)
#   PYTHON                 interpreter for --cpu-smoke (default: the active venv, else .venv)
# Exit status: 0 all passed; 2 no usable GPU/driver; 3 install failed; 4 tests failed;
# 5 benchmark failed.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SMOKE=0
DRIVER_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --cpu-smoke) SMOKE=1 ;;
        --driver-only) DRIVER_ONLY=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "error: unknown argument $arg (usage: tools/gpu_check.sh [--cpu-smoke | --driver-only])" >&2; exit 1 ;;
    esac
done
OUT="${MMSTAN_GPU_CHECK_OUT:-$ROOT/work_dirs/gpu_check}"
mkdir -p "$OUT"
START=$(date +%s)
section() { echo; echo "=== [gpu_check $(($(date +%s) - START))s] $*"; }
venv_python() {
    if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"
    elif [[ -n "${VIRTUAL_ENV:-}" ]]; then echo "$VIRTUAL_ENV/bin/python"
    else echo "$ROOT/.venv/bin/python"; fi
}

# The lowest driver branch for a CUDA major.minor (NVIDIA's CUDA toolkit release notes,
# "CUDA Toolkit and Corresponding Driver Versions"; within a major version, minor-version
# compatibility lets an older driver of that major run it, with PTX JIT limits).
min_driver_for_cuda() {
    case "$1" in
        13.*) echo 580 ;;
        12.9) echo 575 ;; 12.8) echo 570 ;; 12.6) echo 560 ;; 12.4) echo 550 ;;
        12.*) echo 525 ;;
        11.8) echo 520 ;; 11.*) echo 450 ;;
        *) echo 0 ;;
    esac
}

# check_fit TORCH_CUDA: compare the torch build's CUDA with the driver; 0 fits, 1 does not.
check_fit() {
    local torch_cuda="$1" need major
    need=$(min_driver_for_cuda "$torch_cuda")
    major="${DRIVER%%.*}"
    if [[ -z "$major" || "$need" == 0 ]]; then return 0; fi
    if (( major >= need )); then
        echo "driver $DRIVER fits a torch built for CUDA $torch_cuda (needs r$need+)"
        return 0
    fi
    echo "MISFIT: driver $DRIVER (supports CUDA up to $DRIVER_CUDA) is older than the r$need+ a torch" \
         "built for CUDA $torch_cuda (cu${torch_cuda/./}) needs: torch will not see the GPU." \
         "Update the NVIDIA driver to r$need+, or install a torch built for CUDA <= $DRIVER_CUDA" \
         "(set MMSTAN_TORCH to that build's pip spec before make install)."
    return 1
}

if (( SMOKE )); then
    section "CPU smoke run: no nvidia-smi, no install; the same tests and benchmark code, tiny model"
    PY="$(venv_python)"
else
    # 1. driver ---------------------------------------------------------------------------
    section "1. NVIDIA driver"
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        echo "error: nvidia-smi not found: no NVIDIA driver on this machine" >&2
        exit 2
    fi
    if ! nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv; then
        echo "error: nvidia-smi cannot talk to the driver" >&2
        exit 2
    fi
    DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1 | tr -d ' ')
    DRIVER_CUDA=$(nvidia-smi | grep -oE 'CUDA Version: *[0-9]+\.[0-9]+' | grep -oE '[0-9]+\.[0-9]+' | head -n1)
    echo "driver $DRIVER; the driver supports CUDA up to ${DRIVER_CUDA:-?}"
    PY="$(venv_python)"
    if [[ -x "$PY" ]] && "$PY" -c "import torch" >/dev/null 2>&1; then
        TORCH_CUDA=$("$PY" -c "import torch; print(torch.version.cuda or '')")
        echo "torch already installed: $("$PY" -c 'import torch; print(torch.__version__)'), CUDA ${TORCH_CUDA:-none}"
        FIT=0
        if [[ -n "$TORCH_CUDA" ]]; then check_fit "$TORCH_CUDA" || FIT=1; fi
    else
        echo "torch not installed yet: make install installs ${MMSTAN_TORCH:-the default torch of tools/install.sh}" \
             "(torch 2.14's default builds are for CUDA 13.0, cu130, which needs driver r580+);" \
             "checked against the driver after the install"
        FIT=0
        check_fit 13.0 || { FIT=1; echo "(expect the same MISFIT after the install unless MMSTAN_TORCH picks an older CUDA)"; }
    fi
    if (( DRIVER_ONLY )); then
        exit $(( FIT ? 2 : 0 ))
    fi
    if (( FIT )) && [[ -n "${TORCH_CUDA:-}" || -z "${MMSTAN_TORCH:-}" ]]; then
        echo "error: stopping before the install: the torch it would use cannot run on this driver" >&2
        exit 2
    fi

    # 2. install ------------------------------------------------------------------------------
    section "2. make install (MMSTAN_WHEEL_CACHE=${MMSTAN_WHEEL_CACHE:-unset: ~/.cache/mmstan/wheels})"
    [[ -n "${MMSTAN_WHEEL_CACHE:-}" ]] && export MMSTAN_WHEEL_CACHE
    [[ -n "${MMSTAN_TORCH:-}" ]] && export MMSTAN_TORCH
    if command -v make >/dev/null 2>&1; then
        (cd "$ROOT" && make install) 2>&1 | tee "$OUT/install.log"
    else
        bash "$ROOT/tools/install.sh" 2>&1 | tee "$OUT/install.log"
    fi
    INSTALL_RC=${PIPESTATUS[0]}
    if (( INSTALL_RC != 0 )); then
        echo "error: the install failed (log: $OUT/install.log)" >&2
        exit 3
    fi
    PY="$(venv_python)"
fi

# 3. torch's view ------------------------------------------------------------------------------
section "3. torch"
if ! "$PY" - <<'EOF'
import sys
import torch
print(f'python {sys.version.split()[0]}, torch {torch.__version__}, built for CUDA {torch.version.cuda}')
if torch.cuda.is_available():
    from mmstan.engine.amp import cuda_has_bf16
    cap = '.'.join(map(str, torch.cuda.get_device_capability(0)))
    nccl = torch.cuda.nccl.version() if torch.distributed.is_nccl_available() else 'none'
    nccl = '.'.join(map(str, nccl)) if isinstance(nccl, tuple) else nccl
    print(f'device {torch.cuda.get_device_name(0)}, compute capability {cap}, '
          f'{torch.cuda.device_count()} visible, native bf16: {cuda_has_bf16()}, '
          f'cuDNN {torch.backends.cudnn.version()}, NCCL {nccl}')
else:
    print('torch.cuda.is_available(): False')
EOF
then
    echo "error: $PY cannot import torch" >&2
    exit 3
fi
if (( ! SMOKE )); then
    TORCH_CUDA=$("$PY" -c "import torch; print(torch.version.cuda or '')")
    if [[ -z "$TORCH_CUDA" ]]; then
        echo "error: the installed torch is a CPU-only build; install a CUDA build (MMSTAN_TORCH)" >&2
        exit 2
    fi
    FIT=0
    check_fit "$TORCH_CUDA" || FIT=1
    if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
        echo "error: torch (CUDA $TORCH_CUDA) does not see a GPU with driver $DRIVER" \
             "$( ((FIT)) && echo '(the MISFIT above)' || echo '(driver and build fit: check CUDA_VISIBLE_DEVICES and the device nodes)')" >&2
        exit 2
    fi
fi

# 4. CUDA tests --------------------------------------------------------------------------------
section "4. CUDA tests: pytest -m cuda tests/cuda"
(cd "$ROOT" && "$PY" -m pytest -m cuda tests/cuda -v -rs -p no:cacheprovider) 2>&1 | tee "$OUT/cuda_tests.log"
TESTS_RC=${PIPESTATUS[0]}

# 5. benchmark ---------------------------------------------------------------------------------
section "5. benchmark: tools/analysis/gpu_benchmark.py"
BENCH_ARGS=(--json "$OUT/gpu_benchmark.json")
(( SMOKE )) && BENCH_ARGS=(--cpu-smoke "${BENCH_ARGS[@]}")
(cd "$ROOT" && "$PY" tools/analysis/gpu_benchmark.py "${BENCH_ARGS[@]}") 2> "$OUT/gpu_benchmark.err"
BENCH_RC=$?
if (( BENCH_RC != 0 )); then tail -n 30 "$OUT/gpu_benchmark.err" >&2; fi

section "done in $(($(date +%s) - START)) s: CUDA tests exit $TESTS_RC, benchmark exit $BENCH_RC (JSON and logs in $OUT)"
if (( TESTS_RC != 0 )); then exit 4; fi
if (( BENCH_RC != 0 )); then exit 5; fi
exit 0
