"""STAN-LLaVA's video tower: LLaVA's frozen CLIP plus the post-pretrained STAN branch of
a Mug-STAN checkpoint ([M] §IV-F), returning video tokens in the layout LLaVA's projector
takes. The paper leaves three choices open; they are made here:

- **Where the branch joins** (``feature_layer``): LLaVA-1.5 reads the patch tokens of
  CLIP's second-to-last layer (``vision_feature_layer=-2``), and its projector was
  trained on exactly those. The branch is fed by the top K CLIP layers it was
  post-pretrained with, and its output is added to the layer LLaVA reads, as [M] eq. 10
  adds it to the last layer (STAN [CLS] to every frame's [CLS], STAN patches to the
  frame patches; :meth:`CLIPSTAN.fuse`). The projector thus keeps its own input
  distribution plus the branch's temporal residual. ``feature_layer=-1`` gives eq. 10
  itself (the fused last layer, as Mug-STAN was trained), which the projector never saw.
- **Frames** (``num_frames`` of the chat config, 12 by default): Mug-STAN's
  post-pretraining frame count ([M] §IV-A), so the temporal position embedding is used
  at the length it was learned for.
- **Token budget** (``spatial_pool``, ``temporal_pool``): one 336 px frame is 576 tokens
  and LLaVA-1.5's LLM has a 4096-token context, so 8 full frames (4608) do not fit.
  Patch tokens are average-pooled over ``spatial_pool x spatial_pool`` cells of each
  frame's grid (2: 144 tokens per frame, 1728 for 12 frames) and/or over
  ``temporal_pool`` consecutive frames, before the projector (the projector is applied
  per token, as to one image's tokens). ``spatial_pool=1`` with 4 frames keeps LLaVA's
  full resolution (2304 tokens). ``tools/analysis/chat_token_budget.py`` prints the
  table.

With ``use_branch=False`` the tower returns, per frame, LLaVA's own image features (the
projector input ``hidden_states[feature_layer]``, [CLS] dropped for the ``'default'``
strategy): tests/chat/test_video_tower.py compares them with
``LlavaForConditionalGeneration.get_image_features``.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmstan.errors import UserError
from mmstan.models.backbones.clip_mean_pool import frames_of
from mmstan.models.backbones.clip_stan import CLIPSTAN

from .token_budget import tokens_per_frame, video_tokens

STRATEGIES = ('default', 'full')


class STANVideoTower(nn.Module):
    """``[B, 3, T, H, W]`` frames -> ``[B, T' * N, D]`` tokens for LLaVA's projector.

    Args:
        clip_model: open_clip CLIP holding LLaVA's vision tower
            (:func:`mmstan.chat.hf_clip_weights.open_clip_from_hf`).
        branch: ``CLIPSTAN`` arguments of the branch
            (:func:`mmstan.chat.branch_weights.branch_config` reads them off a checkpoint).
        feature_layer: the CLIP hidden state LLaVA's projector reads and the branch's
            tokens are added to, counted as HF's ``hidden_states`` from the end (-2 for
            LLaVA-1.5; -1 for [M] eq. 10 at the last layer).
        select_strategy: LLaVA's ``vision_feature_select_strategy``: ``'default'``
            drops each frame's [CLS], ``'full'`` keeps it first.
        use_branch: False gives LLaVA's own per-frame image features.
        spatial_pool: average-pool patch tokens over ``s x s`` grid cells (1: off).
        temporal_pool: average tokens over groups of this many consecutive frames (1: off).

    ``T' = T / temporal_pool`` and ``N = tokens_per_frame``; tokens are frame-major, each
    frame's in LLaVA's per-image order ([CLS] first with ``'full'``, then patches row by
    row).
    """

    def __init__(self, clip_model: nn.Module, branch: dict, feature_layer: int = -2,
                 select_strategy: str = 'default', use_branch: bool = True,
                 spatial_pool: int = 2, temporal_pool: int = 1):
        super().__init__()
        self.backbone = CLIPSTAN(clip_model=clip_model, drop_path_rate=0.0, **branch)
        layers = self.backbone.clip.num_layers
        if not -layers <= feature_layer <= -1:
            raise UserError(f'feature_layer must be in [-{layers}, -1] (a CLIP hidden state counted '
                            f'from the end, as LLaVA\'s vision_feature_layer), got {feature_layer}')
        if select_strategy not in STRATEGIES:
            raise UserError(f'select_strategy must be one of {STRATEGIES}, got {select_strategy!r}')
        h, w = self.backbone.clip.grid_size
        assert h == w, f'a square patch grid is expected, got {h}x{w}'
        if spatial_pool < 1 or h % spatial_pool or temporal_pool < 1:
            raise UserError(f'spatial_pool={spatial_pool} must divide the {h}x{w} patch grid and '
                            f'temporal_pool={temporal_pool} must be >= 1')
        self.join_block = layers + feature_layer  # 0-based block whose output LLaVA reads
        self.select_strategy = select_strategy
        self.use_branch = use_branch
        self.spatial_pool = spatial_pool
        self.temporal_pool = temporal_pool

    @property
    def width(self) -> int:
        """D, the CLIP width the projector takes."""
        return self.backbone.clip.width

    @property
    def tokens_per_frame(self) -> int:
        """N: pooled patch tokens of one frame (+1 for [CLS] with ``'full'``)."""
        return tokens_per_frame(self.backbone.clip.grid_size[0], self.spatial_pool,
                                self.select_strategy == 'full')

    def num_tokens(self, num_frames: int) -> int:
        """Tokens of a ``num_frames`` video: ``T' * N``."""
        return video_tokens(num_frames, self.backbone.clip.grid_size[0], self.spatial_pool,
                            self.temporal_pool, self.select_strategy == 'full')

    def frame_tokens(self, video: Tensor) -> Tensor:
        """``[B, 3, T, H, W]`` -> ``[B, T, 1+L, D]``: CLIP layer ``feature_layer`` per
        frame, plus the STAN branch's output when it is on."""
        b, t = video.shape[0], video.shape[2]
        clip = self.backbone.clip
        if self.use_branch:
            _, levels = clip(frames_of(video), collect=[*self.backbone.feeding, self.join_block])
            cls, patches = self.backbone.stan(levels[:-1], t)
            tokens = self.backbone.fuse(levels[-1], cls, patches)
        else:
            _, (tokens,) = clip(frames_of(video), collect=[self.join_block])
        return tokens.reshape(b, t, *tokens.shape[1:])

    def pool(self, tokens: Tensor) -> Tensor:
        """``[B, T, 1+L, D]`` -> ``[B, T' * N, D]``: temporal and spatial pooling, the
        select strategy, frames concatenated."""
        b, t, n, d = tokens.shape
        if t % self.temporal_pool:
            raise UserError(f'temporal_pool={self.temporal_pool} must divide the {t} frames')
        tokens = tokens.reshape(b, t // self.temporal_pool, self.temporal_pool, n, d).mean(dim=2)
        cls, patches = tokens[:, :, :1], tokens[:, :, 1:]
        if self.spatial_pool > 1:
            h, w = self.backbone.clip.grid_size
            grid = patches.reshape(-1, h, w, d).permute(0, 3, 1, 2)
            grid = F.avg_pool2d(grid, self.spatial_pool)
            patches = grid.flatten(2).transpose(1, 2).reshape(b, -1, grid.shape[2] * grid.shape[3], d)
        if self.select_strategy == 'full':
            patches = torch.cat([cls, patches], dim=2)
        return patches.flatten(1, 2)

    def forward(self, video: Tensor) -> Tensor:
        """``[B, 3, T, H, W]`` -> ``[B, T' * N, D]`` (see the class docstring)."""
        return self.pool(self.frame_tokens(video))
