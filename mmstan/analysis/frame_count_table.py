"""Configs that load a checkpoint, the config that trains it, and both frame counts (the
library of ``tools/analysis/frame_count_table.py``, whose docstring says how a pair is
found and measured). Paths are relative to the repository.
"""
import copy
import glob
import inspect
import logging
import os.path as osp
import re
import tempfile
from typing import List, Optional, Tuple

import torch
import yaml
from mmengine.config import Config, ConfigDict
from mmengine.logging import MMLogger

from mmstan.utils.paths import REPO_ROOT

#: (config, source config, source frames, target frames), paths relative to the repo.
Pair = Tuple[str, str, int, int]

#: Tiny CLIP for the measurement: configs/_base_/models/tiny_clip.py with 6 vision blocks
#: (enough for every config's K) at 32 px.
SIZE, TINY_LAYERS, CLASSES = 32, 6, ['moving left', 'moving right', 'moving up']


def _rel(path: str) -> str:
    return osp.relpath(osp.abspath(osp.join(REPO_ROOT, path)), REPO_ROOT)


def _leaves() -> List[str]:
    return sorted(_rel(p) for p in glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'),
                                             recursive=True) if '_base_' not in p)


def metafile_sources() -> dict:
    """``{config: source config}`` from the metafiles' 'Pretrained' fields that name one."""
    sources = {}
    for metafile in sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*', 'metafile.yml'))):
        with open(metafile) as f:
            for model in yaml.safe_load(f).get('Models', []):
                found = re.search(r'\((configs/[\w/.-]+\.py)\)',
                                  str(model.get('Metadata', {}).get('Pretrained', '')))
                if found:
                    sources[model['Config']] = found.group(1)
    return sources


def _has_pretrained_init(node) -> bool:
    if isinstance(node, dict):
        init = node.get('init_cfg')
        inits = init if isinstance(init, list) else [init]
        return any(isinstance(i, dict) and i.get('type') == 'Pretrained' for i in inits) \
            or any(_has_pretrained_init(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_pretrained_init(v) for v in node)
    return False


def stored_frames(cfg: Config) -> int:
    """Frames the config's ``CLIPSTAN`` stores its temporal position embedding for."""
    from mmstan.models.backbones import CLIPSTAN
    default = inspect.signature(CLIPSTAN).parameters['num_frames'].default
    return cfg.model.backbone.get('num_frames', default)


def checkpoint_pairs(configs: Optional[List[str]] = None) -> List[Pair]:
    """The table's rows, read from the configs and their metafiles."""
    import mmstan  # noqa: F401  (configs import mmstan helpers)
    sources = metafile_sources()
    pairs = []
    for path in configs or _leaves():
        path = _rel(path)
        cfg = Config.fromfile(osp.join(REPO_ROOT, path))
        if not (cfg.get('load_from') or _has_pretrained_init(cfg.model) or path in sources):
            continue
        if path not in sources:
            raise ValueError(f'{path} loads a checkpoint but its metafile entry names no '
                             "source config in 'Pretrained' (...(configs/...py))")
        source = Config.fromfile(osp.join(REPO_ROOT, sources[path]))
        pairs.append((path, sources[path], stored_frames(source), stored_frames(cfg)))
    return pairs


def tiny_model(config: str, num_frames: Optional[int] = None, seed: int = 0) -> torch.nn.Module:
    """``config``'s model with a tiny random CLIP at 32 px (``num_frames`` overrides
    the stored frames), no download."""
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    cfg = Config.fromfile(osp.join(REPO_ROOT, config))
    arch = copy.deepcopy(Config.fromfile(osp.join(
        REPO_ROOT, 'configs', '_base_', 'models', 'tiny_clip.py')).tiny_clip_arch.to_dict())
    arch['vision_cfg']['layers'] = TINY_LAYERS
    model = cfg.model.to_dict()
    if isinstance(model.get('clip'), dict):
        model['clip'] = dict(arch=arch, pretrained=None)
    else:
        model['backbone'].update(arch=arch, pretrained=None)
    model['backbone']['input_resolution'] = SIZE
    if num_frames is not None:
        model['backbone']['num_frames'] = num_frames
    head = model.get('cls_head') or {}
    if head.get('type') == 'TextClassHead':
        head['classes'] = CLASSES
    elif 'in_channels' in head:
        head['in_channels'] = arch['embed_dim']
    if 'roi_head' in model:
        model['roi_head']['bbox_head']['in_channels'] = arch['vision_cfg']['width']
    torch.manual_seed(seed)
    return MODELS.build(ConfigDict(model))


class LogRecords(logging.Handler):
    """Keeps the messages of the records it handles (``.messages``)."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def temporal_pos_diff(config: str, source: str, target_frames: Optional[int] = None
                      ) -> Tuple[float, bool]:
    """Save a tiny ``source`` model, load it into a tiny ``config`` model (with
    ``target_frames`` if given) with mmengine's ``load_checkpoint``; returns the max
    |loaded ``temporal_pos`` - source ``temporal_embedding(target frames)``| and whether
    loading reported a size mismatch."""
    from mmengine.runner import load_checkpoint

    src = tiny_model(source, seed=0)
    dst = tiny_model(config, target_frames, seed=1)
    logger, records = MMLogger.get_current_instance(), LogRecords()
    logger.addHandler(records)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = osp.join(tmp, 'source.pth')
            torch.save(dict(state_dict=src.state_dict(), meta=dict()), path)
            load_checkpoint(dst, path, map_location='cpu', strict=False, logger='current')
    finally:
        logger.removeHandler(records)
    loaded = dst.backbone.stan.temporal_pos
    with torch.no_grad():
        expected = src.backbone.stan.temporal_embedding(loaded.shape[0])
        diff = (loaded - expected).abs().max().item() if loaded.shape == expected.shape \
            else float('inf')
    return diff, any('size mismatch' in m for m in records.messages)


def frame_count_rows(configs: Optional[List[str]] = None) -> List[tuple]:
    """``(config, source config, source frames, target frames, max diff, size mismatch)``
    for every config of ``configs`` (default: all) that loads a checkpoint."""
    return [(*pair, *temporal_pos_diff(pair[0], pair[1])) for pair in checkpoint_pairs(configs)]


def format_table(rows: List[tuple]) -> str:
    """The markdown table of :func:`frame_count_rows`."""
    lines = ['| config | source config | source frames | target frames | max diff | size mismatch |',
             '|---|---|---|---|---|---|']
    for config, source, src_frames, dst_frames, diff, mismatch in rows:
        lines.append(f'| `{config}` | `{source}` | {src_frames} | {dst_frames} | {diff:.1e} | '
                     f'{"yes" if mismatch else "no"} |')
    return '\n'.join(lines)
