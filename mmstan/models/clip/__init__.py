from .blocks import attention_residual, block_heads, block_width, mlp_residual
from .text import CLIPText, text_tower
from .vision import CLIPVision, resample_pos_embed
from .weights import create_clip, load_clip, load_clip_from_config, read_state_dict, shared_or_new_clip

__all__ = ['CLIPText', 'CLIPVision', 'attention_residual', 'block_heads', 'block_width',
           'create_clip', 'load_clip', 'load_clip_from_config', 'mlp_residual', 'read_state_dict',
           'resample_pos_embed', 'shared_or_new_clip', 'text_tower']
