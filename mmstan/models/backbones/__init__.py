from .clip_mean_pool import CLIPMeanPool

__all__ = ['CLIPMeanPool']
