"""The two residual halves of an open_clip ``ResidualAttentionBlock``.

STAN's intra-frame module ([S] eq. 7) runs a copied CLIP block's attention half on
per-frame tokens and its MLP half on the re-assembled video tokens, so it needs the
halves separately. These functions are the only code outside open_clip that knows a
block's parts (``ln_1``, ``attention``, ``ls_1``, ``ln_2``, ``mlp``, ``ls_2``).
"""
from torch import Tensor, nn


def attention_residual(block: nn.Module, x: Tensor) -> Tensor:
    """The attention branch ``ls_1(attn(ln_1(x)))`` of ``block`` (add it to ``x``).
    ``[N, S, D] -> [N, S, D]``."""
    return block.ls_1(block.attention(block.ln_1(x)))


def mlp_residual(block: nn.Module, x: Tensor) -> Tensor:
    """The MLP branch ``ls_2(mlp(ln_2(x)))`` of ``block`` (add it to ``x``).
    ``[N, S, D] -> [N, S, D]``."""
    return block.ls_2(block.mlp(block.ln_2(x)))


def block_width(block: nn.Module) -> int:
    """Token width D of ``block``."""
    return block.ln_1.normalized_shape[0]


def block_heads(block: nn.Module) -> int:
    """Attention heads of ``block``."""
    return block.attn.num_heads
