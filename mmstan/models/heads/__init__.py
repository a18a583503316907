from .linear_head import VideoLinearHead
from .mug_head import MODES as MUG_MODES
from .mug_head import MugHead
from .text_class_head import TextClassHead, read_class_names

__all__ = ['VideoLinearHead', 'TextClassHead', 'read_class_names', 'MugHead', 'MUG_MODES']
