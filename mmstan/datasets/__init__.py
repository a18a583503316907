from . import transforms  # noqa: F401  (registers transforms)
from .unreadable_videos import UnreadableVideosMixin, video_is_readable
from .video_dataset import RobustVideoDataset
from .video_text import VideoCaptionDataset

__all__ = ['RobustVideoDataset', 'UnreadableVideosMixin', 'VideoCaptionDataset',
           'video_is_readable']
