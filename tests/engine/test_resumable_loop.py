"""ResumableEpochBasedTrainLoop with a real mmengine Runner: training killed after k
iterations and resumed from the checkpoint sees exactly the remaining sample sequence of an
uninterrupted run, and a counting decoder records no decode of the skipped samples."""
import os.path as osp
import sys

import pytest
import torch
from mmaction.registry import TRANSFORMS
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from conftest import ROOT
from mmstan.datasets.transforms import ShardDecordInit

sys.path.insert(0, osp.join(ROOT, 'tests', 'datasets'))
from shard_samples import make_uneven_shards, make_videos  # noqa: E402

SIZES = (1, 2, 3, 4, 5, 6, 3)  # 24 samples, batches of 4: 6 iterations an epoch
DECODED = []  # filename of every sample the counting decoder opened


@TRANSFORMS.register_module(force=True)
class CountingShardDecordInit(ShardDecordInit):
    """ShardDecordInit that decodes one frame and records the sample it decoded."""

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        results['video_reader'][0]
        DECODED.append(results['filename'])
        return dict(filename=results['filename'])


class KeyRecorder(BaseModel):
    """A one-parameter model that records the samples of each training batch."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen = []

    def forward(self, filename=None, mode='loss', **_):
        self.seen.append(list(filename))
        return dict(loss=(self.weight - 1).pow(2).sum())


class Killed(Exception):
    pass


class KillAfter(Hook):
    priority = 'LOWEST'  # after CheckpointHook saved the iteration's checkpoint

    def __init__(self, iters: int):
        self.iters = iters

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.iters:
            raise Killed


@pytest.fixture(scope='module')
def shards(tmp_path_factory):
    root = tmp_path_factory.mktemp('resume_shards')
    captions = make_videos(str(root / 'videos'), sum(SIZES))
    make_uneven_shards(str(root / 'shards'), str(root / 'videos'), captions, SIZES)
    return str(root / 'shards')


def run(shards: str, work_dir: str, name: str, seed: int = 7, kill_after: int = 0,
        resume_from: str = None) -> KeyRecorder:
    model = KeyRecorder()
    checkpoint = dict(type='CheckpointHook', interval=kill_after, by_epoch=False) if kill_after \
        else dict(type='CheckpointHook', interval=100)
    runner = Runner(
        model=model, work_dir=work_dir, experiment_name=name, default_scope='mmaction',
        train_dataloader=dict(
            dataset=dict(type='ShardedVideoCaptionDataset', ann_file=shards,
                         pipeline=[dict(type='CountingShardDecordInit')]),
            sampler=dict(type='ResumableSampler', seed=seed), batch_size=4, num_workers=0,
            collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=2, val_interval=100),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=checkpoint),
        custom_hooks=[KillAfter(kill_after)] if kill_after else None,
        resume=resume_from is not None, load_from=resume_from, log_level='WARNING')
    DECODED.clear()
    try:
        runner.train()
    except Killed:
        pass
    return model


@pytest.mark.parametrize('k', [2, 8])  # mid epoch 1; mid epoch 2
def test_resume_after_k_iterations_continues_the_sequence_without_decoding(shards, tmp_path, k):
    full = run(shards, str(tmp_path / 'full'), f'full{k}').seen
    assert len(full) == 12
    killed = run(shards, str(tmp_path / 'killed'), f'killed{k}', kill_after=k).seen
    assert killed == full[:k]
    resumed = run(shards, str(tmp_path / 'resumed'), f'resumed{k}', seed=999,
                  resume_from=str(tmp_path / 'killed' / f'iter_{k}.pth')).seen
    assert resumed == full[k:]  # the same remaining sequence (the seed came from the checkpoint)
    assert DECODED == [f for batch in full[k:] for f in batch]  # zero decodes of skipped samples
