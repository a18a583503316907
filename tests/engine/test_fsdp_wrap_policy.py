"""mmstan_wrap_policy: which modules of an mmstan model FSDP's auto-wrap turns into units."""
import os.path as osp

import torch
from mmengine.config import Config
from open_clip.transformer import ResidualAttentionBlock

from conftest import ROOT
from mmstan.engine.fsdp_wrap_policy import mmstan_wrap_policy
from mmstan.models.backbones.stan import STANLayer

DEMO = osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_retrieval.py')


def wrapped_by_policy(model: torch.nn.Module) -> set:
    """The modules torch's ``_recursive_wrap`` would wrap with ``mmstan_wrap_policy``:
    descend where ``recurse=True`` says so, wrap where ``recurse=False`` says so (post-order,
    the root itself never)."""
    found = set()

    def visit(module):
        if not mmstan_wrap_policy(module, recurse=True, nonwrapped_numel=0):
            return
        for child in module.children():
            visit(child)
            if mmstan_wrap_policy(child, recurse=False, nonwrapped_numel=0):
                found.add(child)

    visit(model)
    return found


def test_policy_wraps_clip_blocks_and_stan_layers_that_run_forward():
    """Every CLIP block (vision, text) and STAN layer; not the block copied into a STAN
    intra-frame module, which runs in halves, never through its own forward."""
    from mmaction.registry import MODELS

    cfg = Config.fromfile(DEMO)
    model = MODELS.build(cfg.model)
    calls = {}
    hooks = [m.register_forward_hook(lambda mod, args, out: calls.__setitem__(mod, True))
             for m in model.modules() if isinstance(m, (ResidualAttentionBlock, STANLayer))]
    model.train()
    model(dict(imgs=torch.randn(2, 1, 3, 8, 32, 32), text=torch.randint(1, 100, (2, 16))), mode='loss')
    for hook in hooks:
        hook.remove()
    wrapped = wrapped_by_policy(model)
    vision = list(model.backbone.clip.blocks)
    text = list(model.text_encoder.text.transformer.resblocks)
    stan = list(model.backbone.stan.layers)
    assert wrapped == set(vision + text + stan)
    assert len(vision) == len(text) == len(stan) == 2
    assert set(calls) == wrapped  # exactly the blocks whose forward runs
    inner = [layer.spatial.block for layer in stan]
    assert all(isinstance(block, ResidualAttentionBlock) and block not in calls for block in inner)
