from .clip_mean_pool import CLIPMeanPool
from .clip_stan import CLIPSTAN, feeding_layers
from .stan import PRESETS, STANBranch, STANLayer, TemporalAttention, TemporalConv

__all__ = ['CLIPMeanPool', 'CLIPSTAN', 'feeding_layers', 'PRESETS', 'STANBranch', 'STANLayer',
           'TemporalAttention', 'TemporalConv']
