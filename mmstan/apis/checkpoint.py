"""The one checkpoint reader: every place that reads weights from a file (``init_model``,
the demos, ``tools/search.py``, the converters, CLIP ``pretrained=`` files) reads them here.

- ``checkpoint`` is a local path or an ``http(s)://`` URL; URLs are downloaded once into
  torch's hub cache and verified (:func:`mmstan.utils.download.fetch_checkpoint`: a
  ``sha256=`` argument, a ``#sha256=`` URL fragment or an OpenMMLab ``name-<hash>.pth``
  file name). A ``sha256=`` given for a local file is checked too.
- Files load with ``weights_only=True`` (no code runs), or as safetensors, or, for
  OpenAI's released CLIP ``.pt`` files, as a TorchScript archive.
- The weights are unwrapped from an mmengine checkpoint's ``state_dict`` (or a ``model``
  entry) and a DDP ``module.`` prefix is removed.

:func:`load_weights` puts them into a model and turns any misfit (missing, unexpected or
differently shaped weights) into one :class:`UserError` line.
"""
import re
import zipfile
from typing import Dict, Optional

from torch import nn

from mmstan.errors import UserError
from mmstan.utils.download import fetch_checkpoint, file_sha256, is_url, load_checkpoint_file
from mmstan.utils.paths import require_file

#: What a missing checkpoint's error says to do.
CHECKPOINT_HINT = 'give a checkpoint file or an http(s) URL'

#: How many names of missing / unexpected weights an error shows.
SHOWN = 3

_SHAPE = r'torch\.Size\((\[[^\]]*\])\)'
_SIZE_MISMATCH = re.compile(rf'size mismatch for ([^:]+): copying a param with shape {_SHAPE} '
                            rf'from checkpoint, the shape in current model is {_SHAPE}')


def checkpoint_file(checkpoint: str, sha256: Optional[str] = None, what: str = 'checkpoint',
                    hint: str = CHECKPOINT_HINT) -> str:
    """The local file of ``checkpoint``: a URL is fetched (verified) into the cache; a
    path must exist (else ``"<what> not found: <path>; <hint>"``) and match ``sha256``
    (a full hash or a prefix of 8+ hex digits) when given."""
    if is_url(checkpoint):
        return fetch_checkpoint(checkpoint, sha256=sha256)
    path = require_file(checkpoint, what, hint)
    if sha256 and not file_sha256(path).startswith(sha256.lower()):
        raise UserError(f'{path} does not match its expected sha256 {sha256} (another or a '
                        'corrupt file); nothing loaded')
    return path


def is_torchscript(path: str) -> bool:
    """True for a TorchScript archive (a zip with compiled ``code/`` and ``constants.pkl``),
    which ``torch.load(weights_only=True)`` cannot read."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('/constants.pkl') for name in archive.namelist())


def read_checkpoint(checkpoint: str, sha256: Optional[str] = None, what: str = 'checkpoint',
                    hint: str = CHECKPOINT_HINT) -> Dict[str, object]:
    """The flat ``{name: tensor}`` weights of ``checkpoint`` (path or URL), read without
    running code, unwrapped from ``state_dict`` / ``model`` and without ``module.``.

    Raises:
        UserError: no such file (``"<what> not found: ...; <hint>"``), a failed or
            mismatching download, an unreadable file, or one that holds no weights.
    """
    path = checkpoint_file(checkpoint, sha256, what, hint)
    if is_torchscript(path):  # OpenAI's released CLIP .pt files are TorchScript archives
        import torch
        state = torch.jit.load(path, map_location='cpu').state_dict()
    else:
        state = load_checkpoint_file(path)
    for key in ('state_dict', 'model'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state:
        raise UserError(f'{checkpoint} holds no weights (no state dict, or an empty one)')
    return {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}


def _names(keys, shown: int = SHOWN) -> str:
    keys = list(keys)
    return ', '.join(keys[:shown]) + (f', ... ({len(keys) - shown} more)' if len(keys) > shown else '')


def load_weights(model: nn.Module, state: Dict[str, object], source: str, target: str,
                 hint: str = '') -> nn.Module:
    """Load every weight of ``model`` from ``state`` (read from ``source``); anything
    that does not fit -- weights the model has and ``state`` lacks, weights of ``state``
    the model has no place for, weights of another shape -- is one :class:`UserError`
    ``"<source> does not match <target>: ...; <hint>"`` naming them. Loading goes through
    the modules' own ``_load_from_state_dict`` (e.g. CLIPSTAN's resampling of a
    temporal embedding stored for another frame count)."""
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
        shapes = []
    except RuntimeError as err:  # only size mismatches raise when strict=False
        shapes = [f'{m.group(1)} {m.group(2)} vs {m.group(3)}' for m in _SIZE_MISMATCH.finditer(str(err))]
        if not shapes:
            raise
        own = set(model.state_dict())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
    if not (missing or unexpected or shapes):
        return model
    problems = []
    if unexpected and len(unexpected) == len(state):
        problems.append(f'none of its {len(state)} weights belong to it (e.g. {_names(unexpected, 2)})')
    else:
        if missing:
            problems.append(f'{len(missing)} weights missing ({_names(missing)})')
        if unexpected:
            problems.append(f'{len(unexpected)} unexpected ({_names(unexpected)})')
        if shapes:
            problems.append(f'{len(shapes)} of another shape ({_names(shapes, 2)}: checkpoint vs model)')
    raise UserError(f'{source} does not match {target}: {", ".join(problems)}'
                    + (f'; {hint}' if hint else ''))
