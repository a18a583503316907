"""Convert checkpoints of the official STAN / Mug-STAN code (github farewellthree/STAN)
into mmstan's naming.

The official retriever ``CLIPSimilarity_split`` holds ``backbone`` (``VITCLIPPretrained_STAN``),
``text_backbone`` (``CLIPTextPretrained``) and ``adapter`` (``Mug_head``). The backbone
keeps the parts of a Hugging Face ``CLIPModel`` as its own attributes, so its keys are::

    backbone.class_embedding                                  [D]
    backbone.patch_embedding.weight                           [D, 3, P, P]   (no bias)
    backbone.position_embedding.weight                        [1+L, D]       (nn.Embedding)
    backbone.{pre_layrnorm, post_layernorm}.{weight, bias}
    backbone.layers.N.<HF layer>                              CLIP blocks
    backbone.visual_projection.weight                         [E, D]         (no bias)
    backbone.STAN_S_layers.K.<HF layer>                       intra-frame modules
    backbone.STAN_T_layers.K.{self_attn.{q,k,v,out}_proj, layer_norm1, temporal_fc}.*
    backbone.STAN_time_embed.weight                           [64, D]        (nn.Embedding)

where ``<HF layer>`` is ``{self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2,
layer_norm2}.{weight, bias}``. ``CLIPTextPretrained`` keeps HF's ``CLIPTextTransformer`` as
``text_model`` and the projection beside it::

    text_backbone.text_model.embeddings.{token_embedding, position_embedding}.weight
    text_backbone.text_model.embeddings.position_ids          (buffer; older transformers only)
    text_backbone.text_model.encoder.layers.N.<HF layer>
    text_backbone.text_model.final_layer_norm.{weight, bias}
    text_backbone.text_projection.weight                      [E, W]         (no bias)

``Mug_head`` has parameters only in its ``drl_wti`` mode (``text_weight_fc`` /
``video_weight_fc``, one linear layer applied to un-normalised features), which mmstan's
``WTIHead`` (a two-layer MLP on normalised features) cannot reproduce: such keys are
reported as unmatched. The released configs use the parameter-free Mug modes.

Targets (open_clip naming): ``CLIPSTAN(preset='official')`` keys relative to the backbone
(``clip.visual.*``, ``stan.*``) and, for ``VideoTextRetriever``, the open_clip text tower
under ``text_encoder.text.`` (``token_embedding.weight``, ``positional_embedding``,
``transformer.resblocks.N.*``, ``ln_final.*``, ``text_projection``).

The official temporal module applies its attention's ``out_proj`` and then the
zero-initialised ``temporal_fc``; mmstan's :class:`TemporalAttention` has the single
``proj = temporal_fc ∘ out_proj`` (``W = W_fc W_out``, ``b = W_fc b_out + b_fc``). The
branch's first-layer embeddings are the official ones: each patch token gets CLIP's
spatial position embedding ``pos[1:]`` again (``stan.spatial_pos``), the video [CLS] is
averaged with CLIP's embedded class token ``class_emb + pos[0]`` (``stan.cls_embed``), and
frame ``t`` gets row ``t`` of the 64-row ``STAN_time_embed`` (``stan.temporal_pos``).
"""
import re
from typing import Dict, List, Set, Tuple

import torch
from torch import Tensor

#: Top-level attributes of the official retriever ``CLIPSimilarity_split``.
VISION_PREFIX, TEXT_PREFIX, HEAD_PREFIX = 'backbone.', 'text_backbone.', 'adapter.'

#: HF ``CLIPEncoderLayer`` -> open_clip ``ResidualAttentionBlock`` (besides q/k/v).
_BLOCK = {
    'layer_norm1': 'ln_1', 'layer_norm2': 'ln_2', 'mlp.fc1': 'mlp.c_fc', 'mlp.fc2': 'mlp.c_proj',
    'self_attn.out_proj': 'attn.out_proj',
}


class _Source:
    """A state dict whose reads are recorded, so what was never read can be reported."""

    def __init__(self, state: Dict[str, Tensor]):
        self.state = state
        self.used: Set[str] = set()

    def take(self, key: str) -> Tensor:
        if key not in self.state:
            raise KeyError(key)
        self.used.add(key)
        return self.state[key]

    def indices(self, prefix: str) -> List[int]:
        """Sorted ``N`` of the keys ``<prefix>N.*``."""
        pattern = re.compile(re.escape(prefix) + r'(\d+)\.')
        return sorted({int(m.group(1)) for k in self.state if (m := pattern.match(k))})

    def unused(self, prefix: str = '') -> List[str]:
        return sorted(k for k in self.state if k.startswith(prefix) and k not in self.used)


def _hf_layer(src: _Source, prefix: str, dst: str, out: Dict[str, Tensor]) -> None:
    """One HF CLIP encoder layer ``prefix*`` -> one open_clip block ``dst*``."""
    for kind in ('weight', 'bias'):
        out[f'{dst}attn.in_proj_{kind}'] = torch.cat(
            [src.take(f'{prefix}self_attn.{n}_proj.{kind}') for n in 'qkv'], dim=0)
        for hf, oc in _BLOCK.items():
            out[f'{dst}{oc}.{kind}'] = src.take(f'{prefix}{hf}.{kind}')


def _temporal_layer(src: _Source, prefix: str, dst: str, out: Dict[str, Tensor]) -> None:
    """``CLIPLayer_AttnTime`` -> :class:`TemporalAttention` (out_proj and temporal_fc merged)."""
    for kind in ('weight', 'bias'):
        out[f'{dst}qkv.{kind}'] = torch.cat(
            [src.take(f'{prefix}self_attn.{n}_proj.{kind}') for n in 'qkv'], dim=0)
        out[f'{dst}norm.{kind}'] = src.take(f'{prefix}layer_norm1.{kind}')
    w_out = src.take(f'{prefix}self_attn.out_proj.weight')
    b_out = src.take(f'{prefix}self_attn.out_proj.bias')
    w_fc, b_fc = src.take(f'{prefix}temporal_fc.weight'), src.take(f'{prefix}temporal_fc.bias')
    w_fc64 = w_fc.double()
    out[f'{dst}proj.weight'] = (w_fc64 @ w_out.double()).to(w_out.dtype)
    out[f'{dst}proj.bias'] = (w_fc64 @ b_out.double() + b_fc.double()).to(b_out.dtype)


def _convert_vision(src: _Source, p: str) -> Dict[str, Tensor]:
    """``VITCLIPPretrained_STAN`` keys under ``p`` -> ``CLIPSTAN`` keys."""
    out: Dict[str, Tensor] = {}
    class_emb = src.take(f'{p}class_embedding')
    pos = src.take(f'{p}position_embedding.weight')
    out['clip.visual.class_embedding'] = class_emb
    out['clip.visual.positional_embedding'] = pos
    out['clip.visual.conv1.weight'] = src.take(f'{p}patch_embedding.weight')
    for hf, oc in (('pre_layrnorm', 'ln_pre'), ('post_layernorm', 'ln_post')):
        for kind in ('weight', 'bias'):
            out[f'clip.visual.{oc}.{kind}'] = src.take(f'{p}{hf}.{kind}')
    out['clip.visual.proj'] = src.take(f'{p}visual_projection.weight').T.contiguous()
    for i in src.indices(f'{p}layers.'):
        _hf_layer(src, f'{p}layers.{i}.', f'clip.visual.transformer.resblocks.{i}.', out)
    spatial, temporal = src.indices(f'{p}STAN_S_layers.'), src.indices(f'{p}STAN_T_layers.')
    if spatial != temporal or spatial != list(range(len(spatial))):
        raise KeyError(f'{p}STAN_S_layers / {p}STAN_T_layers (layers {spatial} / {temporal})')
    for k in spatial:
        _hf_layer(src, f'{p}STAN_S_layers.{k}.', f'stan.layers.{k}.spatial.block.', out)
        _temporal_layer(src, f'{p}STAN_T_layers.{k}.', f'stan.layers.{k}.temporal.', out)
    out['stan.temporal_pos'] = src.take(f'{p}STAN_time_embed.weight')
    out['stan.spatial_pos'] = pos[1:].clone()
    out['stan.cls_embed'] = class_emb + pos[0]
    return out


def _convert_text(src: _Source, p: str) -> Dict[str, Tensor]:
    """``CLIPTextPretrained`` keys under ``p`` -> mmstan/open_clip text tower keys."""
    m = f'{p}text_model.'
    out = {
        'token_embedding.weight': src.take(f'{m}embeddings.token_embedding.weight'),
        'positional_embedding': src.take(f'{m}embeddings.position_embedding.weight'),
        'text_projection': src.take(f'{p}text_projection.weight').T.contiguous(),
    }
    ids = f'{m}embeddings.position_ids'
    if ids in src.state:  # a buffer older transformers saved: the identity index, no weight
        expected = torch.arange(out['positional_embedding'].shape[0])
        if torch.equal(src.state[ids].reshape(-1).long(), expected):
            src.take(ids)
    for kind in ('weight', 'bias'):
        out[f'ln_final.{kind}'] = src.take(f'{m}final_layer_norm.{kind}')
    for i in src.indices(f'{m}encoder.layers.'):
        _hf_layer(src, f'{m}encoder.layers.{i}.', f'transformer.resblocks.{i}.', out)
    return out


def _run(convert, src: _Source, prefix: str) -> Dict[str, Tensor]:
    try:
        return convert(src, prefix)
    except KeyError as err:
        raise KeyError(f'official checkpoint lacks {err.args[0]}') from None


def convert_official_backbone(state: Dict[str, Tensor], prefix: str = VISION_PREFIX
                              ) -> Tuple[Dict[str, Tensor], List[str], List[str]]:
    """Official vision tower + STAN branch -> ``CLIPSTAN(preset='official')`` state dict.

    Args:
        state: the official state dict (retriever keys, or a bare backbone with ``prefix=''``).
        prefix: where the ``VITCLIPPretrained_STAN`` keys live.

    Returns:
        ``(converted, unmatched, skipped)``: keys relative to ``CLIPSTAN``; keys under
        ``prefix`` (or under no known official prefix) that were not converted; keys of
        the text tower and head, which a backbone does not hold.

    Raises:
        KeyError: a key the official layout must have is missing.
    """
    src = _Source(state)
    out = _run(_convert_vision, src, prefix)
    others = () if prefix == '' else (TEXT_PREFIX, HEAD_PREFIX)
    skipped = [k for k in src.unused() if k.startswith(others)] if others else []
    unmatched = [k for k in src.unused() if k not in set(skipped)]
    return out, unmatched, skipped


def convert_official_retriever(state: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], List[str]]:
    """Official ``CLIPSimilarity_split`` -> ``VideoTextRetriever`` state dict
    (``backbone.*`` for ``CLIPSTAN(preset='official')``, ``text_encoder.text.*`` for the
    open_clip text tower; the Mug head has no parameters).

    Returns ``(converted, unmatched)``; raises ``KeyError`` when a required key is missing.
    """
    src = _Source(state)
    vision = _run(_convert_vision, src, VISION_PREFIX)
    text = _run(_convert_text, src, TEXT_PREFIX)
    out = {f'backbone.{k}': v for k, v in vision.items()}
    out.update({f'text_encoder.text.{k}': v for k, v in text.items()})
    return out, src.unused()


#: (width, patch size, layers) of the official HF CLIP vision towers -> open_clip names
#: (OpenAI weights, hence QuickGELU).
_OPENAI_ARCHS = {(768, 32, 12): 'ViT-B-32-quickgelu', (768, 16, 12): 'ViT-B-16-quickgelu',
                 (1024, 14, 24): 'ViT-L-14-quickgelu'}


def official_target(state: Dict[str, Tensor], prefix: str = VISION_PREFIX) -> Dict[str, object]:
    """What an mmstan config needs to hold the converted weights, read off the shapes:
    ``dict(arch=<open_clip name or None>, num_layers=K, width=D, patch_size=P, clip_layers=L)``."""
    src = _Source(state)
    width = state[f'{prefix}class_embedding'].shape[0]
    patch = state[f'{prefix}patch_embedding.weight'].shape[-1]
    layers = len(src.indices(f'{prefix}layers.'))
    return dict(arch=_OPENAI_ARCHS.get((width, patch, layers)),
                num_layers=len(src.indices(f'{prefix}STAN_S_layers.')),
                width=width, patch_size=patch, clip_layers=layers)
