from .video_text import VideoTextRetriever

__all__ = ['VideoTextRetriever']
