"""tools/train.py, tools/test.py and tools/dist_train.sh end to end, and their errors."""
import glob
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, free_port, run_tool

DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_meanpool.py')


def data_options(root, epochs=1, batch=16):
    opts = [f'train_cfg.max_epochs={epochs}', 'param_scheduler=[]', 'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.dataset.data_root={root}', f'{loader}.batch_size={batch}',
                 f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    return opts


def assert_one_error_line(proc, *needles):
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.mark.slow
def test_train_then_test(synthetic_motion, tmp_path):
    work = str(tmp_path / 'work')
    proc = run_tool(['tools/train.py', DEMO, '--work-dir', work, '--cfg-options',
                     *data_options(synthetic_motion)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt)
    # tools/test.py loads the local checkpoint (torch weights-only load + compat allow-list)
    proc = run_tool(['tools/test.py', DEMO, ckpt, '--work-dir', work, '--dump',
                     str(tmp_path / 'preds.pkl'), '--cfg-options', *data_options(synthetic_motion)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'acc/top1' in proc.stdout + proc.stderr
    assert osp.isfile(tmp_path / 'preds.pkl')


@pytest.mark.slow
def test_resume_after_kill(synthetic_motion, tmp_path):
    work = str(tmp_path / 'work')
    args = [sys.executable, 'tools/train.py', DEMO, '--work-dir', work, '--cfg-options',
            *data_options(synthetic_motion, epochs=3, batch=8)]
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not osp.isfile(osp.join(work, 'last_checkpoint')) and time.time() < deadline:
        assert proc.poll() is None, 'training ended before its first checkpoint'
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not osp.isfile(osp.join(work, 'epoch_3.pth')), 'killed too late to test resume'
    resumed = run_tool(['tools/train.py', DEMO, '--work-dir', work, '--resume', '--cfg-options',
                        *data_options(synthetic_motion, epochs=3, batch=8)])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert 'resumed epoch: 1' in log or 'resumed epoch: 2' in log, log[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_3.pth'))


@pytest.mark.slow
def test_dist_train_two_cpu_processes(synthetic_motion, tmp_path):
    work = str(tmp_path / 'work')
    env = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
               PORT=str(free_port()))
    proc = subprocess.run(['bash', 'tools/dist_train.sh', DEMO, '2', '--work-dir', work,
                           '--cfg-options', *data_options(synthetic_motion, batch=8)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    logs = glob.glob(osp.join(work, '*', '*.log'))
    log = open(logs[0]).read()
    assert 'Distributed training: True' in log
    assert 'Epoch(train) [1][5/5]' in log  # 80 clips / (2 processes x 8 per process)


def test_error_unknown_type(synthetic_motion, tmp_path):
    proc = run_tool(['tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                     'model.backbone.type=CLIPMeanPoool', *data_options(synthetic_motion)])
    assert_one_error_line(proc, 'CLIPMeanPoool')


def test_error_wrong_config_key(synthetic_motion, tmp_path):
    proc = run_tool(['tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                     'model.backbone.archh=ViT-B-16', *data_options(synthetic_motion)])
    assert_one_error_line(proc, 'archh', 'CLIPMeanPool')


def test_error_missing_annotation(tmp_path):
    proc = run_tool(['tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                     *data_options(str(tmp_path / 'no_data'))])
    assert_one_error_line(proc, 'annotation file not found', 'train.txt')


def test_error_missing_pretrained_weights(synthetic_motion, tmp_path):
    proc = run_tool(['tools/train.py', DEMO, '--work-dir', str(tmp_path), '--cfg-options',
                     f'model.backbone.pretrained={tmp_path}/ViT-B-16.pt',
                     *data_options(synthetic_motion)])
    assert_one_error_line(proc, 'ViT-B-16.pt', 'not found')


def test_error_missing_config(tmp_path):
    proc = run_tool(['tools/train.py', str(tmp_path / 'nope.py')])
    assert_one_error_line(proc, 'nope.py')


def test_error_missing_checkpoint(synthetic_motion, tmp_path):
    proc = run_tool(['tools/test.py', DEMO, str(tmp_path / 'epoch_9.pth'), '--work-dir',
                     str(tmp_path), '--cfg-options', *data_options(synthetic_motion)])
    assert_one_error_line(proc, 'epoch_9.pth')


@pytest.mark.slow
def test_demo_runs_both_models(tmp_path):
    """tools/demo.py end to end with one epoch per model (the full run is `make demo`)."""
    proc = run_tool(['tools/demo.py', '--data', str(tmp_path / 'data'), '--work-dir',
                     str(tmp_path / 'work'), '--epochs', '1'], timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'mean pooling (CLIP baseline)' in proc.stdout and 'STAN (2 layers' in proc.stdout
    assert proc.stdout.count('top-1') >= 4  # progress lines and the final table
    assert osp.isfile(tmp_path / 'work' / 'curves.png')
    assert osp.isfile(tmp_path / 'data' / 'meta.json')


@pytest.mark.slow
def test_dist_test_two_cpu_processes(synthetic_motion, tmp_path):
    work = str(tmp_path / 'work')
    proc = run_tool(['tools/train.py', DEMO, '--work-dir', work, '--cfg-options',
                     *data_options(synthetic_motion)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = dict(os.environ, PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
               PORT=str(free_port()))
    proc = subprocess.run(['bash', 'tools/dist_test.sh', DEMO, osp.join(work, 'epoch_1.pth'), '2',
                           '--work-dir', work, '--cfg-options', *data_options(synthetic_motion)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'acc/top1' in proc.stdout + proc.stderr


@pytest.mark.parametrize('script,args', [
    ('slurm_train.sh', ['part', 'job', 'configs/demo/synthetic_motion_meanpool.py', 'wd']),
    ('slurm_test.sh', ['part', 'job', 'configs/demo/synthetic_motion_meanpool.py', 'ckpt.pth']),
])
def test_slurm_scripts_compose_srun(tmp_path, script, args):
    fake = tmp_path / 'srun'
    fake.write_text('#!/bin/sh\necho "srun $@"\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}', GPUS='2',
               GPUS_PER_NODE='2')
    proc = subprocess.run(['bash', f'tools/{script}', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert line.startswith('srun -p part --job-name=job') and '--ntasks=2' in line
    assert '--launcher=slurm' in line and script.replace('slurm_', '').replace('.sh', '.py') in line


def test_download_clip_names_known_tags():
    proc = run_tool(['tools/download_clip.py', 'ViT-B-16', 'no-such-tag', '--out', '/tmp'])
    assert proc.returncode != 0
    assert 'no pretrained tag' in proc.stderr and 'openai' in proc.stderr
