"""ResumableSampler over seven uneven shards, 2 ranks x 2 DataLoader workers: every key
once per epoch, ranks disjoint, equal batch counts; a resumed sampler yields exactly the
rest of each rank's uninterrupted sequence."""
import os.path as osp
import sys
from collections import Counter

import pytest
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from conftest import ROOT
from mmstan.datasets import ShardedVideoCaptionDataset
from mmstan.engine.resumable_sampler import ResumableSampler
from mmstan.errors import UserError

sys.path.insert(0, osp.join(ROOT, 'tests', 'datasets'))
from shard_samples import make_uneven_shards, make_videos  # noqa: E402

SIZES = (1, 2, 3, 4, 5, 6, 3)  # seven uneven shards, 24 samples


@pytest.fixture(scope='module')
def seven_shards(tmp_path_factory):
    root = tmp_path_factory.mktemp('seven_shards')
    captions = make_videos(str(root / 'videos'), sum(SIZES))
    keys = make_uneven_shards(str(root / 'shards'), str(root / 'videos'), captions, SIZES)
    return str(root / 'shards'), keys


def key_of(info: dict) -> str:
    return osp.splitext(info['filename'].split(':')[1])[0]


def rank_sampler(monkeypatch, dataset, rank: int, world_size: int = 2, seed: int = 7) -> ResumableSampler:
    """The sampler rank ``rank`` of ``world_size`` builds (mmengine's get_dist_info patched)."""
    monkeypatch.setattr('mmengine.dataset.sampler.get_dist_info', lambda: (rank, world_size))
    return ResumableSampler(dataset, shuffle=True, seed=seed)


def epoch_batches(dataset, sampler, epoch: int, batch_size: int = 2, workers: int = 2) -> list:
    sampler.set_epoch(epoch)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                        collate_fn=pseudo_collate)
    return [[key_of(dict(filename=f)) for f in batch['filename']] for batch in loader]


@pytest.mark.parametrize('shards', ['*.tar', '0000[0-5].tar'])  # 24 samples; 21 (padded to 22)
def test_two_ranks_two_workers_cover_every_key_once(seven_shards, monkeypatch, shards):
    folder, keys = seven_shards
    dataset = ShardedVideoCaptionDataset(ann_file=osp.join(folder, shards), pipeline=[])
    keys = keys[:len(dataset)]
    orders = []
    for epoch in (0, 1):
        batches = [epoch_batches(dataset, rank_sampler(monkeypatch, dataset, r), epoch) for r in (0, 1)]
        assert len(batches[0]) == len(batches[1])  # equal batch counts: DDP cannot hang
        per_rank = [[k for batch in rank_batches for k in batch] for rank_batches in batches]
        seen = Counter(per_rank[0] + per_rank[1])
        assert set(seen) == set(keys)
        padding = len(per_rank[0]) * 2 - len(keys)  # < world size, as DefaultSampler pads
        assert padding == len(keys) % 2
        assert sorted(seen.values()) == [1] * (len(keys) - padding) + [2] * padding
        if not padding:
            assert not set(per_rank[0]) & set(per_rank[1])  # ranks are disjoint
        orders.append(per_rank[0] + per_rank[1])
    assert orders[0] != orders[1]  # a new permutation each epoch


def test_resumed_sampler_yields_the_rest_of_each_rank(seven_shards, monkeypatch):
    folder, _ = seven_shards
    dataset = ShardedVideoCaptionDataset(ann_file=folder, pipeline=[])
    for rank in (0, 1):
        sampler = rank_sampler(monkeypatch, dataset, rank)
        sampler.set_epoch(3)
        full = list(sampler)
        state = sampler.state_dict(position=8)
        resumed = rank_sampler(monkeypatch, dataset, rank, seed=12345)  # a new run draws another seed
        resumed.load_state_dict(state)
        assert list(resumed) == full[8:]
        assert len(resumed) == len(full)  # the epoch's length (the loop's max_iters) is unchanged
    other_world = rank_sampler(monkeypatch, dataset, 0, world_size=4)
    with pytest.raises(UserError, match='world_size'):
        other_world.load_state_dict(state)
