"""Convert checkpoints of the official STAN code (github farewellthree/STAN, HF
``transformers`` CLIP naming) into mmstan's ``CLIPSTAN(preset='official')`` naming.

Official vision keys (prefix ``backbone.`` by default)::

    embeddings.{class_embedding, patch_embedding.weight, position_embedding.weight}
    pre_layrnorm.*, post_layernorm.*, visual_projection.weight
    encoder.layers.N.{self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2, layer_norm2}.*
    STAN_S_layers.K.<same as an encoder layer>          (intra-frame modules)
    STAN_T_layers.K.{<norm>, self_attn.{q,k,v,out}_proj, temporal_fc}.*   (temporal modules)
    STAN_time_embed.weight                               ([64, D] temporal embedding)

The temporal module's attention output projection and its zero-initialised
``temporal_fc`` compose to the single ``proj`` of :class:`TemporalAttention`
(``W = W_fc W_out``, ``b = W_fc b_out + b_fc``). Unmapped keys are reported, not dropped
silently.
"""
import re
from typing import Dict, List, Tuple

import torch
from torch import Tensor

_BLOCK = {
    'layer_norm1': 'ln_1', 'layer_norm2': 'ln_2', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj',
    'self_attn.out_proj': 'attn.out_proj',
}


def _convert_block(src: Dict[str, Tensor], prefix: str, dst_prefix: str,
                   out: Dict[str, Tensor], used: set) -> None:
    """One HF CLIP encoder layer -> one open_clip ResidualAttentionBlock."""
    for kind in ('weight', 'bias'):
        q, k, v = (f'{prefix}self_attn.{n}_proj.{kind}' for n in 'qkv')
        out[f'{dst_prefix}attn.in_proj_{kind}'] = torch.cat([src[q], src[k], src[v]], dim=0)
        used.update((q, k, v))
        for hf, oc in _BLOCK.items():
            key = f'{prefix}{hf}.{kind}'
            out[f'{dst_prefix}{oc}.{kind}'] = src[key]
            used.add(key)


def convert_official(state: Dict[str, Tensor], num_frames: int, prefix: str = 'backbone.'
                     ) -> Tuple[Dict[str, Tensor], List[str]]:
    """Official STAN vision+branch weights -> ``CLIPSTAN(preset='official')`` state dict.

    Returns ``(converted, unmapped_keys)``; converted keys are relative to the backbone.
    """
    src = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    out: Dict[str, Tensor] = {}
    used: set = set()

    def take(key: str) -> Tensor:
        used.add(key)
        return src[key]

    class_emb = take('embeddings.class_embedding')
    pos = take('embeddings.position_embedding.weight')
    out['clip.visual.class_embedding'] = class_emb
    out['clip.visual.positional_embedding'] = pos
    out['clip.visual.conv1.weight'] = take('embeddings.patch_embedding.weight')
    for hf, oc in (('pre_layrnorm', 'ln_pre'), ('post_layernorm', 'ln_post')):
        for kind in ('weight', 'bias'):
            out[f'clip.visual.{oc}.{kind}'] = take(f'{hf}.{kind}')
    out['clip.visual.proj'] = take('visual_projection.weight').T.contiguous()

    layers = sorted({int(m.group(1)) for k in src if (m := re.match(r'encoder\.layers\.(\d+)\.', k))})
    for i in layers:
        _convert_block(src, f'encoder.layers.{i}.', f'clip.visual.transformer.resblocks.{i}.',
                       out, used)
    stan_layers = sorted({int(m.group(1)) for k in src
                          if (m := re.match(r'STAN_S_layers\.(\d+)\.', k))})
    for k in stan_layers:
        _convert_block(src, f'STAN_S_layers.{k}.', f'stan.layers.{k}.spatial.block.', out, used)
        t = f'STAN_T_layers.{k}.'
        dst = f'stan.layers.{k}.temporal.'
        for kind in ('weight', 'bias'):
            q, kk, v = (take(f'{t}self_attn.{n}_proj.{kind}') for n in 'qkv')
            out[f'{dst}qkv.{kind}'] = torch.cat([q, kk, v], dim=0)
        w_out, b_out = take(f'{t}self_attn.out_proj.weight'), take(f'{t}self_attn.out_proj.bias')
        w_fc, b_fc = take(f'{t}temporal_fc.weight'), take(f'{t}temporal_fc.bias')
        out[f'{dst}proj.weight'] = w_fc @ w_out
        out[f'{dst}proj.bias'] = w_fc @ b_out + b_fc
        norms = [key for key in src if key.startswith(t) and key not in used
                 and key.endswith('.weight') and src[key].dim() == 1]
        if len(norms) == 1:
            name = norms[0][:-len('.weight')]
            out[f'{dst}norm.weight'] = take(f'{name}.weight')
            out[f'{dst}norm.bias'] = take(f'{name}.bias')
    time_embed = take('STAN_time_embed.weight')
    out['stan.temporal_pos'] = time_embed[:num_frames]
    out['stan.spatial_pos'] = pos[1:] + class_emb
    out['stan.cls_embed'] = class_emb + pos[0]
    unmapped = sorted(prefix + k for k in src if k not in used)
    return out, unmapped
