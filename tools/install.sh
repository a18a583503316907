#!/usr/bin/env bash
# One-command, idempotent install of mmstan and the pinned OpenMMLab stack.
#
#   bash tools/install.sh               # or: make install
#   bash tools/install.sh --print-plan  # print the mmcv build plan of this environment
#                                       # (build env, wheel cache key); installs nothing
#
# Installs into the active virtual environment ($VIRTUAL_ENV), or creates and
# uses .venv in the repository root when none is active.
#
# Environment overrides:
#   MMSTAN_TORCH       pip spec for torch/torchvision when torch is absent
#                      (default: "torch==2.14.1 torchvision==0.29.1")
#   MMSTAN_MMCV_CUDA   1: build mmcv's CUDA ops too (needs nvcc and a CUDA torch; for
#                      mmdet detectors on a GPU and mmaction2 models that use mmcv.ops);
#                      default 0: mmcv's CPU ops only, on every machine (mmstan's models
#                      need no mmcv CUDA op)
#   MMSTAN_WHEEL_CACHE where built mmcv wheels are looked for and cached, one folder per
#                      key mmcv-<ver>-torch<ver>-py<ver>-<cpu|cuXXX> (the ops built)
#                      (default: ~/.cache/mmstan/wheels)
#   MMSTAN_MMCV_JOBS   parallel compile jobs for mmcv (default: nproc)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TORCH_SPEC="${MMSTAN_TORCH:-torch==2.14.1 torchvision==0.29.1}"
WHEEL_CACHE="${MMSTAN_WHEEL_CACHE:-$HOME/.cache/mmstan/wheels}"
MMCV_CUDA="${MMSTAN_MMCV_CUDA:-0}"
MMCV_VERSION="2.1.0"
START=$(date +%s)

PRINT_PLAN=0
case "${1:-}" in
    "") ;;
    --print-plan) PRINT_PLAN=1 ;;
    -h | --help) sed -n '2,/^set -euo pipefail/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument '$1' (usage: bash tools/install.sh [--print-plan])" >&2; exit 2 ;;
esac
if [[ "$MMCV_CUDA" != 0 && "$MMCV_CUDA" != 1 ]]; then
    echo "error: MMSTAN_MMCV_CUDA must be 0 (mmcv CPU ops, the default) or 1 (CUDA ops too); got '$MMCV_CUDA'" >&2
    exit 2
fi

step() { echo "[mmstan install $(($(date +%s) - START))s] $*"; }

# The mmcv build plan: which ops to compile, with which environment, under which wheel key.
# mmcv 2.1.0's setup.py compiles CUDA ops when FORCE_CUDA=1 or torch.cuda.is_available()
# (or a ROCm torch) and has no switch to turn them off, so the CPU-ops build hides the GPUs
# from torch (CUDA_VISIBLE_DEVICES empty) while it runs. The key names the ops built, not
# torch's CUDA: a CPU-ops wheel built against a CUDA torch (torch 2.14.1's default wheel is
# cu130) is reused on any machine with the same torch and Python versions.
# Sets MMCV_OPS (cpu | cuXXX), MMCV_ENV (array of VAR=value), MMCV_KEY and KEY_DIR.
mmcv_plan() {
    local torch_ver py_ver torch_cuda
    if ! read -r torch_ver py_ver torch_cuda < <("$PY" -c "
import sys, torch
print(torch.__version__.split('+')[0], f'py{sys.version_info[0]}{sys.version_info[1]}',
      'cu' + torch.version.cuda.replace('.', '') if torch.version.cuda else 'none')" 2>/dev/null); then
        echo "error: cannot import torch with $PY; the mmcv build plan needs it" \
            "(bash tools/install.sh installs $TORCH_SPEC first)" >&2
        exit 1
    fi
    if [[ "$MMCV_CUDA" == 1 ]]; then
        if [[ "$torch_cuda" == none ]]; then
            echo "error: MMSTAN_MMCV_CUDA=1 needs a CUDA build of torch; $PY has torch" \
                "$torch_ver without CUDA (torch.version.cuda is None)" >&2
            exit 1
        fi
        MMCV_OPS="$torch_cuda"
        MMCV_ENV=(MMCV_WITH_OPS=1 FORCE_CUDA=1)
    else
        MMCV_OPS=cpu
        MMCV_ENV=(MMCV_WITH_OPS=1 FORCE_CUDA=0 CUDA_VISIBLE_DEVICES=)
    fi
    MMCV_ENV+=("MAX_JOBS=${MMSTAN_MMCV_JOBS:-$(nproc)}")
    MMCV_KEY="mmcv-$MMCV_VERSION-torch$torch_ver-$py_ver-$MMCV_OPS"
    KEY_DIR="$WHEEL_CACHE/$MMCV_KEY"
}

if [[ "$PRINT_PLAN" == 1 ]]; then
    if [[ -n "${VIRTUAL_ENV:-}" ]]; then
        PY="$VIRTUAL_ENV/bin/python"
    elif [[ -x "$ROOT/.venv/bin/python" ]]; then
        PY="$ROOT/.venv/bin/python"
    else
        echo "error: no environment to plan for: activate one, or run bash tools/install.sh first" >&2
        exit 1
    fi
    mmcv_plan
    echo "PYTHON=$PY"
    echo "MMCV_OPS=$MMCV_OPS"
    echo "MMCV_BUILD_ENV=${MMCV_ENV[*]}"
    echo "MMCV_WHEEL_KEY=$MMCV_KEY"
    echo "MMCV_WHEEL_DIR=$KEY_DIR"
    exit 0
fi

# 1. Python environment --------------------------------------------------------
if [[ -n "${VIRTUAL_ENV:-}" ]]; then
    PY="$VIRTUAL_ENV/bin/python"
    step "using the active virtual environment $VIRTUAL_ENV"
else
    if [[ ! -x "$ROOT/.venv/bin/python" ]]; then
        step "creating virtual environment $ROOT/.venv"
        python3 -m venv "$ROOT/.venv"
    fi
    PY="$ROOT/.venv/bin/python"
    step "using virtual environment $ROOT/.venv"
fi
PIP=("$PY" -m pip --disable-pip-version-check)
has() { "$PY" -c "$1" >/dev/null 2>&1; }
if ! has "import sys; assert sys.version_info >= (3, 10)"; then
    echo "error: mmstan needs Python >= 3.10 (torch 2.14 requires it); $PY is Python" \
        "$("$PY" -c 'import platform; print(platform.python_version())')" >&2
    exit 1
fi

# Fast path: nothing changed since the last successful install into this environment.
STAMP_FILE="$("$PY" -c 'import sys; print(sys.prefix)')/.mmstan-install-stamp"
STAMP=$( (cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/tools/install.sh"
          echo "MMSTAN_MMCV_CUDA=$MMCV_CUDA") | sha256sum | cut -c1-16)
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$STAMP" ]] \
    && has "import mmstan, mmaction.models, mmdet.models, mmcv.ops"; then
    step "environment up to date (requirements unchanged since the last install)"
    exit 0
fi

# 2. torch -----------------------------------------------------------------------
if has "import torch, torchvision"; then
    step "torch present: $("$PY" -c 'import torch; print(torch.__version__)')"
else
    step "installing $TORCH_SPEC (override with MMSTAN_TORCH=...)"
    # shellcheck disable=SC2086
    "${PIP[@]}" install $TORCH_SPEC
fi

# 3. build requirements -----------------------------------------------------------
step "installing build requirements (requirements/build.txt)"
"${PIP[@]}" install -q -r "$ROOT/requirements/build.txt"

# 4. mmcv with compiled ops, built once per (mmcv, torch, python, ops) ----------------
# "cpu" if mmcv's compiled ops have no CUDA, "cuda" if they have, "" if mmcv 2.1.0 with ops is absent.
installed_mmcv_ops() {
    "$PY" -c "
import mmcv
assert mmcv.__version__ == '$MMCV_VERSION'
from mmcv.ops import RoIAlign, get_compiling_cuda_version
print('cpu' if get_compiling_cuda_version() == 'not available' else 'cuda')" 2>/dev/null || true
}
mmcv_plan
INSTALLED_OPS=$(installed_mmcv_ops)
if [[ "$INSTALLED_OPS" == cuda || ("$INSTALLED_OPS" == cpu && "$MMCV_OPS" == cpu) ]]; then
    step "mmcv $MMCV_VERSION with compiled $INSTALLED_OPS ops present"
else
    if [[ "$INSTALLED_OPS" == cpu ]]; then
        step "mmcv $MMCV_VERSION has CPU ops only; MMSTAN_MMCV_CUDA=1 asks for its CUDA ops"
    fi
    WHEEL=$(ls "$KEY_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)
    if [[ -z "$WHEEL" ]]; then
        if [[ "$MMCV_OPS" == cpu ]]; then
            step "no cached mmcv wheel in $KEY_DIR: building mmcv $MMCV_VERSION with CPU ops" \
                "(MMSTAN_MMCV_CUDA=1 for its CUDA ops)"
            step "(this compiles ~77 C++ files: about 10-20 minutes on 2 cores; once per machine)"
        else
            step "no cached mmcv wheel in $KEY_DIR: building mmcv $MMCV_VERSION with CPU and" \
                "$MMCV_OPS ops (nvcc; much longer than the CPU ops alone)"
        fi
        step "mmcv build environment: ${MMCV_ENV[*]}"
        BUILD_DIR=$(mktemp -d)
        trap 'rm -rf "$BUILD_DIR"' EXIT
        "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
            -d "$BUILD_DIR" "mmcv==$MMCV_VERSION"
        tar -xzf "$BUILD_DIR"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD_DIR"
        SRC="$BUILD_DIR/mmcv-$MMCV_VERSION"
        # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes -std=c++17.
        sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
        mkdir -p "$KEY_DIR"
        env "${MMCV_ENV[@]}" "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$BUILD_DIR/dist" "$SRC"
        mv "$BUILD_DIR"/dist/mmcv-*.whl "$KEY_DIR"/
        WHEEL=$(ls "$KEY_DIR"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)
        step "cached $WHEEL"
    else
        step "using cached mmcv wheel $WHEEL"
    fi
    "${PIP[@]}" install --no-deps --force-reinstall "$WHEEL"
    NEW_WHEEL="$WHEEL"  # checked once mmcv can be imported (it needs mmengine, step 5)
fi

# 5. OpenMMLab + runtime + test requirements --------------------------------------
# The chat extra (transformers, for mmstan/chat and demo/demo_video_chat.py) comes with the
# developer install so that its tests run; a user install needs it only for video chat.
step "installing OpenMMLab stack, runtime, test and chat requirements"
"${PIP[@]}" install -q -r "$ROOT/requirements/mminstall.txt" \
    -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
    -r "$ROOT/requirements/chat.txt"
if [[ -n "${NEW_WHEEL:-}" ]]; then
    # The wheel must hold the ops its key names (mmcv decides at build time).
    INSTALLED_OPS=$(installed_mmcv_ops)
    if [[ "$INSTALLED_OPS" != "$([[ "$MMCV_OPS" == cpu ]] && echo cpu || echo cuda)" ]]; then
        rm -f "$NEW_WHEEL"
        echo "error: $NEW_WHEEL has ${INSTALLED_OPS:-no} compiled ops, not the $MMCV_OPS ops" \
            "its cache key names; removed it from the cache" >&2
        exit 1
    fi
    step "mmcv $MMCV_VERSION: compiled $INSTALLED_OPS ops, as the wheel's cache key names"
fi

# 6. mmstan itself (editable) ------------------------------------------------------
step "installing mmstan (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

step "checking the stack"
"$PY" -c "import mmstan, mmaction.models, mmdet.models, mmcv.ops; print('mmstan', mmstan.__version__, 'ready')"
step "mmcv $MMCV_VERSION ops: $(installed_mmcv_ops)"
echo "$STAMP" > "$STAMP_FILE"
step "done; activate with: source ${VIRTUAL_ENV:-$ROOT/.venv}/bin/activate"
