"""mmaction2's ``VideoDataset`` (``path label`` lists) with unreadable-video handling."""
from mmaction.datasets import VideoDataset
from mmaction.registry import DATASETS

from .unreadable_videos import UnreadableVideosMixin


@DATASETS.register_module()
class RobustVideoDataset(UnreadableVideosMixin, VideoDataset):
    """``VideoDataset`` that skips missing/corrupt videos with a warning naming them.

    Same annotation format and arguments as mmaction2's ``VideoDataset`` plus
    ``check_videos`` (see :class:`UnreadableVideosMixin`).
    """
