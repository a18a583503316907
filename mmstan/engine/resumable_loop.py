"""An epoch-based training loop that resumes at the sample, without re-reading data."""
import logging
import math
from typing import Dict, Optional, Union

from mmaction.registry import LOOPS
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader

from mmstan.errors import UserError

from .resumable_sampler import ResumableSampler

#: The key of the sampler state in ``checkpoint['meta']``.
STATE_KEY = 'train_sampler'


class _SamplerStateHook(Hook):
    """Carries the loop's sampler state into and out of checkpoints (``meta``), with both
    mmengine runners (``Runner`` and ``FlexibleRunner`` call these two hooks)."""

    priority = 'VERY_LOW'

    def __init__(self, loop: 'ResumableEpochBasedTrainLoop'):
        self.loop = loop

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[STATE_KEY] = dict(self.loop.state)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loop.loaded_state = checkpoint.get('meta', {}).get(STATE_KEY)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` whose checkpoints record how far into the epoch training
    got, and whose resume starts there.

    mmengine's loops resume a checkpoint saved mid-epoch by replaying the data:
    ``EpochBasedTrainLoop`` restarts the epoch, ``IterBasedTrainLoop`` calls ``next()`` on
    the dataloader once per trained batch, which reads and decodes every one of them
    again. Here every checkpoint's ``meta['train_sampler']`` holds the
    ``ResumableSampler``'s state (seed, epoch, samples trained on this rank); on resume
    the sampler starts after those samples and batch indices continue where they
    stopped. Needs ``train_dataloader.sampler = dict(type='ResumableSampler')``; the loop
    registers the hook that writes and reads the state itself.

    Args: those of ``EpochBasedTrainLoop``.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict], max_epochs: int,
                 val_begin: int = 1, val_interval: int = 1, dynamic_intervals: Optional[list] = None):
        super().__init__(runner, dataloader, max_epochs, val_begin=val_begin,
                         val_interval=val_interval, dynamic_intervals=dynamic_intervals)
        self.sampler = self.dataloader.sampler
        if not isinstance(self.sampler, ResumableSampler):
            raise UserError('train_cfg type ResumableEpochBasedTrainLoop needs '
                            "train_dataloader.sampler=dict(type='ResumableSampler'), got "
                            f'{type(self.sampler).__name__}')
        self.batch_size = self.dataloader.batch_size
        self.state = self.sampler.state_dict(position=0)
        self.loaded_state: Optional[dict] = None
        runner.register_hook(_SamplerStateHook(self))

    def run(self):
        self._restore(self.loaded_state)
        return super().run()

    def _restore(self, state: Optional[dict]) -> None:
        """Start the sampler after ``state``'s position when it is this resumed epoch's."""
        if state is None or self._iter == 0 or state['epoch'] != self._epoch or not state['position']:
            return
        trained = state['epoch'] * len(self.dataloader) + math.ceil(state['position'] / self.batch_size)
        if trained != self._iter:
            print_log(f'the checkpoint\'s sampler state ({state["position"]} samples into epoch '
                      f'{state["epoch"] + 1}) does not match its iteration {self._iter}; the '
                      'epoch restarts from its first sample', logger='current', level=logging.WARNING)
            return
        self.sampler.load_state_dict(state)
        print_log(f'resuming epoch {self._epoch + 1} after its first {state["position"]} samples '
                  'per rank (not read again)', logger='current')

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.sampler.set_epoch(self._epoch)
        self.runner.model.train()
        first = self.sampler.start // self.batch_size
        for idx, data_batch in enumerate(self.dataloader, start=first):
            # recorded before the iteration's hooks, so a checkpoint saved by them holds it
            self.state = self.sampler.state_dict(min((idx + 1) * self.batch_size, len(self.sampler)))
            self.run_iter(idx, data_batch)
        self.sampler.start = 0
        self.sampler.set_epoch(self._epoch + 1)
        self.state = self.sampler.state_dict(position=0)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
