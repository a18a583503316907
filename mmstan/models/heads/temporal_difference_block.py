"""CLIP2Video's Temporal Difference Block (TDB, [C2V] §3.1, eqs. 1-2).

Differences of adjacent frame embeddings, with the later frame's position embedding,
go through a 1-layer transformer (difference-level attention) and are squashed into
``[-1, 1]``::

    F_d = 2 σ(LN(δ({f_1 - f_0, ..., f_{m-1} - f_{m-2}} + P_{1..m-1}))) - 1     (1)

(the LayerNorm is the official code's, eq. 1 does not print it). Each difference token
is then inserted between the two frames it came from, and every token gets a position
and a type (frame / difference) embedding::

    F_te = {f_0, d_1, f_1, d_2, ..., d_{m-1}, f_{m-1}} + P + T                 (2)

Eq. 2 does not say which position a difference token takes; as in the official code,
``d_t`` (between frames t-1 and t) takes frame t-1's, and the type embedding tells them
apart. The position table is the caller's (CLIP2Video shares it with its transformers).
"""
import torch
from torch import Tensor, nn

#: Rows of the type embedding (as in the official code, whose init copies the text
#: position embedding's rows 0 and 1 into them).
DIFFERENCE, FRAME = 0, 1


class TemporalDifferenceBlock(nn.Module):
    """Args:
        difference_attention: the 1-layer transformer δ, ``[B, L, E] -> [B, L, E]``.
        width: embedding width E.

    Forward: frames ``[B, m, E]`` and positions ``[>= m, E]`` -> ``F_te`` ``[B, 2m-1, E]``
    (frames at even, difference tokens at odd indices).
    """

    def __init__(self, difference_attention: nn.Module, width: int):
        super().__init__()
        self.difference_attention = difference_attention
        self.norm = nn.LayerNorm(width)
        self.type_embedding = nn.Parameter(torch.zeros(2, width))   # rows DIFFERENCE, FRAME

    def differences(self, frames: Tensor, positions: Tensor) -> Tensor:
        """Eq. 1: frames ``[B, m, E]`` -> difference tokens ``F_d`` ``[B, m-1, E]`` in [-1, 1]."""
        m = frames.shape[1]
        diff = frames[:, 1:] - frames[:, :-1] + positions[1:m]
        return 2 * torch.sigmoid(self.norm(self.difference_attention(diff))) - 1

    def forward(self, frames: Tensor, positions: Tensor) -> Tensor:
        b, m, e = frames.shape
        if positions.shape[0] < m:
            raise ValueError(f'{positions.shape[0]} position embeddings for {m} frames')
        positions = positions[:m].to(frames.dtype)
        out = frames.new_empty(b, 2 * m - 1, e)
        out[:, 0::2] = frames + positions + self.type_embedding[FRAME]
        out[:, 1::2] = (self.differences(frames, positions) + positions[:m - 1]
                        + self.type_embedding[DIFFERENCE])
        return out
