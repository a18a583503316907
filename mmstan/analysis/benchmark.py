"""Time a config's STAN model against the same config with frame mean pooling, and count
both (the library of ``tools/analysis/benchmark.py``).

Both models share architecture, input and weights of the CLIP tower; only the STAN
branch differs. Recognition configs time backbone + classification head on one view;
retrieval configs (``VideoTextRetriever``) time the whole model on one view and one
caption (video tower, text tower and similarity head), so their ratio includes the shared
text-tower cost.
"""
import copy
import time
from typing import Callable, Optional

import torch
from mmengine.config import Config
from torch import nn

from .complexity import build_video_model, count_flops, video_input_shape


def matmul_peak(sizes=(1024, 2048, 4096), repeats: int = 5) -> float:
    """Best achieved FLOP/s of square float32 matmuls: this machine's practical peak."""
    best = 0.0
    for size in sizes:
        a, b = torch.randn(size, size), torch.randn(size, size)
        torch.mm(a, b)
        start = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b)
        best = max(best, 2 * size ** 3 * repeats / (time.perf_counter() - start))
    return best


def time_call(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def mean_pool_cfg(cfg: Config) -> Config:
    """A copy of the config with the STAN branch removed (CLIP frame mean pooling)."""
    baseline = copy.deepcopy(cfg)
    stan = cfg.model.backbone
    baseline.model.backbone = dict(type='CLIPMeanPool', **{
        key: stan[key] for key in ('arch', 'pretrained', 'input_resolution') if key in stan})
    return baseline


def caption_tokens(cfg: Config) -> Optional[torch.Tensor]:
    """``[1, K]`` token ids of one caption for a retrieval config (K from the test set's
    ``OpenCLIPTokenize``, in its caption or video pipeline), or None for a recognition config."""
    if cfg.model.get('type') != 'VideoTextRetriever':
        return None
    import open_clip

    dataset = cfg.test_dataloader.dataset
    steps = list(dataset.get('caption_pipeline') or []) + list(dataset.pipeline)
    length = next((t.get('context_length', 32) for t in steps if t['type'] == 'OpenCLIPTokenize'), 32)
    return open_clip.tokenize(['a person is doing something in the video'], context_length=length)


def forward_fn(model: nn.Module, text: Optional[torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """What one view costs: backbone + head (recognizer), or the whole retriever on the
    view and ``text`` (video tower, text tower, similarity head)."""
    if text is not None:
        return lambda video: model(dict(imgs=video, text=text), mode='tensor')
    return lambda video: model.cls_head(model.backbone(video))


def share_weights(source: nn.Module, target: nn.Module) -> int:
    """Copy every tensor ``target`` has under the same name and shape; returns how many."""
    target_state = target.state_dict()
    shared = {k: v for k, v in source.state_dict().items()
              if k in target_state and v.shape == target_state[k].shape}
    target.load_state_dict(shared, strict=False)
    return len(shared)


def measure(model: nn.Module, video: torch.Tensor, text: Optional[torch.Tensor], repeats: int,
            backward: bool) -> dict:
    run = forward_fn(model, text)

    def forward():
        with torch.no_grad():
            run(video)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        run(video).sum().backward()

    model.eval()
    result = dict(forward=time_call(forward, repeats), macs=count_flops(run, video))
    if backward:
        model.train()
        result['forward_backward'] = time_call(forward_backward, repeats)
    return result


def benchmark(cfg: Config, repeats: int = 3, backward: bool = False) -> dict:
    """Time and count the config's STAN model and its mean-pooling twin (``cfg`` is
    left untouched; :func:`build_video_model` builds with random weights, no download)."""
    c, t, h, w = video_input_shape(cfg)
    video = torch.randn(1, c, t, h, w)
    text = caption_tokens(cfg)
    torch.manual_seed(0)
    stan = build_video_model(copy.deepcopy(cfg))
    base = build_video_model(mean_pool_cfg(cfg))
    share_weights(stan, base)
    return dict(shape=(c, t, h, w),
                results={'STAN': measure(stan, video, text, repeats, backward),
                         'mean pooling': measure(base, video, text, repeats, backward)})
