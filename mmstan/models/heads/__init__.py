from .linear_head import VideoLinearHead
from .text_class_head import TextClassHead, read_class_names

__all__ = ['VideoLinearHead', 'TextClassHead', 'read_class_names']
