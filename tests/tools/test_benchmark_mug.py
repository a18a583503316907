"""tools/analysis/benchmark_mug.py: a tiny run of both implementations, each in its own
subprocess, and the "before" reference against the paper's per-pair Mug."""
import pytest
import torch
from mug_reference import paper_gallery

from conftest import load_script
from mmstan.analysis.benchmark_mug import before_gallery, make_inputs


def test_before_reference_is_mug():
    # the "before" implementation is only a fair reference if it computes the same thing
    text, mask, _, video = make_inputs(9, 6, 3, 16, 'cpu')
    torch.testing.assert_close(before_gallery(text.double(), mask, video.double(), block_elements=100),
                               paper_gallery(text, mask, video), atol=1e-12, rtol=0)


@pytest.mark.slow
def test_smoke_run_prints_both_implementations(capsys):
    tool = load_script('tools/analysis/benchmark_mug.py')
    results = tool.main(['--size', '20', '--tokens', '6', '--frames', '3', '--dim', '16',
                         '--profile-texts', '5'])
    out = capsys.readouterr().out
    assert [(r['impl'], r['size']) for r in results] == [('before', 20), ('after', 20)]
    for r in results:
        assert r['seconds'] > 0 and 0 < r['matmul_share'] < 1 and r['profiled_texts'] == 5
        assert r['extra_mb'] >= 0 and r['cpu_seconds'] > 0 and r['load'] >= 0
    assert all(r['max_diff_vs_before'] < 1e-5 for r in results if r['impl'] == 'after')
    assert 'peak RSS minus RSS with the inputs' in out
    assert '20x20 before' in out and '20x20 after' in out and '20x20 speed-up before/after' in out
