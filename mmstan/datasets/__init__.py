from .unreadable_videos import UnreadableVideosMixin, video_is_readable
from .video_dataset import RobustVideoDataset

__all__ = ['RobustVideoDataset', 'UnreadableVideosMixin', 'video_is_readable']
