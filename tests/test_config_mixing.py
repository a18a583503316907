"""mmstan configs inherit mmaction2's own (``mmaction::``) and build through the registry."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT


def test_every_config_imports_mmstan_and_uses_mmaction_scope():
    configs = glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    configs = [c for c in configs if '_base_' not in c]
    assert configs
    for path in configs:
        cfg = Config.fromfile(path)
        assert cfg.custom_imports == dict(imports=['mmstan'], allow_failed_imports=False), path
        assert cfg.default_scope == 'mmaction', path


def test_runtime_comes_from_mmaction_base():
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'demo', 'synthetic_motion_meanpool.py'))
    # inherited from mmaction::_base_/default_runtime.py, untouched by mmstan
    assert cfg.visualizer.type == 'ActionVisualizer'
    assert cfg.log_processor.type == 'LogProcessor'
    assert cfg.default_hooks.checkpoint.interval == 1  # overridden by the demo config


def test_mmaction_model_base_with_mmstan_parts(tmp_path, tiny_arch):
    """Start from mmaction2's I3D model config, swap in mmstan's backbone and head."""
    cfg_file = tmp_path / 'mixed.py'
    cfg_file.write_text(f"""
_base_ = ['mmaction::_base_/models/i3d_r50.py', '{ROOT}/configs/_base_/default_runtime.py']
model = dict(
    backbone=dict(_delete_=True, type='CLIPMeanPool', arch={tiny_arch!r}, input_resolution=32),
    cls_head=dict(_delete_=True, type='VideoLinearHead', num_classes=4, in_channels=64,
                  topk=(1,)))
""")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.model.type == 'Recognizer3D'  # from mmaction2's base
    assert cfg.model.data_preprocessor.type == 'ActionDataPreprocessor'
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    model = MODELS.build(cfg.model)
    video = torch.rand(2, 1, 3, 4, 32, 32) * 255  # [B, num_clips, C, T, H, W]
    from mmaction.structures import ActionDataSample
    samples = [ActionDataSample().set_gt_label(i) for i in range(2)]
    data = model.data_preprocessor(dict(inputs=list(video), data_samples=samples), training=True)
    losses = model(**data, mode='loss')
    assert losses['loss_cls'].requires_grad


def test_unknown_type_names_the_type():
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    with pytest.raises(KeyError, match='CLIPMeanPoool'):
        MODELS.build(dict(type='CLIPMeanPoool'))
