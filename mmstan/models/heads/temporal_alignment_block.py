"""CLIP2Video's Temporal Alignment Block (TAB, [C2V] §3.2, eqs. 3-6), NetVLAD-style.

K assignment centres ``c_j`` and K residual centres ``c~_j`` are shared by both
modalities. For the tokens ``ρ_i`` of one video (frame tokens) or one text (word tokens)::

    w_ij = exp(ρ_i · c_j) / Σ_k exp(ρ_i · c_k)                       (3) softmax over centres
    v_j  = Σ_i w_ij (ρ_i - c~_j) / ‖Σ_i w_ij (ρ_i - c~_j)‖₂           (4-6) per-centre L2
    f^a  = L2(mean_j v_j)                                            global average over K

(the last L2 normalisation is the official code's; the paper compares ``f^a`` by cosine,
so it does not change the scores). Padding tokens get no weight.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..precision import float32_region, upcast


class TemporalAlignmentBlock(nn.Module):
    """Args:
        num_centers: K (CLIP2Video: 5 for MSR-VTT and MSVD, 7 for VATEX).
        width: embedding width E.
        center_std: std of the centres' normal initialisation (the official code's 0.125).

    Forward: tokens ``[B, L, E]`` and mask ``[B, L]`` (True = real token, None = all) ->
    aligned embeddings ``f^a`` ``[B, E]`` (unit norm, float32).
    """

    def __init__(self, num_centers: int = 5, width: int = 512, center_std: float = 0.125):
        super().__init__()
        self.assign_centers = nn.Parameter(torch.randn(num_centers, width) * center_std)    # c
        self.residual_centers = nn.Parameter(torch.randn(num_centers, width) * center_std)  # c~

    def assignments(self, tokens: Tensor) -> Tensor:
        """Eq. 3: ``[B, L, E] -> [B, L, K]`` weights, each token's summing to 1 over centres."""
        return torch.softmax(tokens @ self.assign_centers.T.to(tokens.dtype), dim=-1)

    def centre_embeddings(self, tokens: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """Eqs. 4-6: ``[B, L, E] -> [B, K, E]`` per-centre aggregated residuals, unit norm."""
        w = self.assignments(tokens)
        if mask is not None:
            w = w * mask[..., None].to(w.dtype)
        # Σ_i w_ij (ρ_i - c~_j) = Σ_i w_ij ρ_i - (Σ_i w_ij) c~_j
        residual = (torch.einsum('blk,ble->bke', w, tokens)
                    - w.sum(dim=1)[..., None] * self.residual_centers.to(tokens.dtype))
        return F.normalize(residual, dim=-1)

    def forward(self, tokens: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        """float32 under mixed precision too: the softmax over centres (eq. 3) and the
        aggregation run with autocast off on upcast tokens."""
        with float32_region(tokens):
            return F.normalize(self.centre_embeddings(upcast(tokens), mask).mean(dim=1), dim=-1)

    def extra_repr(self) -> str:
        return f'centers={self.assign_centers.shape[0]}, width={self.assign_centers.shape[1]}'
