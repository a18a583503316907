"""tools/analysis/get_flops.py on the AVA detector config."""
import os.path as osp
import re

import pytest
from mmengine.config import Config

from conftest import ROOT, run_tool
from mmstan.analysis import get_flops


@pytest.mark.slow
def test_get_flops_counts_the_stan_backbone_at_the_ava_crop():
    proc = run_tool(['tools/analysis/get_flops.py', 'configs/stan/ava.py'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'input per view: 3x8x256x256' in proc.stdout
    gflops = float(re.search(r'GFLOPs per view: (\S+)', proc.stdout).group(1))
    # the same STAN-B/16 as the K400 recognizer, run at 256 px: the detector differs only by
    # the recognizer's projection and linear head (~0.003 GFLOPs); the RoI head is not counted
    k400_cfg = Config.fromfile(osp.join(ROOT, 'configs', 'stan', 'k400.py'))
    k400_cfg.merge_from_dict({'model.backbone.input_resolution': 256})
    k400 = get_flops(k400_cfg, shape=(8, 256, 256))
    assert gflops == pytest.approx(k400['gflops'], rel=2e-3)
