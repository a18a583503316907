from .clip2video_head import CLIP2VideoHead
from .linear_head import VideoLinearHead
from .mug_head import MODES as MUG_MODES
from .mug_head import MugHead
from .seq_transformer_head import SeqTransfHead
from .temporal_alignment_block import TemporalAlignmentBlock
from .temporal_difference_block import TemporalDifferenceBlock
from .text_class_head import TextClassHead, read_class_names
from .text_layers import TextLayers

__all__ = ['VideoLinearHead', 'TextClassHead', 'read_class_names', 'MugHead', 'MUG_MODES',
           'SeqTransfHead', 'CLIP2VideoHead', 'TemporalDifferenceBlock',
           'TemporalAlignmentBlock', 'TextLayers']
