"""``TorchvisionRoIExtractor3D``: mmaction2's ``SingleRoIExtractor3D`` with its RoI layer
replaced by ``torchvision.ops.roi_align``.

torchvision ships its RoIAlign compiled for the CPU and CUDA with every wheel, so the AVA
detector runs on a GPU with an mmcv built with CPU ops only (``tools/install.sh``'s
default). Everything else (temporal pooling, concatenating several feature maps,
``with_global``, the ``(roi_feats, feat)`` return) is mmaction2's own code, inherited.
torchvision's kernel is the same bilinear RoIAlign as mmcv's ``RoIAlign(pool_mode='avg')``
(which calls it itself with ``use_torchvision=True``): ``spatial_scale``,
``sampling_ratio`` (0: adaptive) and ``aligned`` (half-pixel offset) mean the same;
outputs and gradients agree (``tests/models/test_torchvision_roi_extractor.py``).
"""
from typing import Tuple, Union

import torch
from mmaction.models.roi_heads.roi_extractors import SingleRoIExtractor3D
from mmaction.registry import MODELS
from torch import Tensor, nn
from torchvision.ops import roi_align


class TorchvisionRoIAlign(nn.Module):
    """``mmcv.ops.RoIAlign(output_size, spatial_scale, sampling_ratio, 'avg', aligned)``
    as ``torchvision.ops.roi_align``: ``forward(input [N, C, H, W], rois [K, 5])`` with
    rows ``(batch index, x1, y1, x2, y2)`` in input pixels -> ``[K, C, *output_size]``."""

    def __init__(self, output_size: Union[int, Tuple[int, int]], spatial_scale: float,
                 sampling_ratio: int = 0, aligned: bool = True) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = int(sampling_ratio)
        self.aligned = aligned

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        # torchvision's kernel wants one dtype: compute in the wider one (float32 for half
        # features and float32 boxes, as its autocast rule does), return the input's
        dtype = torch.promote_types(input.dtype, rois.dtype)
        out = roi_align(input.to(dtype), rois.to(dtype), self.output_size, self.spatial_scale,
                        self.sampling_ratio, self.aligned)
        return out.to(input.dtype)

    def extra_repr(self) -> str:
        return (f'output_size={self.output_size}, spatial_scale={self.spatial_scale}, '
                f'sampling_ratio={self.sampling_ratio}, aligned={self.aligned}')


@MODELS.register_module()
class TorchvisionRoIExtractor3D(SingleRoIExtractor3D):
    """mmaction2's ``SingleRoIExtractor3D`` (same arguments, same outputs) computing its
    RoIAlign with torchvision. Only ``roi_layer_type='RoIAlign'`` with
    ``pool_mode='avg'`` exists in torchvision; other settings raise ``ValueError``
    (use ``SingleRoIExtractor3D`` for them)."""

    def __init__(self, roi_layer_type: str = 'RoIAlign', featmap_stride: int = 16,
                 output_size: int = 16, sampling_ratio: int = 0, pool_mode: str = 'avg',
                 aligned: bool = True, with_temporal_pool: bool = True,
                 temporal_pool_mode: str = 'avg', with_global: bool = False) -> None:
        if roi_layer_type != 'RoIAlign' or pool_mode != 'avg':
            raise ValueError(
                f'TorchvisionRoIExtractor3D computes RoIAlign with average pooling only '
                f'(got roi_layer_type={roi_layer_type!r}, pool_mode={pool_mode!r}); use '
                f"mmaction2's SingleRoIExtractor3D (mmcv.ops) for other settings")
        super().__init__(roi_layer_type, featmap_stride, output_size, sampling_ratio, pool_mode,
                         aligned, with_temporal_pool, temporal_pool_mode, with_global)
        self.roi_layer = TorchvisionRoIAlign(self.output_size, self.spatial_scale,
                                             self.sampling_ratio, self.aligned)


__all__ = ['TorchvisionRoIAlign', 'TorchvisionRoIExtractor3D']
