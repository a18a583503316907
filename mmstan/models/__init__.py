from . import backbones, heads, recognizers, retrievers, roi_extractors  # noqa: F401  (registers into mmaction's MODELS)
from .clip import CLIPText, CLIPVision, load_clip

__all__ = ['CLIPText', 'CLIPVision', 'load_clip']
