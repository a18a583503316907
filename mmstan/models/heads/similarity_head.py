"""The base of the similarity heads (``MugHead``, ``MeanPHead``, ``WTIHead``): what the
head protocol of :mod:`mmstan.models.heads` shares between them, once.

- :meth:`SimilarityHead.gallery`: the whole ``[M, N]`` score matrix in bounded memory
  (texts in chunks when ``forward`` itself is not already bounded);
- :meth:`SimilarityHead.token_mask`: the tokens a head reads (``drop_sot``);
- :func:`l2_mean_frame`: CLIP4Clip's video vector, L2(mean of L2 frames).

A head gives ``forward`` and the stage-1 vectors ``stage1_video`` / ``stage1_text``
itself (the search refuses a head without them).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Default block size: elements of the largest intermediate a head's scoring keeps at a
#: time (float32: 64 MB; Mug's ``[texts, K, T, videos]`` blocks, WTI's text chunks).
#: Large enough that the operator calls of a block amortise their dispatch and thread
#: synchronisation (on a CPU shared with other work, small blocks lose more to waiting
#: threads than they gain from cache; on a GPU, to kernel launches), small enough to
#: keep memory bounded.
DEFAULT_BLOCK = 2 ** 24


def l2_mean_frame(frames: Tensor) -> Tensor:
    """``[N, T, E]`` frames -> ``[N, E]``: L2(mean of L2 frames), CLIP4Clip's video."""
    return F.normalize(F.normalize(frames, dim=-1).mean(dim=1), dim=-1)


class SimilarityHead(nn.Module):
    """Base of a similarity head: text tokens ``[M, K, E]``, token mask ``[M, K]`` (True
    on real tokens), pooled text ``[M, E]`` and frames ``[N, T, E]`` -> ``[M, N]`` scores.

    Args:
        block_elements: :meth:`gallery` keeps intermediates of at most about this many
            elements (None: :data:`DEFAULT_BLOCK`), whatever the gallery size.
        drop_sot: leave token position 0, CLIP's start-of-text token [SOT], out of the
            tokens the head reads (:meth:`token_mask`). Under the causal mask of CLIP's
            text transformer [SOT] attends only to itself, so its output is one and the
            same vector for every caption (a learned constant, not an embedding of the
            text, which [M] eqs. 11-18 are over). At tau = 100 Mug's token softmax (17)
            is nearly hard: if [SOT] becomes the token closest to the frames, c~ = c_[SOT]
            for every caption, the scores stop depending on the text, InfoNCE sits at
            2 ln B and the words get no gradient (they have ~0 weight), so training cannot
            leave that state. The official head keeps [SOT] (its mask is ``text != 0``),
            hence the default False; random-init training
            (``configs/demo/synthetic_motion_retrieval.py``) needs True.
    """

    def __init__(self, block_elements: Optional[int] = None, drop_sot: bool = False):
        super().__init__()
        self.block_elements = block_elements
        self.drop_sot = drop_sot

    def token_mask(self, mask: Optional[Tensor], tokens: Tensor) -> Tensor:
        """The tokens the head reads: ``mask`` (``[M, K]``, True on real tokens; None: all
        real) without position 0 when ``drop_sot``."""
        if mask is None:
            mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        if not self.drop_sot:
            return mask
        mask = mask.clone()
        mask[:, 0] = False
        return mask

    def elements_per_text(self, tokens: Tensor, frames: Tensor) -> int:
        """Elements ``forward`` keeps per text against the whole gallery, where that grows
        with the gallery unbounded (:meth:`gallery` then scores texts in chunks); 0 where
        ``forward`` is already bounded (the default)."""
        return 0

    @torch.no_grad()
    def gallery(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """The full ``[M, N]`` text x video score matrix, in blocks of bounded size."""
        per_text = self.elements_per_text(tokens, frames)
        if not per_text:
            return self(tokens, mask, pooled, frames)
        chunk = max(1, (self.block_elements or DEFAULT_BLOCK) // per_text)
        out = tokens.new_empty(tokens.shape[0], frames.shape[0])
        for i in range(0, tokens.shape[0], chunk):
            rows = slice(i, i + chunk)
            out[rows] = self(tokens[rows], None if mask is None else mask[rows], pooled[rows],
                             frames)
        return out
