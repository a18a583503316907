"""Default work dirs of tools/train.py and tools/test.py: one per config file.

mmaction2 names the work dir after the config's file name alone, so the ten names that
exist in both configs/stan/ and configs/mugstan/ (msrvtt.py, k400.py, ...) would share
one, and ``--resume`` would continue the other model.
"""
import glob
import importlib.util
import os
import os.path as osp
import subprocess

import pytest

from conftest import ROOT, run_tool


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'_mmstan_tool_{name}',
                                                  osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = _tool('train')
test_tool = _tool('test')


def train_work_dir(config: str, *args) -> str:
    """The work dir tools/train.py gives ``config`` (``args``: more command-line flags)."""
    from mmstan.utils.cli import runner_config

    return osp.normpath(runner_config(train_tool.parse_args([config, *args])).work_dir)


def work_dir_via_test_py(config: str) -> str:
    from mmstan.utils.cli import runner_config

    return osp.normpath(runner_config(test_tool.parse_args([config, 'ckpt.pth'])).work_dir)


def repo_configs():
    paths = glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    return sorted(p for p in paths if '_base_' not in p.split(os.sep))


def test_every_repo_config_has_its_own_work_dir():
    configs = repo_configs()
    stems = [osp.basename(p) for p in configs]
    assert len(set(stems)) < len(stems), 'the test needs configs that share a file name'
    work_dirs = {path: train_work_dir(path) for path in configs}
    shared = {}
    for path, work_dir in work_dirs.items():
        shared.setdefault(work_dir, []).append(osp.relpath(path, ROOT))
    assert all(len(paths) == 1 for paths in shared.values()), {
        w: p for w, p in shared.items() if len(p) > 1}
    # readable: the config's path under configs/
    for family in ('stan', 'mugstan'):
        config = osp.join(ROOT, 'configs', family, 'msrvtt.py')
        assert work_dirs[config] == osp.join('work_dirs', family, 'msrvtt')


def test_train_and_test_agree_and_paths_spelled_differently_agree(tmp_path):
    relative = osp.join('configs', 'stan', 'k400.py')
    absolute = osp.join(ROOT, relative)
    dotted = osp.join(ROOT, 'configs', 'mugstan', '..', 'stan', 'k400.py')
    assert train_work_dir(absolute) == train_work_dir(dotted) == work_dir_via_test_py(absolute)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        assert train_work_dir(relative) == train_work_dir(absolute)
    finally:
        os.chdir(cwd)


def write_config(folder, name='motion.py') -> str:
    """A config of the tiny demo model in ``folder`` (outside configs/)."""
    os.makedirs(folder, exist_ok=True)
    path = osp.join(str(folder), name)
    with open(path, 'w') as f:
        f.write(f"_base_ = ['{ROOT}/configs/demo/synthetic_motion_meanpool.py']\n")
    return path


def test_configs_outside_the_repo_with_one_name_get_different_work_dirs(tmp_path):
    a = write_config(tmp_path / 'a')
    b = write_config(tmp_path / 'b')
    assert train_work_dir(a) != train_work_dir(b)
    assert train_work_dir(a) == train_work_dir(a) == work_dir_via_test_py(a)  # stable: --resume finds it
    assert osp.basename(train_work_dir(a)).startswith('motion-')  # still says which config
    # nor with a repo config of the same path under another folder named configs/
    theirs = write_config(tmp_path / 'configs' / 'stan', 'msrvtt.py')
    assert train_work_dir(theirs) != train_work_dir(osp.join(ROOT, 'configs', 'stan', 'msrvtt.py'))
    # a symlink is the file it points to
    link = tmp_path / 'link.py'
    link.symlink_to(a)
    assert train_work_dir(str(link)) == train_work_dir(a)


def test_work_dir_flag_and_config_key_still_win(tmp_path):
    a = write_config(tmp_path / 'a')
    assert train_work_dir(a, '--work-dir', str(tmp_path / 'mine')) == str(tmp_path / 'mine')
    with open(a, 'a') as f:
        f.write("work_dir = './work_dirs/named_in_the_config'\n")
    assert train_work_dir(a) == osp.join('work_dirs', 'named_in_the_config')


def data_options(root):
    """One epoch of one iteration (the 80 clips of the test set in one batch)."""
    opts = ['train_cfg.max_epochs=1', 'param_scheduler=[]', 'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={root}', f'{loader}.batch_size=80',
                 f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    return opts


@pytest.mark.slow
def test_resume_never_picks_up_another_configs_checkpoint(synthetic_motion, tmp_path):
    """Train config A (no --work-dir), then ``--resume`` config B of the same file name in
    another folder: B starts from scratch in its own work dir; A's is left as it was."""
    a = write_config(tmp_path / 'a')
    b = write_config(tmp_path / 'b')
    run = tmp_path / 'run'  # the current directory, where ./work_dirs goes
    run.mkdir()
    train = osp.join(ROOT, 'tools', 'train.py')
    proc = run_tool([train, a, '--cfg-options', *data_options(synthetic_motion)], cwd=str(run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    a_checkpoints = glob.glob(str(run / 'work_dirs' / '*' / 'epoch_1.pth'))
    assert len(a_checkpoints) == 1, os.listdir(run / 'work_dirs')
    a_dir = osp.dirname(a_checkpoints[0])
    before = sorted(os.listdir(a_dir))

    proc = run_tool([train, b, '--resume', '--cfg-options', *data_options(synthetic_motion)],
                    cwd=str(run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'resumed epoch' not in log and 'Load checkpoint from' not in log, log[-3000:]
    assert 'Epoch(train) [1][1/1]' in log, log[-3000:]  # B trained its one iteration itself
    b_checkpoints = [p for p in glob.glob(str(run / 'work_dirs' / '*' / 'epoch_1.pth'))
                     if osp.dirname(p) != a_dir]
    assert len(b_checkpoints) == 1
    assert sorted(os.listdir(a_dir)) == before


def fake_srun(tmp_path) -> dict:
    fake = tmp_path / 'srun'
    fake.write_text('#!/bin/sh\necho "srun $@"\n')
    fake.chmod(0o755)
    return dict(os.environ, PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}', GPUS='2',
                GPUS_PER_NODE='2')


@pytest.mark.parametrize('args,work_dir,py_args', [
    ([], None, []),
    (['--resume'], None, ['--resume']),
    (['wd', '--amp'], 'wd', ['--amp']),
])
def test_slurm_train_keeps_the_default_work_dir(tmp_path, args, work_dir, py_args):
    """slurm_train.sh passes --work-dir only when given one, so train.py's default (one per
    config) applies; not one per job name."""
    proc = subprocess.run(['bash', 'tools/slurm_train.sh', 'part', 'job',
                           'configs/stan/k400.py', *args],
                          cwd=ROOT, env=fake_srun(tmp_path), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    words = proc.stdout.split()
    tail = words[words.index('configs/stan/k400.py') + 1:]
    expected = ([f'--work-dir={work_dir}'] if work_dir else []) + ['--launcher=slurm', *py_args]
    assert tail == expected, proc.stdout


@pytest.mark.parametrize('script,args', [
    ('dist_train.sh', ['configs/stan/k400.py', '2', '--resume']),
    ('dist_test.sh', ['configs/stan/k400.py', 'ckpt.pth', '2']),
])
def test_dist_scripts_pass_the_config_through(tmp_path, script, args):
    """dist_train.sh / dist_test.sh add no --work-dir: every process derives the same
    default from the same config path."""
    fake = tmp_path / 'torchrun'
    fake.write_text('#!/bin/sh\necho "torchrun $@"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}')
    proc = subprocess.run(['bash', f'tools/{script}', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    words = proc.stdout.split()
    assert 'configs/stan/k400.py' in words and not any(w.startswith('--work-dir') for w in words)
