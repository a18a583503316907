#!/usr/bin/env bash
# One-command, idempotent install of mmstan and the pinned OpenMMLab stack.
#
#   bash tools/install.sh            # or: make install
#
# Installs into the active virtual environment ($VIRTUAL_ENV), or creates and
# uses .venv in the repository root when none is active.
#
# Environment overrides:
#   MMSTAN_TORCH       pip spec for torch/torchvision when torch is absent
#                      (default: "torch==2.14.1 torchvision==0.29.1")
#   MMSTAN_WHEEL_CACHE where built mmcv wheels are cached
#                      (default: ~/.cache/mmstan/wheels)
#   MMSTAN_MMCV_JOBS   parallel compile jobs for mmcv (default: nproc)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TORCH_SPEC="${MMSTAN_TORCH:-torch==2.14.1 torchvision==0.29.1}"
WHEEL_CACHE="${MMSTAN_WHEEL_CACHE:-$HOME/.cache/mmstan/wheels}"
MMCV_VERSION="2.1.0"
START=$(date +%s)

step() { echo "[mmstan install $(($(date +%s) - START))s] $*"; }

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
STAMP=$(cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" "$ROOT/tools/install.sh" | sha256sum | cut -c1-16)
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

# 4. mmcv with compiled ops, built once per (mmcv, torch, python, device) --------
if has "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'; from mmcv.ops import RoIAlign"; then
    step "mmcv $MMCV_VERSION with compiled ops present"
else
    read -r TORCH_VER PY_VER DEVICE < <("$PY" -c "
import sys, torch
dev = ('cu' + torch.version.cuda.replace('.', '')) if torch.cuda.is_available() and torch.version.cuda else 'cpu'
print(torch.__version__.split('+')[0], f'py{sys.version_info[0]}{sys.version_info[1]}', dev)")
    KEY_DIR="$WHEEL_CACHE/mmcv-$MMCV_VERSION-torch$TORCH_VER-$PY_VER-$DEVICE"
    WHEEL=$(ls "$KEY_DIR"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)
    if [[ -z "$WHEEL" ]]; then
        step "no cached mmcv wheel in $KEY_DIR: building mmcv $MMCV_VERSION with $DEVICE ops"
        step "(this compiles ~77 C++ files: about 15-20 minutes on 2 cores; it happens once per machine)"
        BUILD_DIR=$(mktemp -d)
        trap 'rm -rf "$BUILD_DIR"' EXIT
        "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation \
            -d "$BUILD_DIR" "mmcv==$MMCV_VERSION"
        tar -xzf "$BUILD_DIR"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD_DIR"
        SRC="$BUILD_DIR/mmcv-$MMCV_VERSION"
        # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes -std=c++17.
        sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
        export MMCV_WITH_OPS=1
        export MAX_JOBS="${MMSTAN_MMCV_JOBS:-$(nproc)}"
        if [[ "$DEVICE" != cpu ]]; then export FORCE_CUDA=1; fi
        mkdir -p "$KEY_DIR"
        "${PIP[@]}" wheel --no-build-isolation --no-deps -w "$BUILD_DIR/dist" "$SRC"
        mv "$BUILD_DIR"/dist/mmcv-*.whl "$KEY_DIR"/
        WHEEL=$(ls "$KEY_DIR"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)
        step "cached $WHEEL"
    else
        step "using cached mmcv wheel $WHEEL"
    fi
    "${PIP[@]}" install --no-deps --force-reinstall "$WHEEL"
fi

# 5. OpenMMLab + runtime + test requirements --------------------------------------
step "installing OpenMMLab stack, runtime and test requirements"
"${PIP[@]}" install -q -r "$ROOT/requirements/mminstall.txt" \
    -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"

# 6. mmstan itself (editable) ------------------------------------------------------
step "installing mmstan (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

step "checking the stack"
"$PY" -c "import mmstan, mmaction.models, mmdet.models, mmcv.ops; print('mmstan', mmstan.__version__, 'ready')"
echo "$STAMP" > "$STAMP_FILE"
step "done; activate with: source ${VIRTUAL_ENV:-$ROOT/.venv}/bin/activate"
