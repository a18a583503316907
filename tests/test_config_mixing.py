"""mmstan configs inherit mmaction2's own (``mmaction::``) and build through the registry."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from conftest import ROOT, user_docs_text


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


def readme_mixing_snippet() -> str:
    """The docs' config that mixes mmaction2's I3D base with mmstan's parts, as written
    (docs/models.md)."""
    blocks = re.findall(r'```python\n(.*?)```', user_docs_text(), flags=re.S)
    snippets = [b for b in blocks if "'mmaction::_base_/models/i3d_r50.py'" in b]
    assert len(snippets) == 1, 'README.md + docs/: one python block mixing mmaction::_base_/models/i3d_r50.py'
    return snippets[0]


def test_readme_mixing_snippet_normalises_with_clips_mean_and_std(tmp_path, tiny_arch):
    """The README's snippet, built as written (its mmstan paths pointed at this checkout),
    gives CLIP's pixel normalisation, not the I3D base's ImageNet one: the values of
    open_clip's OPENAI_DATASET_MEAN / STD on the 0-255 scale."""
    import torch
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    snippet = readme_mixing_snippet()
    assert '/path/to/mmstan' in snippet
    cfg_file = tmp_path / 'mixed.py'
    cfg_file.write_text(snippet.replace('/path/to/mmstan', ROOT))
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.model.type == 'Recognizer3D' and cfg.model.backbone.type == 'CLIPSTAN'
    clip_mean = [255 * m for m in OPENAI_DATASET_MEAN]
    clip_std = [255 * s for s in OPENAI_DATASET_STD]
    preprocessor = cfg.model.data_preprocessor
    assert preprocessor.mean == pytest.approx(clip_mean, abs=1e-3)
    assert preprocessor.std == pytest.approx(clip_std, abs=1e-3)
    assert preprocessor.format_shape == 'NCTHW'

    # the model built from it (a tiny CLIP instead of ViT-B-16, no download) normalises so
    cfg.model.backbone.update(arch=tiny_arch, pretrained=None, input_resolution=32, num_layers=1)
    cfg.model.cls_head.in_channels = tiny_arch['embed_dim']
    model = MODELS.build(cfg.model)
    video = torch.randint(0, 256, (1, 3, 4, 32, 32), dtype=torch.uint8)  # [clips, C, T, H, W]
    data = model.data_preprocessor(
        dict(inputs=[video], data_samples=[ActionDataSample().set_gt_label(0)]), training=False)
    mean = torch.tensor(clip_mean).view(3, 1, 1, 1)
    std = torch.tensor(clip_std).view(3, 1, 1, 1)
    torch.testing.assert_close(data['inputs'][0], (video.float() - mean) / std, atol=1e-3, rtol=0)
    assert model(**data, mode='predict')[0].pred_score.numel() == 400


def test_unknown_type_names_the_type():
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope

    init_default_scope('mmaction')
    with pytest.raises(KeyError, match='CLIPMeanPoool'):
        MODELS.build(dict(type='CLIPMeanPoool'))
