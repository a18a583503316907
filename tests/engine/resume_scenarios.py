"""Training runs of the resume tests (tests/engine/test_resumable_loop.py, in one process,
and tests/engine/resume_ddp_job.py, in two): a one-parameter model that records the
samples of each batch, a counting decoder, and a hook that kills training after k
iterations once their checkpoint is saved.

``python -m torch.distributed.run --nproc_per_node 2 tests/engine/resume_scenarios.py OUT SHARDS K...``
runs, on each rank, an uninterrupted run and, for each K, a run killed after K iterations
and its resumed continuation; rank r writes ``OUT/rank{r}.json``:
``{"full": batches, "killed_K": batches, "resumed_K": batches, "decoded_K": filenames}``.
"""
import json
import os.path as osp
import sys
from typing import Optional

import torch
from mmaction.registry import TRANSFORMS
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmstan.datasets.transforms import ShardDecordInit

DECODED = []  # filename of every sample the counting decoder opened in this process


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


def run(shards: str, work_dir: str, name: str, seed: int = 7, kill_after: int = 0,
        resume_from: Optional[str] = None, batch_size: int = 4, launcher: str = 'none',
        load_from: Optional[str] = None) -> KeyRecorder:
    """Train 2 epochs (killed after ``kill_after`` iterations, if set, with a checkpoint
    saved then), resuming ``resume_from`` or starting from the weights of ``load_from``;
    returns the model, whose ``seen`` lists the batches it trained on."""
    model = KeyRecorder()
    checkpoint = dict(type='CheckpointHook', interval=kill_after, by_epoch=False) if kill_after \
        else dict(type='CheckpointHook', interval=100)
    runner = Runner(
        model=model, work_dir=work_dir, experiment_name=name, default_scope='mmaction',
        train_dataloader=dict(
            dataset=dict(type='ShardedVideoCaptionDataset', ann_file=shards,
                         pipeline=[dict(type='CountingShardDecordInit')]),
            sampler=dict(type='ResumableSampler', seed=seed), batch_size=batch_size, num_workers=0,
            collate_fn=dict(type='pseudo_collate')),
        train_cfg=dict(type='ResumableEpochBasedTrainLoop', max_epochs=2, val_interval=100),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=checkpoint),
        custom_hooks=[KillAfter(kill_after)] if kill_after else None,
        resume=resume_from is not None, load_from=resume_from or load_from, log_level='WARNING',
        launcher=launcher, env_cfg=dict(dist_cfg=dict(backend='gloo')))
    DECODED.clear()
    try:
        runner.train()
    except Killed:
        pass
    return model


def main(out: str, shards: str, kills: list) -> None:
    from mmengine.dist import barrier, get_rank

    from mmstan import compat

    compat.cpu_distributed()  # as mmstan's tools do for a distributed job (no-op on a GPU host)

    record = dict(full=run(shards, osp.join(out, 'full'), 'full', batch_size=3, launcher='pytorch').seen)
    for k in kills:
        record[f'killed_{k}'] = run(shards, osp.join(out, f'killed{k}'), f'killed{k}', kill_after=k,
                                    batch_size=3, launcher='pytorch').seen
        barrier()  # rank 0 has saved the checkpoint
        record[f'resumed_{k}'] = run(shards, osp.join(out, f'resumed{k}'), f'resumed{k}', seed=999,
                                     resume_from=osp.join(out, f'killed{k}', f'iter_{k}.pth'),
                                     batch_size=3, launcher='pytorch').seen
        record[f'decoded_{k}'] = list(DECODED)
    with open(osp.join(out, f'rank{get_rank()}.json'), 'w') as f:
        json.dump(record, f)
    torch.distributed.destroy_process_group()


if __name__ == '__main__':
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    main(sys.argv[1], sys.argv[2], [int(k) for k in sys.argv[3:]])
