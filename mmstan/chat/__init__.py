"""STAN-LLaVA: zero-shot video chat with LLaVA and the post-pretrained STAN branch
([M] §IV-F). Needs the ``chat`` extra (transformers, imported lazily by the functions of
:mod:`.llava` and :mod:`.tiny` only); importing this package does not import it."""
from .branch_weights import branch_config, branch_state
from .hf_clip_weights import hf_vision_to_open_clip, open_clip_arch, open_clip_from_hf
from .video_tower import STANVideoTower

__all__ = ['STANVideoTower', 'branch_config', 'branch_state', 'hf_vision_to_open_clip',
           'open_clip_arch', 'open_clip_from_hf']
