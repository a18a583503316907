"""STAN in AVA detection mode: CLIPSTAN(output='feature_map') inside mmdet's FastRCNN
with mmaction2's AVA RoI head (its RoI extractor computing RoIAlign with torchvision), on
real AVA-format inputs."""
import copy
import os.path as osp

import numpy as np
import open_clip
import pytest
import torch
from ava_sample import TINY_DET_ARCH, make_ava_sample
from mmaction.registry import DATASETS, MODELS
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from conftest import ROOT, TINY_ARCH
from mmstan.models.backbones import CLIPSTAN
from mmstan.models.clip import resample_pos_embed

AVA_CONFIG = osp.join(ROOT, 'configs', 'stan', 'ava.py')


def tiny_detector_cfg(cfg: Config) -> dict:
    model = copy.deepcopy(cfg.model)
    model['backbone'].update(arch=TINY_DET_ARCH, pretrained=None)
    model['roi_head']['bbox_head']['in_channels'] = TINY_DET_ARCH['vision_cfg']['width']
    return model


def sample_dataset(cfg: Config, files: dict, split: str):
    loader = 'train_dataloader' if split == 'train' else 'val_dataloader'
    ds = copy.deepcopy(cfg[loader].dataset)
    ds.update(ann_file=files['ann_file'], exclude_file=files['exclude_file'],
              label_file=files['label_file'], proposal_file=files['proposal_file'],
              data_prefix=dict(img=files['frames']))
    return DATASETS.build(ds)


def record_mmcv_ops(monkeypatch) -> list:
    """Names of the mmcv compiled ops (``mmcv._ext`` functions) called from now on."""
    import mmcv._ext as ext

    calls = []

    def recorder(name, op):
        def call(*args, **kwargs):
            calls.append(name)
            return op(*args, **kwargs)
        return call

    for name in dir(ext):
        if not name.startswith('_') and callable(getattr(ext, name)):
            monkeypatch.setattr(ext, name, recorder(name, getattr(ext, name)))
    return calls


def test_detector_loss_and_predict_on_ava_sample(tmp_path, monkeypatch):
    from mmcv.ops import RoIAlign

    from mmstan.evaluation import WorkDirAVAMetric
    from mmstan.models.roi_extractors import TorchvisionRoIAlign, TorchvisionRoIExtractor3D

    files = make_ava_sample(str(tmp_path))
    cfg = Config.fromfile(AVA_CONFIG)
    train_set, val_set = sample_dataset(cfg, files, 'train'), sample_dataset(cfg, files, 'val')
    assert len(train_set) >= 1 and len(val_set) >= 1
    torch.manual_seed(0)
    model = MODELS.build(tiny_detector_cfg(cfg))
    assert type(model).__name__ == 'FastRCNN' and isinstance(model.backbone, CLIPSTAN)
    extractor = model.roi_head.bbox_roi_extractor
    assert type(extractor) is TorchvisionRoIExtractor3D  # no mmcv CUDA op needed on a GPU
    assert isinstance(extractor.roi_layer, TorchvisionRoIAlign)

    # the detector calls no mmcv compiled op, so a GPU needs no CUDA build of mmcv's ops
    mmcv_calls = record_mmcv_ops(monkeypatch)
    RoIAlign(2, 1.0)(torch.randn(1, 1, 4, 4), torch.tensor([[0., 0., 0., 3., 3.]]))
    assert mmcv_calls == ['roi_align_forward']  # the recorder sees mmcv's ops
    mmcv_calls.clear()

    item = train_set[0]
    assert item['inputs'].shape == (3, 8, 256, 256)  # C, T, H, W: 8 frames at the 256 px crop
    batch = model.data_preprocessor(dict(inputs=[item['inputs']], data_samples=[item['data_samples']]),
                                    training=True)
    losses = model(**batch, mode='loss')
    assert losses['loss_action_cls'].isfinite()
    losses['loss_action_cls'].backward()
    for part in ('backbone.stan', 'backbone.clip', 'roi_head.bbox_head'):
        grads = [p.grad for n, p in model.named_parameters() if n.startswith(part)]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), part

    model.eval()
    metric = WorkDirAVAMetric(ann_file=files['ann_file'], exclude_file=files['exclude_file'],
                              label_file=files['label_file'], out_dir=str(tmp_path / 'results'))
    for index in range(len(val_set)):
        item = val_set[index]
        batch = model.data_preprocessor(dict(inputs=[item['inputs']], data_samples=[item['data_samples']]))
        with torch.no_grad():
            [pred] = model(**batch, mode='predict')
        boxes, scores = pred.pred_instances.bboxes, pred.pred_instances.scores
        proposals = item['data_samples'].proposals.bboxes
        h, w = item['data_samples'].img_shape
        assert scores.shape == (len(proposals), 81)
        assert ((scores >= 0) & (scores <= 1)).all()  # multi-label sigmoid scores
        # predicted boxes are the proposals, normalised to the frame (AVA csv convention)
        torch.testing.assert_close(boxes, proposals / torch.tensor([w, h, w, h]), atol=1e-5, rtol=0)
        metric.process([], [pred.to_dict()])
    assert mmcv_calls == []
    result = metric.evaluate(len(val_set))
    assert set(result) == {'mAP/overall', 'mAP/person_movement', 'mAP/object_manipulation',
                           'mAP/person_interaction'}
    assert 0 <= result['mAP/overall'] <= 1


def _zero_branch(model: CLIPSTAN) -> None:
    """Make the STAN branch add nothing, leaving CLIP's own last layer."""
    def forward(levels, t, *rest):
        n, tokens, width = levels[0].shape
        return levels[0].new_zeros(n // t, width), levels[0].new_zeros(n // t, t, tokens - 1, width)
    model.stan.forward = forward


def test_feature_map_is_clip_last_layer_normalised_plus_stan(tiny_arch):
    torch.manual_seed(0)
    model = CLIPSTAN(tiny_arch, num_frames=4, num_layers=2, output='feature_map').eval()
    video = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        fused = model(video)
        _zero_branch(model)
        clip_only = model(video)
        frames = video.transpose(1, 2).reshape(8, 3, 32, 32)
        # open_clip's own final-normalised patch map of the last block
        reference = model.clip.visual.forward_intermediates(
            frames, indices=[model.clip.num_layers - 1], normalize_intermediates=True,
            output_fmt='NCHW', intermediates_only=True)['image_intermediates'][0]
    assert clip_only.shape == (2, 64, 4, 4, 4)
    torch.testing.assert_close(clip_only, reference.reshape(2, 4, 64, 4, 4).transpose(1, 2))
    assert not torch.allclose(fused, clip_only, atol=1e-3)  # the map carries the STAN branch


@pytest.mark.parametrize('patch,size', [(14, 224), (16, 256), (32, 256)])
def test_feature_map_stride_is_patch_size(patch, size):
    arch = dict(TINY_ARCH, vision_cfg=dict(TINY_ARCH['vision_cfg'], image_size=224, patch_size=patch))
    model = CLIPSTAN(arch, num_layers=2, output='feature_map', input_resolution=size).eval()
    assert model.feat_stride == patch
    with torch.no_grad():
        out = model(torch.randn(1, 3, 2, size, size))
    assert out.shape == (1, 64, 2, size // patch, size // patch)


def test_ava_config_geometry_matches_open_clip_vit_b16():
    cfg = Config.fromfile(AVA_CONFIG)
    vision = open_clip.get_model_config(cfg.model.backbone.arch)['vision_cfg']
    extractor = cfg.model.roi_head.bbox_roi_extractor
    assert extractor.featmap_stride == vision['patch_size']
    assert extractor.roi_layer_type == 'RoIAlign' and extractor.with_temporal_pool
    assert cfg.model.roi_head.bbox_head.in_channels == vision['width']
    assert cfg.model.roi_head.bbox_head.multilabel
    # both splits give the backbone its input_resolution, square
    size = cfg.model.backbone.input_resolution
    assert size == 256
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        steps = {s['type']: s for s in loader.dataset.pipeline}
        assert steps['Resize']['scale'] == (size, size) and not steps['Resize']['keep_ratio']
        assert steps['SampleAVAFrames']['clip_len'] == cfg.model.backbone.num_frames
    assert {s['type']: s for s in cfg.train_dataloader.dataset.pipeline}['RandomCrop']['size'] == size


def test_position_grids_follow_the_256_crop():
    arch = dict(TINY_DET_ARCH, vision_cfg=dict(TINY_DET_ARCH['vision_cfg'], layers=2))
    model = CLIPSTAN(arch, num_layers=2, input_resolution=256, preset='official')
    assert model.clip.grid_size == (16, 16)
    assert model.clip.positional_embedding.shape == (1 + 256, 64)
    # the branch's spatial grid starts as CLIP's resampled one ('official' copies it)
    torch.testing.assert_close(model.stan.spatial_pos, model.clip.positional_embedding[1:])
    assert CLIPSTAN(arch, num_layers=2, input_resolution=256).stan.spatial_pos.shape == (256, 64)


def test_224_checkpoint_loads_into_256_detector_with_resampled_grids(tmp_path):
    """What configs/stan/ava_k400init.py does: load_from a 224 px K400 recognizer."""
    arch = dict(TINY_DET_ARCH, vision_cfg=dict(TINY_DET_ARCH['vision_cfg'], layers=2))
    torch.manual_seed(0)
    recognizer = MODELS.build(dict(
        type='Recognizer3D', backbone=dict(type='CLIPSTAN', arch=arch, num_layers=2, num_frames=8),
        cls_head=dict(type='VideoLinearHead', num_classes=400, in_channels=32)))
    with torch.no_grad():
        for p in recognizer.parameters():
            p.add_(torch.randn_like(p) * 0.01)  # "trained": differs from any fresh init
    ckpt = str(tmp_path / 'k400.pth')
    torch.save(dict(state_dict=recognizer.state_dict(), meta=dict()), ckpt)

    cfg = Config.fromfile(AVA_CONFIG)
    model_cfg = tiny_detector_cfg(cfg)
    model_cfg['backbone'].update(arch=arch, num_layers=2)
    detector = MODELS.build(model_cfg)
    load_checkpoint(detector, ckpt, map_location='cpu', strict=False)

    source = recognizer.backbone.state_dict()
    loaded = detector.backbone.state_dict()
    for key, value in source.items():
        if key == 'clip.visual.positional_embedding':
            expected = resample_pos_embed(value, (16, 16))
        elif key == 'stan.spatial_pos':
            expected = resample_pos_embed(torch.cat([value[:1], value]), (16, 16))[1:]
        else:
            expected = value
        torch.testing.assert_close(loaded[key], expected, msg=key)
    # the resampled grid is the one CLIPVision builds from the 224 px CLIP for 256 px input
    direct = CLIPSTAN(clip_model=_clip_of(recognizer), num_layers=2, input_resolution=256)
    torch.testing.assert_close(loaded['clip.visual.positional_embedding'],
                               direct.clip.positional_embedding.data)
    assert np.isfinite(detector.backbone(torch.randn(1, 3, 8, 256, 256)).detach().numpy()).all()


def _clip_of(recognizer) -> torch.nn.Module:
    """An open_clip model holding ``recognizer``'s 224 px vision tower."""
    from mmstan.models.clip.weights import create_clip

    arch = dict(TINY_DET_ARCH, vision_cfg=dict(TINY_DET_ARCH['vision_cfg'], layers=2))
    model = create_clip(arch)
    model.visual.load_state_dict(recognizer.backbone.clip.visual.state_dict())
    return model
