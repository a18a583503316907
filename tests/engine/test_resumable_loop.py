"""ResumableEpochBasedTrainLoop with a real mmengine Runner: training killed after k
iterations and resumed from the checkpoint sees exactly the remaining sample sequence of an
uninterrupted run, and a counting decoder records no decode of the skipped samples; under
DDP (2 processes) every rank resumes its own part."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, free_port

sys.path.insert(0, osp.join(ROOT, 'tests', 'datasets'))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from resume_scenarios import DECODED, run  # noqa: E402
from shard_samples import make_uneven_shards, make_videos  # noqa: E402

SIZES = (1, 2, 3, 4, 5, 6, 3)  # 24 samples: 6 batches of 4 an epoch (4 of 3 per rank on 2 ranks)


@pytest.fixture(scope='module')
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume_shards')
    captions = make_videos(str(root / 'videos'), sum(SIZES))
    make_uneven_shards(str(root / 'shards'), str(root / 'videos'), captions, SIZES)
    return str(root / 'shards')


def flat(batches: list) -> list:
    return [f for batch in batches for f in batch]


@pytest.mark.parametrize('k', [2, 8])  # mid epoch 1; mid epoch 2
def test_resume_after_k_iterations_continues_the_sequence_without_decoding(shards, tmp_path, k):
    full = run(shards, str(tmp_path / 'full'), f'full{k}').seen
    assert len(full) == 12
    killed = run(shards, str(tmp_path / 'killed'), f'killed{k}', kill_after=k).seen
    assert killed == full[:k]
    resumed = run(shards, str(tmp_path / 'resumed'), f'resumed{k}', seed=999,
                  resume_from=str(tmp_path / 'killed' / f'iter_{k}.pth')).seen
    assert resumed == full[k:]  # the same remaining sequence (the seed came from the checkpoint)
    assert DECODED == flat(full[k:])  # zero decodes of the skipped samples

    checkpoint = str(tmp_path / 'killed' / f'iter_{k}.pth')
    state = torch.load(checkpoint, weights_only=False)['meta']['train_sampler']
    assert (state['epoch'], state['position'], state['seed']) == (k // 6, k % 6 * 4, 7)
    # weights only (load_from, no resume): a new run from the first sample
    assert run(shards, str(tmp_path / 'finetune'), f'finetune{k}', load_from=checkpoint).seen == full


@pytest.mark.slow
def test_two_ranks_resume_their_own_parts(shards, tmp_path):
    job = osp.join(ROOT, 'tests', 'engine', 'resume_scenarios.py')
    proc = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
                           '--master_port', str(free_port()), job, str(tmp_path), shards, '5'],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.load(open(tmp_path / f'rank{r}.json')) for r in (0, 1)]
    full = [r['full'] for r in ranks]
    assert len(full[0]) == len(full[1]) == 8  # 2 epochs x 4 batches on each rank
    for epoch in (slice(0, 4), slice(4, 8)):  # ranks disjoint, every sample once an epoch
        own = [flat(f[epoch]) for f in full]
        assert not set(own[0]) & set(own[1]) and len(set(own[0] + own[1])) == 24
    for k in (5, ):  # mid epoch 2 (the in-process test also resumes mid epoch 1)
        for rank in ranks:
            assert rank[f'killed_{k}'] == rank['full'][:k]
            assert rank[f'resumed_{k}'] == rank['full'][k:]
            assert rank[f'decoded_{k}'] == flat(rank['full'][k:])
