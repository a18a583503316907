"""Peak CPU memory of one training forward + backward of the CLIPSTAN backbone (CLIP
vision tower + STAN branch), with and without gradient checkpointing. The library of
``tools/analysis/train_step_memory.py``, which runs :func:`run_one` once per setting in a
fresh process, so that each peak is its own.
"""
import resource
import time
from typing import Optional

from .benchmark_mug import load_average, rss_mb


def clip_arch(name: str, vision_layers: Optional[int] = None) -> dict:
    """open_clip's model config ``name`` (e.g. ``'ViT-L-14'``) as a dict, with the vision
    tower cut to ``vision_layers`` blocks when given (random init, nothing downloaded)."""
    import copy

    import open_clip
    cfg = open_clip.get_model_config(name)
    if cfg is None:
        raise SystemExit(f'error: open_clip has no model config {name!r}')
    cfg = copy.deepcopy(cfg)
    if vision_layers:
        cfg['vision_cfg']['layers'] = vision_layers
    return cfg


def run_one(arch: dict, checkpointing: bool, frames: int, size: int, batch: int,
            stan_layers: int) -> dict:
    """One forward + backward (no optimizer step) of ``CLIPSTAN`` in train mode, fp32,
    with a scalar loss on its ``[B, T, E]`` frame embeddings. Extra memory: peak RSS
    minus the RSS once the model and the input exist (so it holds the activations kept
    for backward, the recomputation and the parameter gradients)."""
    import torch

    from mmstan.models.backbones import CLIPSTAN

    torch.manual_seed(0)
    model = CLIPSTAN(arch=arch, pretrained=None, input_resolution=size, num_frames=frames,
                     num_layers=stan_layers, grad_checkpointing=checkpointing).train()
    video = torch.randn(batch, 3, frames, size, size)
    params = sum(p.numel() for p in model.parameters())
    base, load = rss_mb(), load_average()
    start = time.perf_counter()
    out = model(video)
    out.float().pow(2).mean().backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert all(p.grad is not None for p in model.stan.parameters() if p.requires_grad)
    return dict(checkpointing=checkpointing, frames=frames, size=size, batch=batch,
                vision_layers=arch['vision_cfg']['layers'], stan_layers=stan_layers,
                params_m=params / 1e6, base_mb=base, peak_mb=peak, extra_mb=peak - base,
                seconds=seconds, load=max(load, load_average()), threads=torch.get_num_threads())
