"""tools/install.sh's mmcv build decisions, from ``--print-plan`` (builds and installs
nothing): CPU ops by default on every machine, CUDA ops with MMSTAN_MMCV_CUDA=1, and a
wheel cache key that names the ops built, not torch's CUDA."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import ROOT

INSTALL = osp.join(ROOT, 'tools', 'install.sh')
PY = f'py{sys.version_info[0]}{sys.version_info[1]}'


def fake_env(tmp_path, torch_version: str, cuda) -> str:
    """A virtualenv whose python is this one, seeing a stand-in torch package, and which
    refuses pip (so nothing is ever installed)."""
    fake_torch = tmp_path / 'site' / 'torch'
    fake_torch.mkdir(parents=True)
    (fake_torch / '__init__.py').write_text(
        f'__version__ = {torch_version!r}\n\n\nclass version:\n    cuda = {cuda!r}\n')
    python = tmp_path / 'venv' / 'bin' / 'python'
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\ncase "$*" in *"-m pip"*) echo "pip refused: $*" >&2; exit 99;; esac\n'
                      f'PYTHONPATH={tmp_path / "site"} exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    return str(tmp_path / 'venv')


def plan(venv: str, cache: str, **env) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(('MMSTAN_', 'GIT_'))}
    environ.update(VIRTUAL_ENV=venv, MMSTAN_WHEEL_CACHE=cache, **env)
    return subprocess.run(['bash', INSTALL, '--print-plan'], env=environ, capture_output=True,
                          text=True, timeout=120)


def parse(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(line.split('=', 1) for line in proc.stdout.splitlines())


@pytest.fixture
def cuda_torch_env(tmp_path):
    """torch 2.14.1's default wheel: a CUDA 13.0 build, on machines with or without a GPU."""
    return fake_env(tmp_path, '2.14.1+cu130', '13.0')


def test_default_builds_cpu_ops_even_with_a_cuda_torch(cuda_torch_env, tmp_path):
    result = parse(plan(cuda_torch_env, str(tmp_path / 'cache'), MMSTAN_MMCV_JOBS='3'))
    assert result['MMCV_OPS'] == 'cpu'
    # mmcv 2.1.0's setup.py compiles CUDA ops when FORCE_CUDA=1 or torch sees a GPU: neither
    assert result['MMCV_BUILD_ENV'].split(' ') == ['MMCV_WITH_OPS=1', 'FORCE_CUDA=0', 'CUDA_VISIBLE_DEVICES=',
                                                   'MAX_JOBS=3']
    assert result['MMCV_WHEEL_KEY'] == f'mmcv-2.1.0-torch2.14.1-{PY}-cpu'
    assert result['MMCV_WHEEL_DIR'] == str(tmp_path / 'cache' / result['MMCV_WHEEL_KEY'])


def test_mmstan_mmcv_cuda_builds_cuda_ops_under_another_key(cuda_torch_env, tmp_path):
    cache = str(tmp_path / 'cache')
    cpu = parse(plan(cuda_torch_env, cache))
    cuda = parse(plan(cuda_torch_env, cache, MMSTAN_MMCV_CUDA='1'))
    assert cuda['MMCV_OPS'] == 'cu130'
    env = cuda['MMCV_BUILD_ENV'].split(' ')
    assert env[:2] == ['MMCV_WITH_OPS=1', 'FORCE_CUDA=1'] and not any(
        e.startswith('CUDA_VISIBLE_DEVICES') for e in env)
    assert cuda['MMCV_WHEEL_KEY'] == f'mmcv-2.1.0-torch2.14.1-{PY}-cu130' != cpu['MMCV_WHEEL_KEY']
    assert cuda['MMCV_WHEEL_DIR'] != cpu['MMCV_WHEEL_DIR']


def test_cpu_ops_key_is_the_same_for_cpu_and_cuda_torch_builds(cuda_torch_env, tmp_path):
    """A CPU-ops wheel built with torch 2.14.1+cu130 on a CPU machine is reused on a GPU
    machine, and one built with torch 2.14.1+cpu too."""
    cpu_torch_env = fake_env(tmp_path / 'cpu', '2.14.1+cpu', None)
    keys = {parse(plan(venv, str(tmp_path / 'cache')))['MMCV_WHEEL_KEY']
            for venv in (cuda_torch_env, cpu_torch_env)}
    assert keys == {f'mmcv-2.1.0-torch2.14.1-{PY}-cpu'}


def test_cuda_ops_need_a_cuda_torch(tmp_path):
    proc = plan(fake_env(tmp_path, '2.14.1+cpu', None), str(tmp_path / 'cache'), MMSTAN_MMCV_CUDA='1')
    assert proc.returncode == 1 and 'needs a CUDA build of torch' in proc.stderr


def test_plan_of_this_environment_uses_its_real_torch(tmp_path):
    import torch

    result = parse(plan(sys.prefix, str(tmp_path / 'cache')))
    assert result['PYTHON'] == osp.join(sys.prefix, 'bin', 'python')
    assert result['MMCV_WHEEL_KEY'] == f'mmcv-2.1.0-torch{torch.__version__.split("+")[0]}-{PY}-cpu'


@pytest.mark.parametrize('value', ['yes', '2', 'true'])
def test_other_mmstan_mmcv_cuda_values_are_refused(cuda_torch_env, tmp_path, value):
    proc = plan(cuda_torch_env, str(tmp_path / 'cache'), MMSTAN_MMCV_CUDA=value)
    assert proc.returncode == 2 and 'MMSTAN_MMCV_CUDA must be 0' in proc.stderr


def test_help_names_the_switches_and_unknown_arguments_are_refused(tmp_path):
    proc = subprocess.run(['bash', INSTALL, '--help'], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for name in ('--print-plan', 'MMSTAN_MMCV_CUDA', 'MMSTAN_WHEEL_CACHE'):
        assert name in proc.stdout
    proc = subprocess.run(['bash', INSTALL, '--bogus'], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and 'unknown argument' in proc.stderr
