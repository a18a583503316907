from .text import CLIPText
from .vision import CLIPVision, resample_pos_embed
from .weights import create_clip, load_clip, read_state_dict

__all__ = ['CLIPText', 'CLIPVision', 'resample_pos_embed', 'create_clip', 'load_clip',
           'read_state_dict']
