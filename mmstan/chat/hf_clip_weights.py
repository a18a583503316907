"""LLaVA's CLIP vision tower (Hugging Face ``CLIPVisionModel``) as an open_clip tower.

STAN has one implementation in mmstan (:class:`~mmstan.models.backbones.CLIPSTAN` on an
open_clip ``VisionTransformer``), so the chatbot's CLIP is not used through transformers:
its weights are loaded into an open_clip tower of the same shape. The key mapping is the
one of the official STAN checkpoints, whose vision towers are HF CLIP layers too
(:mod:`mmstan.models.official_checkpoint`): q/k/v projections concatenated into
``in_proj``, ``layer_norm{1,2}`` -> ``ln_{1,2}``, ``mlp.fc{1,2}`` -> ``mlp.c_{fc,proj}``,
``pre_layrnorm`` -> ``ln_pre``, ``post_layernorm`` -> ``ln_post``, the patch convolution
(no bias) -> ``conv1``, the position table -> ``positional_embedding``. OpenAI's CLIP (and
so LLaVA's) uses QuickGELU. ``CLIPVisionModel`` has no projection; open_clip's ``proj``
stays as built and is never used (LLaVA reads hidden states, not embeddings).

tests/chat/test_video_tower.py checks the result against LLaVA's own image features.
"""
from typing import Dict, List, Tuple

from torch import Tensor, nn

from mmstan.errors import UserError
from mmstan.models.clip import create_clip
from mmstan.models.official_checkpoint import _hf_layer, _Source

#: The end of the one key that locates an HF CLIP vision tower in a state dict.
ANCHOR = 'embeddings.class_embedding'

#: A token-free text tower: open_clip builds a whole CLIP, the chat tower keeps ``visual``.
NO_TEXT = dict(context_length=2, vocab_size=2, width=8, heads=1, layers=1)

#: HF activations -> open_clip's ``quick_gelu`` switch.
ACTIVATIONS = {'quick_gelu': True, 'gelu': False}


def open_clip_arch(vision_config) -> dict:
    """An ``open_clip.CLIP`` config dict whose ``visual`` has the shape of the HF
    ``CLIPVisionConfig`` ``vision_config`` (LLaVA-1.5: 336 px, patch 14, 24 x 1024)."""
    act = getattr(vision_config, 'hidden_act', 'quick_gelu')
    eps = getattr(vision_config, 'layer_norm_eps', 1e-5)
    if act not in ACTIVATIONS or abs(eps - 1e-5) > 1e-12:
        raise UserError(f'LLaVA vision tower: hidden_act={act!r}, layer_norm_eps={eps} is not a CLIP '
                        "ViT open_clip can hold (needs quick_gelu or gelu and eps 1e-5)")
    width, heads = vision_config.hidden_size, vision_config.num_attention_heads
    return dict(
        embed_dim=width, quick_gelu=ACTIVATIONS[act], text_cfg=dict(NO_TEXT),
        vision_cfg=dict(image_size=vision_config.image_size, patch_size=vision_config.patch_size,
                        width=width, layers=vision_config.num_hidden_layers, head_width=width // heads,
                        mlp_ratio=vision_config.intermediate_size / width))


def tower_prefix(state: Dict[str, Tensor]) -> str:
    """Where the HF vision tower's keys live: ``vision_model.`` (``CLIPVisionModel``),
    ``model.vision_tower.vision_model.`` (LLaVA in transformers >= 4.52),
    ``vision_tower.vision_model.`` (older LLaVA files)."""
    found = sorted(k[:-len(ANCHOR)] for k in state if k.endswith(ANCHOR))
    if len(found) != 1:
        raise UserError(f'expected one HF CLIP vision tower (a key ending in {ANCHOR!r}), '
                        f'found {len(found)}: {found[:3]}')
    return found[0]


def hf_vision_to_open_clip(state: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], List[str]]:
    """HF CLIP vision tower keys -> open_clip ``visual.*`` keys.

    Returns ``(converted, unmatched)``: ``unmatched`` are keys under the tower's prefix
    that were not used (``embeddings.position_ids``, a buffer, is expected)."""
    p = tower_prefix(state)
    src = _Source(state)
    out = {
        'visual.class_embedding': src.take(f'{p}embeddings.class_embedding'),
        'visual.conv1.weight': src.take(f'{p}embeddings.patch_embedding.weight'),
        'visual.positional_embedding': src.take(f'{p}embeddings.position_embedding.weight'),
    }
    for hf, oc in (('pre_layrnorm', 'ln_pre'), ('post_layernorm', 'ln_post')):
        for kind in ('weight', 'bias'):
            out[f'visual.{oc}.{kind}'] = src.take(f'{p}{hf}.{kind}')
    for i in src.indices(f'{p}encoder.layers.'):
        _hf_layer(src, f'{p}encoder.layers.{i}.', f'visual.transformer.resblocks.{i}.', out)
    unmatched = [k for k in src.unused(p) if not k.endswith('embeddings.position_ids')]
    return out, unmatched


def open_clip_from_hf(vision_config, state: Dict[str, Tensor]) -> nn.Module:
    """An open_clip CLIP whose ``visual`` holds the HF vision tower ``state`` (keys as
    :func:`tower_prefix` finds them), in ``state``'s dtype. Every tower weight must
    match; only open_clip's unused ``visual.proj`` keeps its initial value."""
    model = create_clip(open_clip_arch(vision_config))
    converted, unmatched = hf_vision_to_open_clip(state)
    if unmatched:
        raise UserError(f'LLaVA vision tower: {len(unmatched)} weights have no place in a CLIP ViT '
                        f'({", ".join(unmatched[:3])}); is it a CLIP vision tower?')
    missing, unexpected = model.visual.load_state_dict(
        {k[len('visual.'):]: v for k, v in converted.items()}, strict=False)
    if unexpected or set(missing) != {'proj'}:
        raise UserError(f'LLaVA vision tower does not fit open_clip {open_clip_arch(vision_config)}: '
                        f'missing {missing[:3]}, unexpected {unexpected[:3]}')
    return model.to(next(iter(converted.values())).dtype)
