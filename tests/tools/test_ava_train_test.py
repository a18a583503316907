"""tools/train.py and tools/test.py on configs/stan/ava.py, pointed at a tiny AVA sample."""
import glob
import os
import os.path as osp
import re

import pytest
from ava_sample import data_options, make_ava_sample, tiny_model_options

from conftest import ROOT, run_tool

CONFIG = osp.join(ROOT, 'configs', 'stan', 'ava.py')
#: CPU: no AMP; one sample per epoch (the sample's other frames are excluded), 2 epochs.
RUN_OPTIONS = ['optim_wrapper.type=OptimWrapper', 'train_cfg.max_epochs=2',
               'default_hooks.logger.interval=1']


@pytest.mark.slow
def test_train_two_iterations_then_test_map(tmp_path):
    files = make_ava_sample(str(tmp_path / 'data'))
    work = str(tmp_path / 'work')
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    options = [*data_options(files), *tiny_model_options(), *RUN_OPTIONS]
    proc = run_tool([osp.join(ROOT, 'tools', 'train.py'), CONFIG, '--work-dir', work,
                     '--cfg-options', *options], cwd=str(cwd))
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    iterations = re.findall(r'Epoch\(train\)\s+\[(\d+)\]\[(\d+)/(\d+)\]', log)
    assert iterations == [('1', '1', '1'), ('2', '1', '1')], iterations
    assert 'loss_action_cls' in log
    ckpt = osp.join(work, 'epoch_2.pth')
    assert osp.isfile(ckpt)

    proc = run_tool([osp.join(ROOT, 'tools', 'test.py'), CONFIG, ckpt, '--work-dir', work,
                     '--cfg-options', *options], cwd=str(cwd))
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    found = re.search(r'mAP/overall: (\S+)', log)
    assert found and 0 <= float(found.group(1)) <= 1, log[-3000:]
    # the test evaluator keeps its AVA-format detections, in the work dir
    [result] = glob.glob(osp.join(work, 'AVA_*_result.csv'))
    with open(result) as f:
        rows = [line.split(',') for line in f.read().splitlines()]
    assert rows and all(len(row) == 8 for row in rows)
    assert {row[0] for row in rows} <= {'0f39OWEqJ24', '_-Z6wFjXtGQ'}
    assert os.listdir(cwd) == []  # nothing in the current directory
