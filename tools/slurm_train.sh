#!/usr/bin/env bash
# Slurm training: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args]
# Without WORK_DIR (or with train.py args right after CONFIG), train.py's default work dir:
# work_dirs/<path under configs/>, e.g. work_dirs/stan/k400 (one per config file).
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
if [[ $# -ge 4 && "$4" != -* ]]; then
    WORK_DIR_ARGS=("--work-dir=$4")
    PY_ARGS=("${@:5}")
else
    WORK_DIR_ARGS=()
    PY_ARGS=("${@:4}")
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    python -u "$(dirname "$0")/train.py" "${CONFIG}" "${WORK_DIR_ARGS[@]}" --launcher="slurm" "${PY_ARGS[@]}"
