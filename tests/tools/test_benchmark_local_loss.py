"""tools/analysis/benchmark_local_loss.py: a tiny run of both losses for both heads, each
case in its own subprocess, and the memory cap that skips a case instead of running it."""
import pytest
import torch

from conftest import load_script
from mmstan.analysis import benchmark_local_loss as bench


def test_one_ranks_local_share_scores_its_rows_and_columns():
    """Rank 0's local loss of the benchmark is what local_infonce gives on the rows and
    columns of the full matrix that belong to rank 0 (the pairs it scores)."""
    head = bench.build_head('mean')
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(8, 3, 4, generator=g), torch.ones(8, 3, dtype=torch.bool),
             torch.randn(8, 4, generator=g), torch.randn(8, 2, 4, generator=g)]
    feats = [x.requires_grad_() if x.is_floating_point() else x for x in feats]
    bench.loss_step(head, 'local', tuple(feats), world=4)
    got = feats[2].grad.clone()
    for x in feats:
        x.grad = None
    full = head(*feats)  # rank 0: captions 0-1 x all videos, all captions x videos 0-1
    logits = 100.0 * full
    target = torch.arange(2)
    expected = (torch.nn.functional.cross_entropy(logits[:2], target)
                + torch.nn.functional.cross_entropy(logits[:, :2].T, target))
    expected.backward()
    torch.testing.assert_close(got, feats[2].grad)
    assert bench.pairs_per_rank('local', 8, 4) == 2 * 8 * 2 and bench.pairs_per_rank('global', 8, 4) == 64


@pytest.mark.slow
def test_tiny_run_prints_both_losses_side_by_side(capsys):
    tool = load_script('tools/analysis/benchmark_local_loss.py')
    results = tool.main(['--batch', '16', '--world', '4', '--tokens', '4', '--frames', '3',
                         '--dim', '8', '--repeats', '1', '--head', 'mug'])
    out = capsys.readouterr().out
    assert [(r['loss'], r['batch'], r['pairs']) for r in results] == [('global', 16, 256), ('local', 16, 128)]
    assert all(r['seconds'] > 0 and r['extra_mb'] >= 0 for r in results)
    assert '| mug | 16 | 4 | 256 / 128 |' in out


def test_a_case_over_the_memory_cap_is_not_run(capsys, monkeypatch):
    """Cases are extrapolated from the smallest measured one by pairs; one over --max-gb
    is reported, not run (no subprocess here: the children are stubbed)."""
    tool = load_script('tools/analysis/benchmark_local_loss.py')
    ran = []

    def child(args, head, batch, what):
        ran.append((what, batch))
        if what.startswith('time:'):
            return dict(seconds={loss: 1.0 for loss in what[5:].split(',')}, threads=1, load=0.0)
        pairs = bench.pairs_per_rank(what.split(':')[1], batch, args.world)
        return dict(extra_mb=100.0 * pairs / 64 ** 2)

    monkeypatch.setitem(tool.main.__globals__, '_child', child)
    tool.main(['--batch', '64', '--batch', '1024', '--world', '8', '--head', 'mug', '--max-gb', '8'])
    out = capsys.readouterr().out
    # extrapolated from B=64's local case (the smallest: 1024 pairs, 25 MB), B=1024's global
    # (1024² pairs: 25600 MB) is over 8 GB, its local (2·1024·128 pairs: 6400 MB) is not
    assert ran == [('memory:global', 64), ('memory:local', 64), ('time:global,local', 64),
                   ('memory:local', 1024), ('time:local', 1024)]
    assert '| mug | 1024 | 8 | 1,048,576 / 262,144 | not run: ~25 GB estimated > --max-gb 8 |' in out
