"""The FSDP auto-wrap policy for mmstan models: one FSDP unit per CLIP residual block and
per STAN layer.

mmengine's ``MMFullyShardedDataParallel`` looks ``auto_wrap_policy=dict(type=...)`` up in
mmengine's ``FUNCTIONS`` registry, so a config names it
``auto_wrap_policy=dict(type='mmstan_wrap_policy')`` (``configs/_base_/strategies/fsdp.py``).

A unit's parameters are gathered only when its own ``forward`` runs. STAN's intra-frame
module runs its copied CLIP block in two halves (:mod:`mmstan.models.clip.blocks`), never
through the block's ``forward``, so the policy does not descend into an
``IntraFrameBlock``: its block stays in the unit of the enclosing ``STANLayer``.
"""
from mmengine.registry import FUNCTIONS
from open_clip.transformer import ResidualAttentionBlock
from torch import nn

from mmstan.models.backbones.stan import IntraFrameBlock, STANLayer

#: Modules that become FSDP units: every CLIP block (vision, text and the heads' copies of
#: text blocks, all called through ``forward``) and every STAN layer.
WRAPPED = (ResidualAttentionBlock, STANLayer)
#: Modules that call parts of their children instead of their ``forward``: not descended into.
OPAQUE = (IntraFrameBlock, )


@FUNCTIONS.register_module(name='mmstan_wrap_policy')
def mmstan_wrap_policy(module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
    """FSDP's callable policy (``torch.distributed.fsdp.wrap._recursive_wrap``): with
    ``recurse=True``, whether to look at ``module``'s children; with ``recurse=False``,
    whether ``module`` becomes its own FSDP unit."""
    if recurse:
        return not isinstance(module, OPAQUE)
    return isinstance(module, WRAPPED)
