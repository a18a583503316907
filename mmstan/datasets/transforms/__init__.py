from .shard_decord import ShardDecordInit
from .text import OpenCLIPTokenize

__all__ = ['OpenCLIPTokenize', 'ShardDecordInit']
