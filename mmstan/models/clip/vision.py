"""open_clip vision tower that exposes the tokens of chosen layers.

This package (:mod:`mmstan.models.clip`) is the only place that knows open_clip's
internals. The vision side uses open_clip's public ``forward_intermediates`` and
``set_grad_checkpointing``; the private call ``VisionTransformer._pool`` (CLS pooling or
CoCa's attentional pooling, then ``ln_post``) is pinned by the tested open_clip range in
``requirements/runtime.txt`` and checked against open_clip's own ``encode_image`` in
``tests/models/test_clip_towers.py``. Tube masking (training only) needs the embedded
tokens before the first block, so it alone takes ``VisionTransformer._embeds`` (the very
function ``forward_intermediates`` starts with) and the transformer's public
``forward_intermediates``; ``tests/models/test_tube_mask.py`` checks it against the
public path (nothing dropped) and against open_clip's transformer with the dropped keys
masked out.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import block_heads, block_width
from .tube_mask import gather_positions


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
        clip_model: an open_clip CLIP or CoCa model (see
            :func:`mmstan.models.clip.weights.load_clip`); its ``visual`` tower is taken.
        input_resolution: frame size the model will see; position embeddings are
            resampled when it differs from the architecture's (e.g. 256 for AVA).
    """

    def __init__(self, clip_model: nn.Module, input_resolution: Optional[int] = None):
        super().__init__()
        visual = clip_model.visual
        if not hasattr(visual, 'transformer'):
            raise ValueError('only ViT-based open_clip vision towers are supported')
        self.visual = visual
        self.patch_size = visual.patch_size[0]
        self.width = visual.transformer.width
        self.num_layers = len(visual.transformer.resblocks)
        self.embed_dim = visual.output_dim
        self.heads = block_heads(self.blocks[0])
        assert block_width(self.blocks[0]) == self.width
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

    @property
    def grid_size(self) -> Tuple[int, int]:
        """Patch grid ``(h, w)`` of one frame."""
        return tuple(self.visual.grid_size)

    @property
    def class_embedding(self) -> Tensor:
        """CLIP's learned class token ``[D]``."""
        return self.visual.class_embedding

    @property
    def positional_embedding(self) -> Tensor:
        """CLIP's position embedding ``[1 + h*w, D]`` ([CLS] first)."""
        return self.visual.positional_embedding

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute the CLIP blocks in backward (open_clip's own switch)."""
        self.visual.set_grad_checkpointing(enable)

    def forward(self, frames: Tensor, collect: Sequence[int] = (),
                keep: Optional[Tensor] = None) -> Tuple[Tensor, List[Tensor]]:
        """Encode frames.

        Args:
            frames: ``[N, 3, H, W]``.
            collect: 0-based indices of blocks whose outputs to return (negative
                indices count from the end).
            keep: ``[N, K]`` patch positions (in ``range(h*w)``) each frame keeps, or
                None for all. The others are removed after the patch and position
                embedding, before the first block (tube masking, see
                :mod:`.tube_mask`), so the blocks run on ``1 + K`` tokens.

        Returns:
            ``(last, collected)``: the last block's output ``[N, 1+L, D]`` (before
            ``ln_post``; ``[N, 1+K, D]`` with ``keep``, patches in ``keep``'s order) and
            the outputs of the ``collect`` blocks, same shapes, in the order asked for.
        """
        expected = self.grid_size[0] * self.patch_size
        assert frames.shape[-2:] == (expected, expected), (
            f'frames are {tuple(frames.shape[-2:])} px but the CLIP tower expects '
            f'{expected}; set input_resolution={frames.shape[-1]}')
        wanted = sorted({i % self.num_layers for i in collect} | {self.num_layers - 1})
        if keep is None:
            out = self.visual.forward_intermediates(
                frames, indices=wanted, output_fmt='NLC', output_extra_tokens=True,
                intermediates_only=True)
            levels = [torch.cat([prefix, patches], dim=1) for prefix, patches in zip(
                out['image_intermediates_prefix'], out['image_intermediates'])]
        else:
            levels = self._masked_levels(frames, keep, wanted)
        tokens = dict(zip(wanted, levels))
        return tokens[self.num_layers - 1], [tokens[i % self.num_layers] for i in collect]

    def _masked_levels(self, frames: Tensor, keep: Tensor, wanted: List[int]) -> List[Tensor]:
        """Outputs ``[N, 1+K, D]`` of blocks ``wanted`` on [CLS] + the kept patches."""
        if self.training and not isinstance(self.visual.patch_dropout, nn.Identity):
            raise ValueError('tube masking and open_clip patch_dropout both drop tokens; '
                             'use one of them')
        tokens = self.visual._embeds(frames)  # [N, 1+L, D]: patches + positions, ln_pre
        tokens = torch.cat([tokens[:, :1], gather_positions(tokens[:, 1:], keep)], dim=1)
        _, levels = self.visual.transformer.forward_intermediates(tokens, indices=wanted)
        return levels

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
        """Patch tokens as a feature map: ``[N, 1+L, D] -> [N, D, h, w]``, through CLIP's
        final LayerNorm ``ln_post`` (what open_clip's ``forward_intermediates(...,
        normalize_intermediates=True)`` gives for the last block). CoCa's ``ln_post``
        follows its attentional pooler (another width), so CoCa patches stay as they are."""
        h, w = self.grid_size
        patches = tokens[:, 1:]
        assert patches.shape[1] == h * w, f'{patches.shape[1]} patch tokens for a {h}x{w} map'
        if getattr(self.visual, 'attn_pool', None) is None:
            patches = self.visual.ln_post(patches)
        return patches.transpose(1, 2).reshape(patches.shape[0], self.width, h, w)
