"""Reading, checking and writing for the checkpoint converters of
``tools/model_converters/`` (official STAN checkpoints, :mod:`.official_checkpoint`;
OpenAI / open_clip CLIP files): what they print, and their one ``error:`` line and exit
status 1 (:func:`fail`) for a file that does not convert.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

from mmstan.apis import read_checkpoint
from mmstan.errors import UserError

#: How many unmatched keys the one-line error names.
SHOWN = 10


def fail(message: str) -> None:
    """End the tool with one ``error:`` line on stderr and exit status 1."""
    raise SystemExit(f'error: {message}')


def read(path: str, what: str) -> Dict[str, Tensor]:
    """The flat state dict of ``path`` (a file or an http(s) URL, any format
    :func:`mmstan.apis.read_checkpoint`, the one checkpoint reader, reads)."""
    try:
        state = read_checkpoint(path, hint=f'give the path of {what}')
    except UserError as err:
        fail(str(err))
    tensors = {k: v for k, v in state.items() if isinstance(v, Tensor)}
    print(f'read {len(tensors)} tensors from {path}')
    return tensors


def check_unmatched(path: str, unmatched: Sequence[str], layout: str) -> None:
    """Print every unmatched key, then fail with one line naming them; no-op if none."""
    if not unmatched:
        return
    for key in unmatched:
        print(f'unmatched: {key}')
    shown = ', '.join(unmatched[:SHOWN]) + (f', ... ({len(unmatched) - SHOWN} more)'
                                           if len(unmatched) > SHOWN else '')
    fail(f'{len(unmatched)} keys of {path} are not part of {layout}: {shown}; nothing written '
         '(is it the right file?)')


def write(path: str, state_dict: Dict[str, Tensor], meta: Optional[Dict[str, str]]) -> None:
    """Save an mmengine checkpoint ``{'state_dict', 'meta'}``, or with ``meta=None`` the
    bare state dict; either loads with ``weights_only=True``."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tensors = {k: v.detach().clone().contiguous() for k, v in state_dict.items()}
    torch.save(tensors if meta is None else {'state_dict': tensors, 'meta': dict(meta)}, path)
    print(f'wrote {len(tensors)} tensors to {path}')


def describe(keys: List[str], what: str) -> None:
    """One line about keys that were left out on purpose."""
    if keys:
        print(f'left out {len(keys)} keys of {what} (e.g. {keys[0]})')


def print_target(target: Dict[str, object], retriever: bool) -> None:
    """The config lines the converted weights fit (from :func:`official_target`)."""
    arch = target['arch'] or (f"<an open_clip ViT with width {target['width']}, patch "
                              f"{target['patch_size']}, {target['clip_layers']} layers, QuickGELU>")
    backbone = f"backbone=dict(type='CLIPSTAN', preset='official', num_layers={target['num_layers']})"
    if retriever:
        print(f"use with: model=dict(type='VideoTextRetriever', clip=dict(arch='{arch}'), {backbone}, ...)")
    else:
        print(f"use with: {backbone[:-1]}, arch='{arch}')")
