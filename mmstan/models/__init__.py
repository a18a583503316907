from . import backbones, heads  # noqa: F401  (registers into mmaction's MODELS)
from .clip import CLIPVision, load_clip

__all__ = ['CLIPVision', 'load_clip']
