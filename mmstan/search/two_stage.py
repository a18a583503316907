"""Two-stage text-to-video search over a :class:`~.video_index.VideoIndex`.

Stage 1 ranks every video by the inner product of pooled embeddings (FAISS, see
:mod:`.pooled_embeddings`) and keeps the best ``rerank``; stage 2 scores those
candidates with the model's own head on the stored frame embeddings and re-ranks them.
Whenever a query's exact best video (by the head over the whole gallery) is among its
stage-1 candidates, the two-stage top-1 is that video.
"""
import time
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn

from .pooled_embeddings import head_device, text_vectors
from .video_index import VideoIndex


@dataclass
class Hit:
    key: str            # the video's key in the index
    score: float        # the head's score (stage 2)
    pooled_score: float  # the stage-1 inner product


@dataclass
class Timing:
    """Seconds spent, summed over the queries of one call."""
    stage_one: float = 0.0
    stage_two: float = 0.0


def candidates(index: VideoIndex, head: nn.Module, tokens: Tensor, mask: Tensor, pooled: Tensor,
               rerank: int, subset: Optional[Sequence[int]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Stage 1: ``(pooled scores [M, k], video ids [M, k])`` of the best ``k = rerank``
    videos for each text (among ``subset`` ids when given), best first, by the inner
    product of ``head``'s stage-1 vectors (:mod:`.pooled_embeddings`)."""
    vectors = text_vectors(head, tokens, mask, pooled).numpy()
    return index.search(vectors, rerank, subset=subset)


@torch.no_grad()
def rerank_scores(head: nn.Module, index: VideoIndex, tokens: Tensor, mask: Tensor,
                  pooled: Tensor, ids: np.ndarray) -> Tensor:
    """Stage 2: the head's score ``[M, k]`` of each text with its candidates ``ids [M, k]``."""
    out = torch.empty(ids.shape, dtype=torch.float32)
    device = head_device(head)
    tokens, mask, pooled = tokens.to(device), mask.to(device), pooled.to(device)
    for q in range(len(ids)):
        frames = torch.from_numpy(index.frames(ids[q])).to(device)
        out[q] = head(tokens[q:q + 1], mask[q:q + 1], pooled[q:q + 1], frames)[0].float().cpu()
    return out


def search(index: VideoIndex, head: nn.Module, tokens: Tensor, mask: Tensor, pooled: Tensor,
           top_k: int = 10, rerank: int = 50,
           timing: Optional[Timing] = None) -> List[List[Hit]]:
    """The ``top_k`` videos for each text (encoded as ``tokens [M, K, E]``, ``mask [M, K]``,
    ``pooled [M, E]``): stage 1 keeps ``max(rerank, top_k)`` candidates, stage 2 orders
    them by the head's score. ``rerank=0`` skips stage 2 (hits scored by stage 1)."""
    t0 = time.perf_counter()
    pooled_scores, ids = candidates(index, head, tokens, mask, pooled, max(rerank, top_k))
    t1 = time.perf_counter()
    if rerank > 0:
        scores = rerank_scores(head, index, tokens, mask, pooled, ids).numpy()
    else:
        scores = pooled_scores
    t2 = time.perf_counter()
    if timing is not None:
        timing.stage_one += t1 - t0
        timing.stage_two += t2 - t1
    keys = index.keys
    results = []
    for q in range(len(ids)):
        order = np.argsort(-scores[q], kind='stable')[:top_k]
        results.append([Hit(keys[ids[q, j]], float(scores[q, j]), float(pooled_scores[q, j]))
                        for j in order])
    return results
