"""Tube masking of visual tokens (VideoMAE; TVTSv2 §3.3, FLIP-style: no reconstruction).

A clip keeps the same patch positions in every frame (a "tube" through time is dropped
or kept whole), drawn anew for every clip. The dropped tokens are removed from the
sequence, not zeroed, so the transformer runs on ``T * K`` instead of ``T * L`` patch
tokens and its cost falls with them.
"""
import math
from typing import Optional

import torch
from torch import Tensor


def num_kept(num_patches: int, ratio: float) -> int:
    """Positions a clip keeps: ``L - floor(ratio * L)`` (VideoMAE's count), at least 1."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f'tube mask ratio must be in [0, 1), got {ratio}')
    dropped = math.floor(round(ratio * num_patches, 6))  # round: 0.7 * 10 is 7.000000000000001
    return max(1, num_patches - dropped)


def tube_keep_indices(batch: int, num_patches: int, ratio: float,
                      device: Optional[torch.device] = None,
                      generator: Optional[torch.Generator] = None) -> Tensor:
    """Kept patch positions of ``batch`` clips: ``[B, K]`` (``K = num_kept(L, ratio)``),
    each row a uniformly random K-subset of ``range(L)`` in ascending order."""
    keep = num_kept(num_patches, ratio)
    scores = torch.rand(batch, num_patches, device=device, generator=generator)
    return scores.argsort(dim=1)[:, :keep].sort(dim=1).values


def gather_positions(tokens: Tensor, keep: Tensor) -> Tensor:
    """Take positions ``keep`` along dim 1: ``tokens [N, L, ...]``, ``keep [N, K]`` ->
    ``[N, K, ...]``."""
    assert keep.dim() == 2 and keep.shape[0] == tokens.shape[0], (
        f'keep {tuple(keep.shape)} does not match tokens {tuple(tokens.shape)}')
    index = keep.reshape(*keep.shape, *(1,) * (tokens.dim() - 2)).expand(
        *keep.shape, *tokens.shape[2:])
    return tokens.gather(1, index)
