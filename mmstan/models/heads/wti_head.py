"""DRL's weighted token interaction (WTI): every token's best frame and every frame's
best token, weighted by learned token and frame weights (DRL, Wang et al. 2022).

For a text with tokens ``c_j`` and a video with frames ``v_i`` (both L2-normalised) and
their block ``G[j, i] = c_j · v_i``::

    a_j   = softmax_j(f_text(c_j))      (over the real tokens the head reads)
    b_i   = softmax_i(f_video(v_i))
    score = (Σ_j a_j max_i G[j, i] + Σ_i b_i max_j G[j, i]) / 2

with ``f_text`` / ``f_video`` two-layer MLPs (``text_weight`` / ``video_weight``).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn

from .similarity_head import SimilarityHead


def _weight_mlp(embed_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(embed_dim, embed_dim), nn.ReLU(inplace=True),
                         nn.Linear(embed_dim, 1))


@MODELS.register_module()
class WTIHead(SimilarityHead):
    """Args:
        embed_dim: embedding width E (of the weight MLPs).
        block_elements: :meth:`gallery` scores texts in chunks whose ``[texts, videos,
            K, T]`` cosines have at most this many elements (None: the default block).
        drop_sot: leave [SOT] (token position 0) out of the tokens read; see
            :class:`~mmstan.models.heads.similarity_head.SimilarityHead`.

    Parameters ``text_weight.*`` / ``video_weight.*`` (the names of the former
    ``MugHead(mode='wti')``, whose checkpoints load unchanged).
    """

    def __init__(self, embed_dim: int = 512, block_elements: Optional[int] = None,
                 drop_sot: bool = False):
        super().__init__(block_elements, drop_sot)
        self.text_weight = _weight_mlp(embed_dim)
        self.video_weight = _weight_mlp(embed_dim)

    def token_weights(self, tokens: Tensor, mask: Tensor) -> Tensor:
        """Normalised tokens ``[M, K, E]``, mask ``[M, K]`` -> ``a`` ``[M, K]`` (0 off mask)."""
        logits = self.text_weight(tokens).squeeze(-1).masked_fill(~mask, float('-inf'))
        return torch.softmax(logits, dim=-1)

    def frame_weights(self, frames: Tensor) -> Tensor:
        """Normalised frames ``[N, T, E]`` -> ``b`` ``[N, T]``."""
        return torch.softmax(self.video_weight(frames).squeeze(-1), dim=-1)

    def forward(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """``[M, N]`` WTI score of every text with every video."""
        mask = self.token_mask(mask, tokens)
        tokens, frames = F.normalize(tokens, dim=-1), F.normalize(frames, dim=-1)
        g = torch.einsum('mkd,ntd->mnkt', tokens, frames)
        t2v = torch.einsum('mnk,mk->mn', g.max(dim=3).values, self.token_weights(tokens, mask))
        masked = g.masked_fill(~mask[:, None, :, None], float('-inf'))
        v2t = torch.einsum('mnt,nt->mn', masked.max(dim=2).values, self.frame_weights(frames))
        return (t2v + v2t) / 2

    def elements_per_text(self, tokens: Tensor, frames: Tensor) -> int:
        """Each text's ``[N, K, T]`` cosines against the whole gallery."""
        return frames.shape[0] * frames.shape[1] * tokens.shape[1]

    # ---- stage 1 of the search (mmstan.search): one vector per text / per video -------
    # (Σ_j a_j c_j) · (Σ_i b_i v_i): the score with each max over frames / tokens replaced
    # by the other side's weighted mean (a lower bound of each term).

    def _params_dtype(self, x: Tensor) -> Tensor:
        return x.to(self.text_weight[0].weight.dtype)

    @torch.no_grad()
    def stage1_video(self, frames: Tensor) -> Tensor:
        """Frames ``[N, T, E]`` -> ``[N, E]``: the frames under the learned weights b_i."""
        frames = F.normalize(self._params_dtype(frames), dim=-1)
        return torch.einsum('nt,nte->ne', self.frame_weights(frames), frames)

    @torch.no_grad()
    def stage1_text(self, tokens: Tensor, mask: Tensor, pooled: Tensor) -> Tensor:
        """Text features -> ``[M, E]``: the tokens the head reads under the learned
        weights a_j."""
        mask = self.token_mask(mask, tokens)
        tokens = F.normalize(self._params_dtype(tokens), dim=-1)
        return torch.einsum('mk,mke->me', self.token_weights(tokens, mask), tokens)
