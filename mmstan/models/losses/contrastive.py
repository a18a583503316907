"""Symmetric InfoNCE over a text x video score matrix, with features gathered across
ranks *with* gradients, so DDP training equals one process on the concatenated batch.

Two ways to score a distributed batch of B = W x b pairs (W ranks, b pairs each):

- global loss (:func:`symmetric_infonce`): every rank scores all ``B x B`` pairs and
  computes the same loss ``L``;
- local loss (:func:`local_infonce`, open_clip's ``local_loss`` idea): rank r scores its
  own b captions against all B videos (``[b, B]``, ``L_t2v``) and its own b videos against
  all B captions (``[B, b]``, ``L_v2t``), ``2 b B = 2 B² / W`` pairs instead of ``B²``.

Why the local loss trains exactly like the global one. Each row of a cross-entropy
depends on one caption's (or one video's) scores only, so the mean over B rows is the mean
of the W ranks' means over their own rows: ``L = (1/W) Σ_r l_r`` with ``l_r`` rank r's
local loss. Backward on rank r gives ``∂l_r/∂x`` for every gathered feature x;
:func:`gather_with_grad`'s backward sums these over the ranks, so rank r's own features
get ``Σ_r' ∂l_r'/∂x_r = W ∂L/∂x_r`` — what the global loss gives them too (W ranks each
holding ``∂L/∂x_r``). The towers' parameter gradients on rank r are therefore the same as
under the global loss, and a parameter used directly in the scoring (a head's weights)
gets ``∂l_r/∂θ`` on rank r, whose DDP average over ranks is ``∂L/∂θ``. The logged loss of
rank r is ``l_r``; the mean over ranks is ``L``.
(tests/models/test_local_loss.py checks both numerically against one process.)
"""
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


def distributed_world() -> Tuple[int, int]:
    """``(rank, world size)``; ``(0, 1)`` without an initialised process group."""
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from all ranks along dim 0 (identity without distribution)."""
    if distributed_world()[1] == 1:
        return x
    return torch.cat(_GatherWithGrad.apply(x), dim=0)


def local_infonce(t2v_scores: Tensor, v2t_scores: Tensor, logit_scale: Tensor,
                  offset: int = 0) -> Tuple[Tensor, Tensor]:
    """``(L_t2v, L_v2t)`` ([M] eq. 19) of b local pairs scored against a gathered batch:
    ``t2v_scores`` ``[b, B]`` (the local captions x all videos) and ``v2t_scores``
    ``[B, b]`` (all captions x the local videos); local pair i is gathered pair
    ``offset + i`` (``offset = rank x b``). With ``b = B`` and ``offset = 0`` it is the
    global loss of a ``[B, B]`` matrix.

    The logits and both softmaxes are float32 under mixed precision too (half-precision
    scores are upcast, autocast is off): ``logit_scale`` (100) times a bf16 cosine would
    carry its rounding error, ~0.4 at a cosine near 1, into every logit."""
    b = t2v_scores.shape[0]
    assert v2t_scores.shape == t2v_scores.shape[::-1], (
        f'text x video scores {tuple(t2v_scores.shape)} and {tuple(v2t_scores.shape)} '
        'must be [b, B] and [B, b]')
    with float32_region(t2v_scores):
        target = torch.arange(offset, offset + b, device=t2v_scores.device)
        return (F.cross_entropy(logit_scale * upcast(t2v_scores), target),
                F.cross_entropy(logit_scale * upcast(v2t_scores).T, target))


def symmetric_infonce(scores: Tensor, logit_scale: Tensor) -> Tuple[Tensor, Tensor]:
    """``L_t2v + L_v2t`` ([M] eq. 19) for a square ``[B, B]`` text x video score matrix
    whose diagonal holds the positive pairs. Returns ``(L_t2v, L_v2t)`` (float32 logits,
    see :func:`local_infonce`)."""
    return local_infonce(scores, scores, logit_scale)
