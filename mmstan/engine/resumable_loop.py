"""An epoch-based training loop that resumes at the sample, without re-reading data."""
from typing import Dict, Optional, Union

from mmaction.registry import LOOPS
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader

from mmstan.errors import UserError

from .resumable_sampler import ResumableSampler

#: The message-hub key of the sampler state (the runner saves the message hub in every
#: checkpoint and restores it on resume).
STATE_KEY = 'train_sampler'


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` whose checkpoints record how far into the epoch training
    got, and whose resume starts there.

    mmengine's loops resume a checkpoint saved mid-epoch by replaying the data:
    ``EpochBasedTrainLoop`` restarts the epoch, ``IterBasedTrainLoop`` calls ``next()`` on
    the dataloader once per trained batch, which reads and decodes every one of them
    again. Here, after every iteration the loop stores the ``ResumableSampler``'s state
    (seed, epoch, samples trained on this rank) in ``runner.message_hub``, which the
    runner saves in each checkpoint; on resume the sampler starts after those samples,
    and batch indices continue from where they stopped. Needs
    ``train_dataloader.sampler = dict(type='ResumableSampler')``.

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

    def run(self):
        state = self.runner.message_hub.get_info(STATE_KEY)
        if state is not None and state['epoch'] == self._epoch and state['position'] > 0:
            self.sampler.load_state_dict(state)
            print_log(f'resuming epoch {self._epoch + 1} after its first {state["position"]} '
                      'samples per rank (not read again)', logger='current')
        return super().run()

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.sampler.set_epoch(self._epoch)
        self.runner.model.train()
        first = self.sampler.start // self.batch_size
        for idx, data_batch in enumerate(self.dataloader, start=first):
            # recorded before the iteration's hooks, so a checkpoint saved by them holds it
            self._record(min((idx + 1) * self.batch_size, len(self.sampler)))
            self.run_iter(idx, data_batch)
        self.sampler.start = 0
        self.sampler.set_epoch(self._epoch + 1)
        self._record(0)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def _record(self, position: int) -> None:
        self.runner.message_hub.update_info(STATE_KEY, self.sampler.state_dict(position))
