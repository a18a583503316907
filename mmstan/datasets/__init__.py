from . import transforms  # noqa: F401  (registers transforms)
from .sharded_video_caption import ShardedVideoCaptionDataset
from .unreadable_videos import UnreadableVideosMixin, video_is_readable
from .video_dataset import RobustVideoDataset
from .video_text import VideoCaptionDataset

__all__ = ['RobustVideoDataset', 'ShardedVideoCaptionDataset', 'UnreadableVideosMixin', 'VideoCaptionDataset',
           'video_is_readable']
