"""CLIP2Video's video head ([C2V] §3): a global score through the Temporal Difference
Block and a temporal transformer, an aligned score through the Temporal Alignment Block,
mixed with weight w in the loss and at inference.

Video side, from the frame embeddings ``F_f = {f_0..f_{m-1}}`` ``[N, m, E]``:

- global (§3.1): ``F_te = TDB(F_f)`` (eqs. 1-2) -> ``L_t``-layer temporal transformer ->
  the frame slots only (difference slots dropped) + ``F_f`` (residual, official code) ->
  per-frame L2, mean (GAP), L2: ``f_v^g``.
- aligned (§3.2): the frames at stride 2 -> the shared TDB -> a 1-layer transformer ->
  frame slots + those frames: ``F_d1``; ``F_m1 = [F_f, F_d1]`` (m + m/2 tokens) -> TAB
  (eqs. 3-5): ``f_v^a``.

Text side: ``f_t^g`` = the [EOT] embedding; ``f_t^a`` = TAB over the word tokens (eq. 6),
every real token but the first ([SOS]), as in the official code.

Scores and loss (§3.3)::

    s = w <f_t^g, f_v^g> + (1 - w) <f_t^a, f_v^a>           inference, w = 0.5
    L = w L_o(s^g) + (1 - w) L_o(s^a)                       training
    L_o = ½ (L_t2v + L_v2t)                                 symmetric InfoNCE, averaged

(the retriever's own loss sums ``L_t2v + L_v2t`` as Mug-STAN's eq. 19 does, so
:meth:`CLIP2VideoHead.score_terms` carries the ½ in its term weights; it matters beside
``clip_grad`` max_norm 5).

All new transformers and embeddings start from CLIP's text transformer (§4.1; official
code: the temporal transformer from text layers 0..3, the difference attention and
TAB's transformer from layer 0, frame positions from the text position embedding, the
two type embeddings from its first two rows).
"""
import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor, nn

from .temporal_alignment_block import TemporalAlignmentBlock
from .temporal_difference_block import TemporalDifferenceBlock
from .text_layers import TextLayers, text_joint_width, text_positions

#: Slots of :meth:`CLIP2VideoHead.encode_video`'s output.
GLOBAL, ALIGNED = 0, 1


@MODELS.register_module()
class CLIP2VideoHead(nn.Module):
    """Args:
        text_tower: the retriever's open_clip ``TextTransformer`` (``CLIPText.text``;
            ``VideoTextRetriever`` passes it); its layers and position embedding are
            copied (nothing of it is kept).
        num_layers: temporal transformer layers ``L_t`` (4).
        num_centers: TAB centres K (5 for MSR-VTT / MSVD, 7 for VATEX).
        global_weight: w, the global term's weight in the loss and the score (0.5).
        center_std: TAB centres' initial std.

    :meth:`encode_video`: frames ``[N, m, E]`` -> ``[N, 2, E]`` (``f_v^g``, ``f_v^a``), once
    per video in the retriever's ``encode_video``; ``forward`` / :meth:`gallery` take
    those and text features; :meth:`score_terms` gives the loss its two weighted terms.
    """

    def __init__(self, text_tower: nn.Module, num_layers: int = 4, num_centers: int = 5,
                 global_weight: float = 0.5, center_std: float = 0.125):
        super().__init__()
        if not 0.0 <= global_weight <= 1.0:
            raise ValueError(f'global_weight must be in [0, 1], got {global_weight}')
        width = text_joint_width(text_tower, 'CLIP2VideoHead')
        self.global_weight = global_weight
        self.positions = text_positions(text_tower)                            # P
        self.tdb = TemporalDifferenceBlock(TextLayers(text_tower, 1, 'CLIP2VideoHead TDB'), width)
        with torch.no_grad():
            self.tdb.type_embedding.copy_(self.positions[:2])                  # T
        self.temporal = TextLayers(text_tower, num_layers, 'CLIP2VideoHead')
        self.align_transformer = TextLayers(text_tower, 1, 'CLIP2VideoHead TAB')
        self.tab = TemporalAlignmentBlock(num_centers, width, center_std)

    def encode_video(self, frames: Tensor) -> Tensor:
        """``[N, m, E]`` frame embeddings -> ``[N, 2, E]``: ``f_v^g`` and ``f_v^a``, unit norm."""
        num_frames = frames.shape[1]
        if num_frames > self.positions.shape[0]:
            raise ValueError(f'CLIP2VideoHead has {self.positions.shape[0]} frame positions, '
                             f'got {num_frames} frames')
        x = self.temporal(self.tdb(frames, self.positions))[:, 0::2] + frames
        video_global = F.normalize(F.normalize(x, dim=-1).mean(dim=1), dim=-1)
        sparse = frames[:, 0::2]
        d1 = self.align_transformer(self.tdb(sparse, self.positions))[:, 0::2] + sparse
        video_aligned = self.tab(torch.cat([frames, d1], dim=1))
        return torch.stack([video_global, video_aligned], dim=1)

    def encode_text(self, tokens: Tensor, mask: Tensor, pooled: Tensor) -> Tensor:
        """Text features -> ``[M, 2, E]``: ``f_t^g`` (the [EOT] embedding) and ``f_t^a``
        (TAB over the real tokens after [SOS]), unit norm."""
        words = mask.clone()
        words[:, 0] = False
        return torch.stack([F.normalize(pooled, dim=-1), self.tab(tokens, words)], dim=1)

    def _scores(self, tokens: Tensor, mask: Tensor, pooled: Tensor,
                video: Tensor) -> Tuple[Tensor, Tensor]:
        """``(s^g, s^a)``: the global and aligned ``[M, N]`` cosine matrices."""
        text = self.encode_text(tokens, mask, pooled).to(video.dtype)
        return text[:, GLOBAL] @ video[:, GLOBAL].T, text[:, ALIGNED] @ video[:, ALIGNED].T

    def score_terms(self, tokens: Tensor, mask: Tensor, pooled: Tensor,
                    video: Tensor) -> List[Tuple[float, Tensor]]:
        """``[(w / 2, s^g), ((1 - w) / 2, s^a)]``: the ``[M, N]`` cosine matrices and the
        weights of their ``L_t2v + L_v2t`` in the loss, ``w L_o^g + (1 - w) L_o^a`` with
        ``L_o = ½ (L_t2v + L_v2t)`` (§3.3)."""
        s_global, s_aligned = self._scores(tokens, mask, pooled, video)
        return [(self.global_weight / 2, s_global), ((1.0 - self.global_weight) / 2, s_aligned)]

    def forward(self, tokens: Tensor, mask: Tensor, pooled: Tensor, video: Tensor) -> Tensor:
        """``[M, N]`` scores ``w s^g + (1 - w) s^a`` (``video`` from :meth:`encode_video`)."""
        s_global, s_aligned = self._scores(tokens, mask, pooled, video)
        return self.global_weight * s_global + (1.0 - self.global_weight) * s_aligned

    @torch.no_grad()
    def gallery(self, tokens: Tensor, mask: Tensor, pooled: Tensor, video: Tensor) -> Tensor:
        """The full ``[M, N]`` score matrix (two ``[M, E] @ [E, N]`` products)."""
        return self(tokens, mask, pooled, video)

    # ---- stage 1 of the search (mmstan.search): one vector per text / per video -------
    # [sqrt(w) f^g, sqrt(1 - w) f^a] on both sides: their inner product is the score.

    def _stage1(self, features: Tensor) -> Tensor:
        w = self.global_weight
        return torch.cat([math.sqrt(w) * features[:, GLOBAL].float(),
                          math.sqrt(1.0 - w) * features[:, ALIGNED].float()], dim=-1)

    @torch.no_grad()
    def stage1_video(self, video: Tensor) -> Tensor:
        """:meth:`encode_video`'s ``[N, 2, E]`` -> ``[N, 2E]``, whose inner product with
        :meth:`stage1_text` is exactly the score ``w s^g + (1 - w) s^a``."""
        return self._stage1(video)

    @torch.no_grad()
    def stage1_text(self, tokens: Tensor, mask: Tensor, pooled: Tensor) -> Tensor:
        """Text features -> ``[M, 2E]`` (see :meth:`stage1_video`)."""
        return self._stage1(self.encode_text(tokens, mask, pooled))

    def extra_repr(self) -> str:
        return f'layers={len(self.temporal.blocks)}, w={self.global_weight}'
