"""Build open_clip CLIP / CoCa models and load their weights.

``arch`` names an open_clip model config (``'ViT-B-16'``, ``'coca_ViT-B-32'``, ...) or is
a dict of ``open_clip.CLIP`` arguments (``embed_dim``, ``vision_cfg``, ``text_cfg``), or of
``open_clip.CoCa`` arguments (with ``multimodal_cfg``), for small custom models.
``pretrained`` is ``None`` (random init), a local file (open_clip or OpenAI format, plain
or TorchScript, optionally wrapped in ``state_dict``), an ``http(s)://`` URL of such a file
(downloaded once into the torch hub cache and verified by :mod:`mmstan.utils.download`), or
an open_clip pretrained tag (``'openai'``, ``'laion2b_s34b_b88k'``, ...) which needs network.
"""
import os
from typing import Optional, Union

import open_clip
from torch import nn

from mmstan.apis.checkpoint import load_weights, read_checkpoint
from mmstan.errors import UserError
from mmstan.utils.download import fetch_checkpoint, is_url

ArchType = Union[str, dict]

#: Keys an OpenAI CLIP state dict carries that are not parameters.
OPENAI_META_KEYS = ('input_resolution', 'context_length', 'vocab_size')


def _looks_like_path(pretrained: str) -> bool:
    return (os.sep in pretrained or pretrained.startswith('.')
            or pretrained.endswith(('.pt', '.pth', '.bin', '.safetensors')))


def read_state_dict(path: str, missing_hint: str = 'download it (see README "Pretrained '
                    'weights") or set pretrained=None') -> dict:
    """Read a state dict from ``path`` in any supported format (plain or TorchScript,
    safetensors, wrapped in ``state_dict``/``model``, DDP ``module.`` prefix), with
    :func:`mmstan.apis.read_checkpoint`, the one checkpoint reader.

    Returns a flat ``{name: tensor}`` dict; for CLIP files that is open_clip naming (which
    is OpenAI's naming minus the metadata keys). A missing file raises a one-line
    :class:`UserError` ending with ``missing_hint``.
    """
    return read_checkpoint(path, what='weights file', hint=missing_hint)


def is_openai_format(state: dict) -> bool:
    """OpenAI checkpoints carry ``input_resolution`` and use QuickGELU."""
    return 'input_resolution' in state


def create_clip(arch: ArchType, quick_gelu: bool = False) -> nn.Module:
    """Create a randomly initialised open_clip model (CLIP or CoCa)."""
    if isinstance(arch, dict):
        cfg = dict(arch)
        cfg.setdefault('quick_gelu', quick_gelu)
        return open_clip.CoCa(**cfg) if 'multimodal_cfg' in cfg else open_clip.CLIP(**cfg)
    if arch not in open_clip.list_models():
        raise UserError(f'unknown open_clip architecture {arch!r}; choose one of '
                        'open_clip.list_models(), e.g. ViT-B-32, ViT-B-16, ViT-L-14, coca_ViT-B-32')
    return open_clip.create_model(arch, pretrained=None, force_quick_gelu=quick_gelu)


def shared_or_new_clip(arch: Optional[ArchType], pretrained: Optional[str],
                      clip_model: Optional[nn.Module], owner: str) -> nn.Module:
    """The open_clip model a tower is taken from: ``clip_model`` when the enclosing model
    built one CLIP for all its towers (then ``arch``/``pretrained`` must be unset), else a
    new one from ``arch``/``pretrained``."""
    if clip_model is not None:
        if arch is not None or pretrained is not None:
            raise UserError(f'{owner}: the CLIP is set once on the enclosing model (its `clip=` '
                            f'key); remove arch/pretrained from {owner}')
        return clip_model
    if arch is None:
        raise UserError(f'{owner} needs `arch` (an open_clip architecture name or config dict)')
    return load_clip(arch, pretrained)


def load_clip_from_config(clip: dict, key: str) -> nn.Module:
    """:func:`load_clip` from a config's ``clip=dict(arch=..., pretrained=...)`` at ``key``."""
    unknown = sorted(set(clip) - {'arch', 'pretrained'})
    if unknown or 'arch' not in clip:
        raise UserError(f'{key} takes dict(arch=..., pretrained=...); got keys {sorted(clip)}')
    return load_clip(clip['arch'], clip.get('pretrained'))


def load_clip(arch: ArchType, pretrained: Optional[str] = None) -> nn.Module:
    """Create the open_clip model ``arch`` and load ``pretrained`` weights into it
    (``None``, a local file, an ``http(s)://`` URL of a file, or an open_clip tag)."""
    if pretrained is None:
        return create_clip(arch)
    if is_url(pretrained):
        pretrained = fetch_checkpoint(pretrained)
    if os.path.isfile(pretrained) or _looks_like_path(pretrained):
        state = read_state_dict(pretrained)
        openai = is_openai_format(state)
        model = create_clip(arch, quick_gelu=openai)
        for key in OPENAI_META_KEYS:
            state.pop(key, None)
        return load_weights(model, state, pretrained, f'architecture {arch!r}')
    if isinstance(arch, dict):
        raise UserError(f'pretrained tag {pretrained!r} needs a named open_clip architecture, '
                        'not a custom config; give a local file instead')
    try:
        return open_clip.create_model(arch, pretrained=pretrained)
    except Exception as err:  # open_clip raises RuntimeError / HF hub errors offline
        raise UserError(
            f'could not fetch open_clip weights {arch}/{pretrained} ({type(err).__name__}); '
            f'offline? Download them elsewhere with `python tools/download_clip.py {arch} '
            f'{pretrained} --out DIR`, copy the file here and set pretrained="/path/to/file"'
        ) from err
