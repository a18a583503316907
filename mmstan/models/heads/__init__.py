from .linear_head import VideoLinearHead
from .text_class_head import TextClassHead, read_class_names

__all__ = ['VideoLinearHead', 'TextClassHead', 'read_class_names']
from .mug_head import MODES as MUG_MODES  # noqa: E402
from .mug_head import MugHead  # noqa: E402

__all__ += ['MugHead', 'MUG_MODES']
