"""A distributed sampler that can start an epoch part-way, for resuming at the sample."""
from typing import Iterator, Optional, Sized

from mmaction.registry import DATA_SAMPLERS
from mmengine.dataset import DefaultSampler

from mmstan.errors import UserError


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """mmengine's ``DefaultSampler`` (a permutation seeded by ``seed + epoch``, padded by
    repeating its first indices so every rank gets ``ceil(N / world_size)`` samples and
    the same number of batches, rank ``r`` taking every ``world_size``-th index from
    ``r``) that skips the first ``start`` indices of this rank's epoch.

    ``ResumableEpochBasedTrainLoop`` records ``state_dict()`` with the number of samples
    trained in the checkpoint and, on resume, restores the seed, the epoch and
    ``start``: the skipped indices are never handed to the DataLoader, so their videos
    are neither read nor decoded. Under DDP every rank restores the same state and
    skips its own part.

    Args:
        dataset: the dataset.
        shuffle: permute each epoch.
        seed: the permutation seed, the same on all ranks (default: one drawn by rank 0).
    """

    def __init__(self, dataset: Sized, shuffle: bool = True, seed: Optional[int] = None) -> None:
        super().__init__(dataset, shuffle=shuffle, seed=seed, round_up=True)
        #: indices of this rank's epoch already trained (skipped by the next ``__iter__``)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.start:])

    def state_dict(self, position: int) -> dict:
        """The state after training ``position`` samples of this rank's epoch."""
        return dict(epoch=self.epoch, position=position, seed=self.seed,
                    world_size=self.world_size, dataset_size=len(self.dataset))

    def load_state_dict(self, state: dict) -> None:
        """Continue ``state``'s epoch after its ``position`` samples."""
        same = dict(world_size=self.world_size, dataset_size=len(self.dataset))
        changed = {k: (state[k], v) for k, v in same.items() if state[k] != v}
        if changed:
            raise UserError(f'cannot resume mid-epoch: {changed} (checkpoint, now) changed; '
                            'resume with the same processes and shards, or from an epoch-end '
                            'checkpoint')
        self.seed, self.epoch, self.start = state['seed'], state['epoch'], state['position']
