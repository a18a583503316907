"""Symmetric InfoNCE over a text x video score matrix, with features gathered across
ranks *with* gradients, so DDP training equals one process on the concatenated batch."""
from typing import Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from ..precision import float32_region, upcast


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for the local slice."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tuple[Tensor, ...]:
        out = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(out, x.contiguous())
        return tuple(out)

    @staticmethod
    def backward(ctx, *grads: Tensor) -> Tensor:
        stacked = torch.stack(grads)
        dist.all_reduce(stacked)
        return stacked[dist.get_rank()]


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from all ranks along dim 0 (identity without distribution)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    return torch.cat(_GatherWithGrad.apply(x), dim=0)


def symmetric_infonce(scores: Tensor, logit_scale: Tensor) -> Tuple[Tensor, Tensor]:
    """``L_t2v + L_v2t`` ([M] eq. 19) for a square ``[B, B]`` text x video score matrix
    whose diagonal holds the positive pairs. Returns ``(L_t2v, L_v2t)``.

    The logits and both softmaxes are float32 under mixed precision too (half-precision
    scores are upcast, autocast is off): ``logit_scale`` (100) times a bf16 cosine would
    carry its rounding error, ~0.4 at a cosine near 1, into every logit."""
    with float32_region(scores):
        logits = logit_scale * upcast(scores)
        target = torch.arange(scores.shape[0], device=scores.device)
        return F.cross_entropy(logits, target), F.cross_entropy(logits.T, target)
