"""One vector per video and one per text whose inner product stands in for the head's
score in stage 1 of the search (a FAISS inner-product index over the video vectors).

Every head mode of :class:`~mmstan.models.heads.MugHead` scores a pair from the
L2-normalised tokens ``c_j`` (or the pooled text) and frames ``v_i``:

- ``'mean'`` is itself an inner product, ``cos(text, mean_i v_i)``: stage 1 is exact.
- ``'mug'`` (eqs. 11-18) is ``Σ_j Σ_i w'_j w_i c_j · v_i`` with softmax weights at
  temperature ``tau``; as ``tau -> 0`` the weights become uniform and the score becomes
  ``mean_j c_j · mean_i v_i``, the vectors used here (``'wti'`` uses them too).
- ``'frame_text'`` has the pooled text as its one token: ``c · mean_i v_i``.
- ``'video_token'`` has the normalised mean frame as its one frame:
  ``mean_j c_j · normalize(mean_i v_i)``.

Stage 2 then scores the best candidates exactly with the head.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def video_vectors(frames: Tensor, mode: str) -> Tensor:
    """Frames ``[N, T, E]`` -> stage-1 video vectors ``[N, E]`` for head ``mode``."""
    mean = F.normalize(frames.float(), dim=-1).mean(dim=1)
    return F.normalize(mean, dim=-1) if mode in ('mean', 'video_token') else mean


def text_vectors(tokens: Tensor, mask: Tensor, pooled: Tensor, mode: str) -> Tensor:
    """Tokens ``[M, K, E]``, mask ``[M, K]`` (True on real tokens), pooled ``[M, E]`` ->
    stage-1 text vectors ``[M, E]`` for head ``mode``."""
    if mode in ('mean', 'frame_text'):
        return F.normalize(pooled.float(), dim=-1)
    weights = mask.float() / mask.float().sum(dim=1, keepdim=True).clamp(min=1)
    return torch.einsum('mk,mke->me', weights, F.normalize(tokens.float(), dim=-1))
