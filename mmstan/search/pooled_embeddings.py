"""One vector per video and one per text whose inner product stands in for the head's
score in stage 1 of the search (a FAISS inner-product index over the video vectors).

Each head gives its own, through the head protocol of :mod:`mmstan.models.heads`:
``head.stage1_video(video) -> [N, D]`` (``video``: the retriever's ``encode_video``
output, what the index stores) and ``head.stage1_text(tokens, mask, pooled) -> [M, D]``.

- ``MeanPHead`` (CLIP4Clip meanP) is itself an inner product,
  ``cos(text, mean_i v_i)``: stage 1 is exact.
- ``MugHead('mug')`` (eqs. 11-18) is ``Σ_j Σ_i w'_j w_i c_j · v_i`` with softmax weights
  at temperature ``tau``; as ``tau -> 0`` the weights become uniform and the score becomes
  ``mean_j c_j · mean_i v_i``, the vectors used. ``'frame_text'`` has the pooled text as
  its one token (``c · mean_i v_i``), ``'video_token'`` the normalised mean frame as its
  one frame (``mean_j c_j · normalize(mean_i v_i)``).
- ``WTIHead`` (DRL) uses its learned token and frame weights:
  ``(Σ_j a_j c_j) · (Σ_i b_i v_i)``, the score with each max replaced by a weighted mean.
- ``SeqTransfHead``: its similarity head's vectors of the temporally modelled frames.
- ``CLIP2VideoHead``: ``[sqrt(w) f^g, sqrt(1 - w) f^a]`` on both sides, whose inner
  product is exactly ``w <f_t^g, f_v^g> + (1 - w) <f_t^a, f_v^a>``.

Stage 2 then scores the best candidates exactly with the head.

The index stores the video vectors; its manifest names the rule they were made by
(:func:`stage1_rule`), and an index made by another rule has them recomputed from its
stored video features (:func:`mmstan.search.indexing.update_stage1`).
"""
import itertools

import torch
from torch import Tensor, nn

from mmstan.errors import UserError

#: Version of the stage-1 rules, kept in the index manifest. 1: every head's features
#: pooled by Mug's rule, whatever the head (mmstan before heads gave their own); 2: each
#: head's ``stage1_video`` / ``stage1_text``. Bump it when a head changes what they return.
STAGE1_VERSION = 2

_METHODS = ('stage1_video', 'stage1_text')


def _method(head: nn.Module, name: str):
    method = getattr(head, name, None)
    if not callable(method):
        raise UserError(f'{type(head).__name__} has no {name}(): the search needs the head to give '
                        f'its stage-1 vectors ({" and ".join(_METHODS)}, the head protocol of '
                        'mmstan.models.heads); add them to the head, or search with another head')
    return method


def head_device(head: nn.Module) -> torch.device:
    """Where the head's weights are (the CPU for a head without any)."""
    first = next(itertools.chain(head.parameters(), head.buffers()), None)
    return torch.device('cpu') if first is None else first.device


def stage1_rule(head: nn.Module) -> str:
    """Names the stage-1 vectors of ``head`` (kept in the index manifest), e.g.
    ``'MugHead(mug) v2'``, ``'MeanPHead v2'``; a head without the stage-1 methods is a ``UserError``."""
    for name in _METHODS:
        _method(head, name)
    mode = getattr(head, 'mode', None)
    return f'{type(head).__name__}{"" if mode is None else f"({mode})"} v{STAGE1_VERSION}'


@torch.no_grad()
def video_vectors(head: nn.Module, video: Tensor) -> Tensor:
    """The retriever's video features (``[N, T, E]`` frames, or the head's own) ->
    stage-1 video vectors ``[N, D]`` (float32, CPU), by ``head.stage1_video``."""
    return _method(head, 'stage1_video')(video.to(head_device(head))).float().cpu()


@torch.no_grad()
def text_vectors(head: nn.Module, tokens: Tensor, mask: Tensor, pooled: Tensor) -> Tensor:
    """Tokens ``[M, K, E]``, mask ``[M, K]`` (True on real tokens), pooled ``[M, E]`` ->
    stage-1 text vectors ``[M, D]`` (float32, CPU), by ``head.stage1_text``."""
    device = head_device(head)
    return _method(head, 'stage1_text')(tokens.to(device), mask.to(device),
                                        pooled.to(device)).float().cpu()
