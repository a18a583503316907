"""TorchvisionRoIExtractor3D (torchvision's RoIAlign in mmaction2's SingleRoIExtractor3D)
gives the same RoI features and feature gradients as SingleRoIExtractor3D with mmcv's
compiled RoIAlign, on the CPU, so the AVA detector needs no CUDA build of mmcv's ops."""
import copy
import os.path as osp

import pytest
import torch
from mmaction.models.roi_heads.roi_extractors import SingleRoIExtractor3D
from mmaction.registry import MODELS
from mmengine.config import Config

from conftest import ROOT
from mmstan.models.roi_extractors import TorchvisionRoIAlign, TorchvisionRoIExtractor3D

AVA_CONFIG = osp.join(ROOT, 'configs', 'stan', 'ava.py')
STRIDE, SIZE = 16, 256  # the AVA config: stride-16 map of a 256 px crop


def random_rois(generator: torch.Generator, dtype: torch.dtype, batch: int = 2) -> torch.Tensor:
    """``[K, 5]`` boxes in input pixels: random ones, and ones on, at and past the borders
    (the frame, a corner, partly and wholly outside, sub-pixel and empty boxes)."""
    corners = torch.rand(12, 2, 2, generator=generator, dtype=torch.float64) * SIZE
    boxes = torch.cat([corners.min(1).values, corners.max(1).values], 1)
    edges = torch.tensor([[0, 0, SIZE, SIZE], [0, 0, 1, 1], [SIZE - 1, SIZE - 1, SIZE, SIZE],
                          [-30, -12.5, 40, 30], [200.2, 230.7, 300, 290], [-50, -50, -20, -10],
                          [SIZE + 10, 0, SIZE + 60, 40], [100.3, 50.7, 101.1, 52.0],
                          [64, 64, 64, 64], [0, 120, SIZE, 136]], dtype=torch.float64)
    boxes = torch.cat([boxes, edges])
    index = torch.arange(len(boxes), dtype=torch.float64)[:, None] % batch
    return torch.cat([index, boxes], 1).to(dtype)


def extract(extractor, feats, rois):
    """RoI features, the returned feature map, and d(weighted sum)/d(each input map)."""
    feats = [f.clone().requires_grad_() for f in feats]
    roi_feats, feat = extractor(tuple(feats) if len(feats) > 1 else feats[0], rois)
    weight = torch.randn(roi_feats.shape, generator=torch.Generator().manual_seed(1), dtype=roi_feats.dtype)
    (roi_feats * weight).sum().backward()
    return roi_feats.detach(), feat.detach(), [f.grad for f in feats]


CASES = [
    # the AVA config's extractor (aligned=True, sampling_ratio=0: mmaction2's defaults)
    dict(output_size=8, with_temporal_pool=True),
    dict(output_size=8, with_temporal_pool=True, aligned=False),
    dict(output_size=7, with_temporal_pool=False, sampling_ratio=2),
    dict(output_size=(4, 6), with_temporal_pool=True, temporal_pool_mode='max', aligned=False,
         sampling_ratio=1),
    dict(output_size=8, with_temporal_pool=False, with_global=True),
]


@pytest.mark.parametrize('dtype', [torch.float64, torch.float32])
@pytest.mark.parametrize('options', CASES)
def test_matches_single_roi_extractor_3d_with_mmcv_roi_align(options, dtype):
    from mmcv.ops import RoIAlign

    kwargs = dict(roi_layer_type='RoIAlign', featmap_stride=STRIDE, **options)
    reference, ours = SingleRoIExtractor3D(**kwargs), TorchvisionRoIExtractor3D(**kwargs)
    assert isinstance(reference.roi_layer, RoIAlign) and isinstance(ours.roi_layer, TorchvisionRoIAlign)
    generator = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, 6, 4, SIZE // STRIDE, SIZE // STRIDE, generator=generator, dtype=dtype)]
    rois = random_rois(generator, dtype)
    expected, ours_out = extract(reference, feats, rois), extract(ours, feats, rois)
    tolerance = dict(rtol=0, atol=0) if dtype == torch.float64 else dict(rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ours_out[0], expected[0], **tolerance)  # RoI features
    torch.testing.assert_close(ours_out[1], expected[1], **tolerance)  # the pooled map
    for grad, ref_grad in zip(ours_out[2], expected[2]):
        torch.testing.assert_close(grad, ref_grad, **tolerance)
    assert expected[0].abs().sum() > 0 and expected[2][0].abs().sum() > 0
    t = 1 if options['with_temporal_pool'] else 4
    size = options['output_size']
    h, w = (size, size) if isinstance(size, int) else size
    channels = 6 * (2 if options.get('with_global') else 1)
    assert expected[0].shape == (len(rois), channels, t, h, w)


def test_matches_with_two_feature_maps_of_different_lengths():
    """A tuple of maps (SlowFast-style) is resized to the longest, pooled and concatenated
    by mmaction2's code before the RoI layer: the same in both."""
    kwargs = dict(featmap_stride=STRIDE, output_size=8, with_temporal_pool=True)
    generator = torch.Generator().manual_seed(2)
    feats = [torch.randn(2, 3, t, 16, 16, generator=generator, dtype=torch.float64) for t in (2, 4)]
    rois = random_rois(generator, torch.float64)
    expected = extract(SingleRoIExtractor3D(**kwargs), feats, rois)
    ours = extract(TorchvisionRoIExtractor3D(**kwargs), feats, rois)
    torch.testing.assert_close(ours[0], expected[0], rtol=0, atol=0)
    for grad, ref_grad in zip(ours[2], expected[2]):
        torch.testing.assert_close(grad, ref_grad, rtol=0, atol=0)


def test_float32_features_with_float64_boxes_keep_the_features_dtype():
    layer = TorchvisionRoIAlign(4, 1 / STRIDE)
    generator = torch.Generator().manual_seed(3)
    feat = torch.randn(2, 3, 16, 16, generator=generator)
    rois = random_rois(generator, torch.float64)
    out = layer(feat, rois)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, layer(feat.double(), rois).float())


@pytest.mark.parametrize('options', [dict(roi_layer_type='RoIPool'), dict(pool_mode='max')])
def test_settings_torchvision_lacks_are_refused(options):
    with pytest.raises(ValueError, match='SingleRoIExtractor3D'):
        TorchvisionRoIExtractor3D(**options)


def test_ava_config_builds_it_from_mmdet_scope():
    cfg = Config.fromfile(AVA_CONFIG)
    extractor_cfg = copy.deepcopy(cfg.model.roi_head.bbox_roi_extractor)
    assert extractor_cfg.type == 'mmaction.TorchvisionRoIExtractor3D'
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope('mmdet'):
        extractor = MMDET_MODELS.build(extractor_cfg)
    assert type(extractor) is TorchvisionRoIExtractor3D
    assert MODELS.get('TorchvisionRoIExtractor3D') is TorchvisionRoIExtractor3D
    layer = extractor.roi_layer
    settings = (layer.output_size, layer.spatial_scale, layer.sampling_ratio, layer.aligned)
    assert settings == (8, 1 / 16, 0, True)
