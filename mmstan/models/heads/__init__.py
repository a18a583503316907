from .linear_head import VideoLinearHead

__all__ = ['VideoLinearHead']
