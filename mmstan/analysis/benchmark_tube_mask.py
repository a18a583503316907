"""Train-step time and FLOPs of a retrieval config with TVTSv2 tube masking vs without, on
the same model and weights (only ``tube_mask_ratio`` changes): the library of
``tools/analysis/benchmark_tube_mask.py``, whose docstring says what a step is.
"""
import time
from typing import Dict, List

import open_clip
import torch
from mmengine.config import Config

from mmstan.errors import UserError
from mmstan.models.clip.tube_mask import num_kept

from .complexity import build_video_model, count_flops, video_input_shape


def caption_length(cfg: Config) -> int:
    """Tokens per caption of the config's training pipeline (``OpenCLIPTokenize``)."""
    steps = list(cfg.train_dataloader.dataset.pipeline)
    return next((t.get('context_length', 32) for t in steps if t['type'] == 'OpenCLIPTokenize'), 32)


def benchmark_tube_mask(cfg: Config, batch: int = 2, ratio: float = 0.5, repeats: int = 3,
                        name: str = 'the config') -> dict:
    """Train steps (whole retriever, backward, AdamW) with ``tube_mask_ratio`` 0 and
    ``ratio`` alternating ``repeats`` times after one warm-up step each, and the FLOPs of
    forward and forward + backward at each ratio. Returns ``dict(shape=(C, T, H, W),
    text_tokens, patches, kept, times={ratio: [step dict]}, flops={ratio: (forward,
    forward + backward)})``, a step dict holding wall and CPU seconds of the step and of
    its AdamW part (``wall``, ``cpu``, ``adamw_wall``, ``adamw_cpu``). ``name`` (the
    config's path) goes into the errors."""
    if cfg.model.get('type') != 'VideoTextRetriever':
        raise UserError(f'{name}: model.type is {cfg.model.get("type")!r}; this benchmark '
                        'times a VideoTextRetriever train step (a retrieval config)')
    torch.manual_seed(0)
    model = build_video_model(cfg).train()
    backbone = model.backbone
    if not hasattr(backbone, 'tube_mask_ratio'):
        raise UserError(f'{name}: model.backbone ({type(backbone).__name__}) has no '
                        'tube masking; use a CLIPSTAN config')
    c, t, h, w = video_input_shape(cfg)
    imgs = torch.randn(batch, 1, c, t, h, w)
    captions = [f'caption number {i} of a video' for i in range(batch)]
    text = open_clip.tokenize(captions, context_length=caption_length(cfg))
    inputs = dict(imgs=imgs, text=text)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-7)

    def step() -> dict:
        """One train step; wall and CPU seconds of the step and of its AdamW part."""
        wall, cpu = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        sum(model(inputs, mode='loss').values()).backward()
        opt_wall, opt_cpu = time.perf_counter(), time.process_time()
        optimizer.step()
        end_wall, end_cpu = time.perf_counter(), time.process_time()
        return dict(wall=end_wall - wall, cpu=end_cpu - cpu, adamw_wall=end_wall - opt_wall,
                    adamw_cpu=end_cpu - opt_cpu)

    def forward() -> None:
        model(inputs, mode='loss')

    def forward_backward() -> None:
        sum(model(inputs, mode='loss').values()).backward()
        model.zero_grad(set_to_none=True)

    ratios = (0.0, ratio)
    grid = backbone.clip.grid_size
    patches = grid[0] * grid[1]
    times: Dict[float, List[dict]] = {r: [] for r in ratios}
    flops = {}
    for r in ratios:
        backbone.tube_mask_ratio = r
        flops[r] = (count_flops(forward), count_flops(forward_backward))
        step()  # warm-up
    for _ in range(repeats):
        for r in ratios:
            backbone.tube_mask_ratio = r
            times[r].append(step())
    return dict(shape=(c, t, h, w), text_tokens=text.shape[1], patches=patches,
                kept=num_kept(patches, ratio), times=times, flops=flops)
