"""Every config under configs/ builds and runs one forward (tiny CLIP, no weights).

A config added later is covered the moment it exists: the list is globbed. Each one is
read with mmengine, shrunk (tiny random-init CLIP, 32 px, at most 4 frames, a few class
names), its data pipelines are built, its model is built and one batch goes through it.
"""
import glob
import os.path as osp

import pytest
import torch
from mmaction.registry import MODELS, TRANSFORMS
from mmaction.structures import ActionDataSample
from mmengine.config import Config, ConfigDict

from conftest import ROOT
from conftest import TINY_ARCH as TWO_LAYERS

#: The tiny CLIP with enough vision blocks for the configs' K (up to 6) STAN layers.
TINY_ARCH = dict(TWO_LAYERS, vision_cfg=dict(TWO_LAYERS['vision_cfg'], layers=6))

LEAVES = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                if '_base_' not in p)
BACKBONES = ('CLIPSTAN', 'mmaction.CLIPSTAN', 'CLIPMeanPool', 'mmaction.CLIPMeanPool')
FRAMES, SIZE, CLASSES = 4, 32, ['moving left', 'moving right', 'moving up']


def _shrink(node, shared_clip: bool) -> None:
    """Replace every CLIP in a model config by the tiny one, in place."""
    if isinstance(node, dict):
        if 'clip' in node and isinstance(node['clip'], dict) and 'arch' in node['clip']:
            node['clip'] = dict(arch=TINY_ARCH, pretrained=None)
            shared_clip = True
        if node.get('type') in BACKBONES:
            if not shared_clip:
                node.update(arch=TINY_ARCH, pretrained=None)
            node['input_resolution'] = SIZE
        if node.get('type') == 'TextClassHead':
            node['classes'] = CLASSES
            if not shared_clip:
                node.update(arch=TINY_ARCH, pretrained=None)
        if node.get('type') == 'VideoLinearHead':
            node['in_channels'] = TINY_ARCH['embed_dim']
        for value in node.values():
            _shrink(value, shared_clip)
    elif isinstance(node, list):
        for value in node:
            _shrink(value, shared_clip)


def _pipelines(cfg):
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader and 'pipeline' in loader.get('dataset', {}):
            yield key, loader['dataset']['pipeline']


def _first_comment(path):
    with open(path) as f:
        return f.readline()


@pytest.mark.parametrize('path', LEAVES, ids=[osp.relpath(p, osp.join(ROOT, 'configs'))
                                              for p in LEAVES])
def test_config_builds_and_runs_one_forward(path):
    first = _first_comment(path)
    assert first.startswith('# ') and ('paper' in first or 'no paper row' in first), (
        f'{path}: the first line must be one comment naming model, backbone, frames, batch, '
        'dataset and the paper row it reproduces')
    cfg = Config.fromfile(path)
    for key, pipeline in _pipelines(cfg):
        for step in pipeline:
            built = TRANSFORMS.build(dict(step))
            assert type(built).__name__ == step['type'].split('.')[-1], f'{key}: {step}'
    model_cfg = cfg.model.to_dict()
    _shrink(model_cfg, shared_clip=False)
    model = MODELS.build(ConfigDict(model_cfg))  # as the Runner builds it (mmdet reads train_cfg.rcnn)
    kind = model_cfg['type'].split('.')[-1]
    torch.manual_seed(0)
    video = torch.randn(2, 1, 3, FRAMES, SIZE, SIZE)
    if kind == 'VideoTextRetriever':
        text = torch.zeros(2, 8, dtype=torch.long)
        text[:, 0], text[:, 1], text[:, 2] = 49406, torch.tensor([320, 1929]), 49407
        losses = model(dict(imgs=video, text=text), mode='loss')
        assert set(losses) == {'loss_t2v', 'loss_v2t'} and all(v.isfinite() for v in losses.values())
    elif kind in ('Recognizer3D', 'CLIPRecognizer'):
        samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
        losses = model(video, samples, mode='loss')
        assert losses['loss_cls'].isfinite()
    else:  # detectors: their full forward is covered in tests/models/test_ava*.py
        out = model.backbone(video[:, 0])
        assert out.dim() == 5 and out.shape[2] == FRAMES
