"""Build a config's video model offline and count its FLOPs with PyTorch's own counter
(``tools/analysis/get_flops.py``, ``benchmark.py`` and the model zoo's measurements)."""
import copy
from typing import Callable, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def build_video_model(cfg: Config) -> nn.Module:
    """The config's model with random weights (no download), in eval mode on the CPU
    (:func:`mmstan.apis.init_model` without a checkpoint, every ``pretrained`` cleared);
    ``cfg`` is left untouched."""
    from mmstan.apis import init_model
    from mmstan.apis.model import clear_pretrained

    cfg = copy.deepcopy(cfg)
    clear_pretrained(cfg.model)
    return init_model(cfg)


def video_input_shape(cfg: Config) -> Tuple[int, int, int, int]:
    """``(C, T, H, W)`` of one test view: frames from the sampler, size from the crop."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    samplers = ('UniformSample', 'SampleFrames', 'SampleAVAFrames')
    frames = next(t['clip_len'] for t in pipeline if t['type'] in samplers)
    crops = [t['crop_size'] for t in pipeline if 'crop_size' in t]
    size = crops[-1] if crops else cfg.model.backbone.get('input_resolution') or 224
    size = size if isinstance(size, int) else size[0]
    return 3, frames, size, size


def _sdpa_cpu_flops(query_shape, key_shape, value_shape, *args, **kwargs) -> int:
    """FLOPs of attention's two matmuls (``QK^T`` and ``AV``), for the CPU kernel
    ``_scaled_dot_product_flash_attention_for_cpu`` that the counter does not know."""
    b, h, s_q, d = query_shape
    s_k, d_v = key_shape[-2], value_shape[-1]
    return 2 * b * h * s_q * s_k * (d + d_v)


def count_flops(fn: Callable, *inputs: torch.Tensor, grad: bool = True) -> int:
    """Multiply-accumulates of one forward (what fvcore and the papers call FLOPs).
    ``grad=False`` runs ``fn`` without autograd, so no activation is kept (an L/14 at 64
    frames would keep tens of GB); ``fn`` must not call ``backward`` then."""
    custom = {}
    cpu_sdpa = getattr(torch.ops.aten, '_scaled_dot_product_flash_attention_for_cpu', None)
    if cpu_sdpa is not None:
        custom[cpu_sdpa] = _sdpa_cpu_flops
    counter = FlopCounterMode(display=False, custom_mapping=custom)
    # nn.MultiheadAttention's fused fast path (torch._native_multi_head_attention), which
    # the counter does not see and which eval mode without autograd would take, is off
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with counter, torch.set_grad_enabled(grad):
            fn(*inputs)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return counter.get_total_flops() // 2


def get_flops(cfg: Config, shape: Optional[Sequence[int]] = None) -> dict:
    """GFLOPs (multiply-accumulates) per view and parameters of the config's video model:
    ``dict(gflops, params_m, shape=(C, T, H, W))``. Counted over backbone + head for one
    view (one clip, one crop), for a retriever over its ``encode_video`` (backbone + the
    head's per-video part); ``shape`` ``(T, H, W)`` overrides the test view's."""
    c, t, h, w = video_input_shape(cfg)
    if shape:
        t, h, w = shape
    model = build_video_model(cfg)
    video = torch.randn(1, c, t, h, w)
    if hasattr(model, 'cls_head'):
        forward = lambda x: model.cls_head(model.backbone(x))  # noqa: E731
    elif hasattr(model, 'encode_video'):  # retrievers: backbone + the head's video side
        forward = model.encode_video
    else:
        forward = model.backbone
    macs = count_flops(forward, video, grad=False)
    params = sum(p.numel() for p in model.parameters())
    return dict(gflops=macs / 1e9, params_m=params / 1e6, shape=(c, t, h, w))
