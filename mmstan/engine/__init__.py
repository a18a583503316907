from .retrieval_loop import VideoTextRetrievalTestLoop, VideoTextRetrievalValLoop

__all__ = ['VideoTextRetrievalTestLoop', 'VideoTextRetrievalValLoop']
