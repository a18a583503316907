"""tools/gpu_check.sh, the device check, in its CPU smoke mode: the same CUDA test
collection and benchmark code as on a GPU, so neither can rot unnoticed."""
import json
import os
import os.path as osp
import subprocess
import sys
import time

import pytest

from conftest import ROOT, load_script

SCRIPT = osp.join(ROOT, 'tools', 'gpu_check.sh')


def test_help_and_syntax():
    assert subprocess.run(['bash', '-n', SCRIPT]).returncode == 0
    proc = subprocess.run(['bash', SCRIPT, '--help'], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and '--cpu-smoke' in proc.stdout and 'MMSTAN_WHEEL_CACHE' in proc.stdout
    proc = subprocess.run(['bash', SCRIPT, '--bogus'], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and 'unknown argument' in proc.stderr


@pytest.mark.slow
def test_cpu_smoke_run(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, MMSTAN_GPU_CHECK_OUT=str(tmp_path))
    start = time.perf_counter()
    proc = subprocess.run(['bash', SCRIPT, '--cpu-smoke'], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert 'no nvidia-smi, no install' in out and 'make install' not in out
    # the CUDA tests are collected, and skipped with their reason
    assert 'collected 5 items' in out and 'needs a CUDA device' in out and ' passed' not in out
    assert '| model | frames x px |' in out and '### STAN over CLIP mean pooling' in out
    result = json.load(open(tmp_path / 'gpu_benchmark.json'))
    rows = result['rows']
    assert {(r['kind'], r['dtype'], r['grad_checkpointing']) for r in rows} == {
        (kind, dtype, ckpt) for kind in ('STAN', 'mean pooling') for dtype in ('fp32', 'bf16')
        for ckpt in (False, True)}
    for row in rows + [result['large']]:
        assert row['status'] == 'ok' and row['clips_per_s'] > 0 and row['mfu'] is None, row
        assert sum(row['sdpa']['ops'].values()) > 0, row  # the attention went through SDPA
    assert result['large']['frames'] == 16 and result['large']['batch'] == 1
    stan = next(r for r in rows if r['kind'] == 'STAN')
    base = next(r for r in rows if r['kind'] == 'mean pooling')
    assert stan['gmacs_per_clip'] > base['gmacs_per_clip']
    assert all(o['flops_ratio'] > 1 and o['time_ratio'] > 0 for o in result['overhead'])
    print(f'gpu_check.sh --cpu-smoke: {seconds:.0f} s')


def fake_nvidia_smi(tmp_path, driver: str, cuda: str) -> dict:
    """PATH with an ``nvidia-smi`` that reports one H200 on ``driver`` (CUDA ``cuda``)."""
    fake = tmp_path / 'bin' / 'nvidia-smi'
    fake.parent.mkdir()
    fake.write_text(f'''#!/bin/sh
case "$*" in
  *driver_version*noheader*) echo "{driver}" ;;
  *--query-gpu*) echo "index, name, driver_version, memory.total [MiB], compute_cap"
                 echo "0, NVIDIA H200, {driver}, 143771 MiB, 9.0" ;;
  *) echo "| NVIDIA-SMI {driver}    Driver Version: {driver}    CUDA Version: {cuda}  |" ;;
esac
''')
    fake.chmod(0o755)
    return dict(os.environ, PATH=f'{fake.parent}{os.pathsep}{os.environ["PATH"]}', PYTHON=sys.executable,
                MMSTAN_GPU_CHECK_OUT=str(tmp_path / 'out'))


@pytest.mark.parametrize('driver,cuda,fits', [('570.86.15', '12.8', False), ('580.65.06', '13.0', True)])
def test_driver_check(tmp_path, driver, cuda, fits):
    """Step 1 says plainly when the driver is too old for the torch build (this venv's
    torch, built for CUDA 13.0 here, needs r580+)."""
    import torch

    if torch.version.cuda is None or not torch.version.cuda.startswith('13.'):
        pytest.skip(f'this torch is built for CUDA {torch.version.cuda}, the cases assume 13.x')
    proc = subprocess.run(['bash', SCRIPT, '--driver-only'], cwd=ROOT,
                          env=fake_nvidia_smi(tmp_path, driver, cuda), capture_output=True, text=True,
                          timeout=120)
    out = proc.stdout
    assert f'driver {driver}; the driver supports CUDA up to {cuda}' in out, out
    assert 'NVIDIA H200' in out
    if fits:
        assert proc.returncode == 0 and 'fits a torch built for CUDA 13.0 (needs r580+)' in out, out
    else:
        assert proc.returncode == 2, out + proc.stderr
        assert 'MISFIT: driver 570.86.15 (supports CUDA up to 12.8) is older than the r580+' in out, out
    assert '2. make install' not in out  # stopped after step 1


def test_known_bf16_peaks_and_attention_kernels():
    tool = load_script('tools/analysis/gpu_benchmark.py')
    attention_kernel_family, bf16_peak = tool.attention_kernel_family, tool.bf16_peak
    sdpa_backend_of_op = tool.sdpa_backend_of_op

    assert bf16_peak('NVIDIA H200') == ('H200 SXM', 989.4)
    assert bf16_peak('NVIDIA H100 80GB HBM3') == ('H100 SXM', 989.4)
    assert bf16_peak('NVIDIA A100-SXM4-80GB')[1] == bf16_peak('NVIDIA A100-PCIE-40GB')[1] == 312.0
    assert bf16_peak('NVIDIA L40S') == ('L40S', 362.05)
    assert bf16_peak('NVIDIA GeForce RTX 4090') == ('GeForce RTX 4090', 165.2)
    for unknown in ('NVIDIA H100 PCIe', 'NVIDIA H200 NVL', 'NVIDIA GeForce RTX 4090 D',
                    'Tesla V100-SXM2-32GB'):
        assert bf16_peak(unknown) is None, unknown
    assert sdpa_backend_of_op('aten::_scaled_dot_product_flash_attention') == 'flash'
    assert sdpa_backend_of_op('aten::_scaled_dot_product_efficient_attention') == 'efficient'
    assert sdpa_backend_of_op('aten::_scaled_dot_product_cudnn_attention') == 'cudnn'
    assert sdpa_backend_of_op('aten::_scaled_dot_product_attention_math') == 'math'
    assert sdpa_backend_of_op('aten::_scaled_dot_product_flash_attention_backward') is None
    assert attention_kernel_family('void pytorch_flash::flash_fwd_kernel<Flash_fwd_traits<64>>') == 'flash'
    assert attention_kernel_family('fmha_cutlassF_bf16_aligned_64x64_rf_sm80(PyTorchMemEffAttention::'
                                   'AttentionKernel<...>::Params)') == 'efficient'
    assert attention_kernel_family('cudnn_generated_fort_native_sdpa_sm90_flash_fprop_wgmma_f16') == 'cudnn'
    assert attention_kernel_family('sm90_xmma_gemm_bf16bf16_bf16f32') is None
