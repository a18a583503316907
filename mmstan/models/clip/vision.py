"""open_clip vision tower that exposes every layer's tokens.

This module and :mod:`mmstan.models.clip.text` are the only places that know
open_clip's internals (``conv1``, ``class_embedding``, ``transformer.resblocks``,
``_pool``, ``proj``).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .weights import ArchType, load_clip


def resample_pos_embed(pos_embed: Tensor, new_grid: Tuple[int, int]) -> Tensor:
    """Bicubically resample a ``[1 + h*w, D]`` position embedding (first row is [CLS])
    to ``[1 + H*W, D]`` for the ``new_grid = (H, W)`` patch grid."""
    cls_pos, patch_pos = pos_embed[:1], pos_embed[1:]
    old = int(round(patch_pos.shape[0] ** 0.5))
    assert old * old == patch_pos.shape[0], f'non-square position grid {patch_pos.shape[0]}'
    if (old, old) == tuple(new_grid):
        return pos_embed
    grid = patch_pos.reshape(1, old, old, -1).permute(0, 3, 1, 2).float()
    grid = F.interpolate(grid, size=new_grid, mode='bicubic', align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(new_grid[0] * new_grid[1], -1)
    return torch.cat([cls_pos, grid.to(pos_embed.dtype)], dim=0)


class CLIPVision(nn.Module):
    """A CLIP (or CoCa) image encoder applied to frames, returning per-layer tokens.

    Args:
        arch: open_clip architecture name or custom ``open_clip.CLIP`` config dict.
        pretrained: weights (see :func:`mmstan.models.clip.weights.load_clip`).
        input_resolution: frame size the model will see; position embeddings are
            resampled when it differs from the architecture's (e.g. 256 for AVA).
        clip_model: an already built open_clip model to take the tower from
            (``arch``/``pretrained`` are then ignored).
    """

    def __init__(self, arch: ArchType = 'ViT-B-16', pretrained: Optional[str] = None,
                 input_resolution: Optional[int] = None, clip_model: Optional[nn.Module] = None):
        super().__init__()
        model = clip_model if clip_model is not None else load_clip(arch, pretrained)
        self.visual = model.visual
        visual = self.visual
        assert hasattr(visual, 'transformer'), 'only ViT-based open_clip towers are supported'
        self.patch_size = visual.patch_size[0]
        self.width = visual.transformer.width
        self.num_layers = len(visual.transformer.resblocks)
        self.embed_dim = visual.output_dim
        self.grad_checkpointing = False
        if input_resolution is not None:
            grid = (input_resolution // self.patch_size,) * 2
            if grid != tuple(visual.grid_size):
                visual.positional_embedding = nn.Parameter(
                    resample_pos_embed(visual.positional_embedding.data, grid))
                visual.grid_size = grid
                visual.image_size = (input_resolution, input_resolution)

    @property
    def blocks(self) -> nn.ModuleList:
        """The transformer blocks (open_clip ``ResidualAttentionBlock``)."""
        return self.visual.transformer.resblocks

    def embed(self, frames: Tensor) -> Tensor:
        """Patchify and embed. ``[N, 3, H, W] -> [N, 1+L, D]`` (after ``ln_pre``)."""
        expected = self.visual.grid_size[0] * self.patch_size
        assert frames.shape[-2:] == (expected, expected), (
            f'frames are {tuple(frames.shape[-2:])} px but the CLIP tower expects '
            f'{expected}; set input_resolution={frames.shape[-1]}')
        return self.visual._embeds(frames)

    def run_block(self, index: int, x: Tensor) -> Tensor:
        """Apply block ``index`` to ``[N, 1+L, D]`` tokens (checkpointed if enabled)."""
        block = self.blocks[index]
        if self.grad_checkpointing and self.training and x.requires_grad:
            return checkpoint(block, x, use_reentrant=False)
        return block(x)

    def forward(self, frames: Tensor, collect: Sequence[int] = ()) -> Tuple[Tensor, List[Tensor]]:
        """Encode frames.

        Args:
            frames: ``[N, 3, H, W]``.
            collect: 0-based indices of blocks whose outputs to return.

        Returns:
            ``(last, collected)``: the last block's output ``[N, 1+L, D]`` and the
            outputs of the ``collect`` blocks, each ``[N, 1+L, D]``, in that order.
        """
        wanted = {i % self.num_layers: pos for pos, i in enumerate(collect)}
        collected: List[Optional[Tensor]] = [None] * len(collect)
        x = self.embed(frames)
        for index in range(self.num_layers):
            x = self.run_block(index, x)
            if index in wanted:
                collected[wanted[index]] = x
        return x, collected

    def project(self, tokens: Tensor) -> Tensor:
        """Final LN, pooling and projection into the joint space.

        ``[N, 1+L, D] -> [N, E]``: CLIP takes the [CLS] token; CoCa pools with its
        attentional pooler. This is what turns CLIP's last-layer tokens into the image
        embedding, and STAN's fused tokens into frame embeddings (Mug-STAN eq. 10).
        """
        pooled, _ = self.visual._pool(tokens)
        if self.visual.proj is not None:
            pooled = pooled @ self.visual.proj
        return pooled

    def patch_map(self, tokens: Tensor) -> Tensor:
        """Patch tokens as a feature map: ``[N, 1+L, D] -> [N, D, h, w]``."""
        h, w = self.visual.grid_size
        patches = tokens[:, 1:]
        return patches.transpose(1, 2).reshape(patches.shape[0], self.width, h, w)
