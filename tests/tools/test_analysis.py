"""tools/analysis: FLOP counting matches the architecture, and the benchmark runs."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from conftest import ROOT, run_tool
from mmstan.analysis import count_flops, get_flops
from mmstan.models.backbones import CLIPMeanPool


def vit_macs(frames, tokens, width, hidden, layers, patch_in, embed):
    per_block = tokens * width * 3 * width + tokens * width * width \
        + 2 * tokens * tokens * width + 2 * tokens * width * hidden
    return frames * ((tokens - 1) * patch_in * width + layers * per_block + width * embed)


def test_count_flops_matches_the_vit_formula(tiny_arch):
    model = CLIPMeanPool(tiny_arch).eval()
    video = torch.randn(1, 3, 4, 32, 32)
    expected = vit_macs(frames=4, tokens=17, width=64, hidden=128, layers=2, patch_in=3 * 8 * 8,
                        embed=64)
    assert count_flops(model, video) == expected


def test_get_flops_matches_paper_for_stan_b16():
    """STAN-self-B/16, 8 frames, 224 px: the papers' 593/3 GFLOPs (K400, K=4) and 688/3
    (SSv2, K=6) per view, within 5% (see README for the gap)."""
    k400 = get_flops(Config.fromfile(osp.join(ROOT, 'configs', 'stan', 'k400.py')))
    assert k400['gflops'] == pytest.approx(593 / 3, rel=0.05)
    ssv2 = get_flops(Config.fromfile(osp.join(ROOT, 'configs', 'stan', 'ssv2.py')))
    assert ssv2['gflops'] == pytest.approx(688 / 3, rel=0.05)


@pytest.mark.slow
def test_benchmark_runs_side_by_side():
    proc = run_tool(['tools/analysis/benchmark.py', 'configs/stan/k400_b32.py', '--repeats', '1',
                     '--backward', '--cfg-options', 'model.backbone.num_frames=2',
                     'test_dataloader.dataset.pipeline.1.clip_len=2'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert 'matmul peak' in out and 'STAN / mean pooling forward time' in out
    assert 'STAN / mean pooling forward_backward time' in out


def test_count_flops_without_autograd_counts_what_autograd_counts(tiny_arch):
    """``count_flops(grad=False)`` (the model zoo's L/14 counts) sees every product of
    nn.MultiheadAttention: eval mode without autograd would otherwise take its fused fast
    path, which the counter misses."""
    import torch

    from mmstan.analysis import count_flops
    from mmstan.models.backbones import CLIPSTAN
    model = CLIPSTAN(arch=tiny_arch, num_frames=2, num_layers=1).eval()
    video = torch.randn(1, 3, 2, 32, 32)
    with_grad, without = count_flops(model, video), count_flops(model, video, grad=False)
    assert with_grad > 0 and without == with_grad
    assert torch.backends.mha.get_fastpath_enabled()  # restored
