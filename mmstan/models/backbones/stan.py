"""The Spatial-Temporal Auxiliary Network branch (STAN, CVPR 2023; Mug-STAN §III-B).

Layouts used throughout: the video [CLS] is ``[B, D]`` and patch tokens are
``[B, T, L, D]``; they are flattened only inside attention.

Equations refer to the STAN paper [S] and Mug-STAN [M]:

- first layer input, [S] eq. 4: video [CLS] = mean of the frame [CLS] tokens; patches get
  learnable temporal + spatial position embeddings and dropout;
- layers k > 1, [S] eqs. 5-6: ``x'^k = x~^{k-1} + W_proj^k · (CLIP level k)``;
- intra-frame (spatial) module, [S] eq. 7: a CLIP residual block over each frame's
  patches plus a copy of the video [CLS], copies averaged back;
- cross-frame (temporal) module, [S] eqs. 8-9, [M] eq. 9: self-attention over T per patch
  with a zero-initialised output projection, or a 3x1x1 convolution bottleneck;
- TVTSv2 [V] options (§3.1, §3.3, App. C): the temporal attention's own weights
  zero-initialised, the video [CLS] as a key of every temporal attention, and tube
  masking (the branch runs on the patch positions the CLIP tower kept).
"""
import copy
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from ..clip.blocks import attention_residual, block_width, mlp_residual
from ..clip.tube_mask import gather_positions

#: The two variants' structural choices. ``paper`` follows [S]/[M]; ``official`` matches
#: the released code (github farewellthree/STAN) so its checkpoints can be converted.
#: The papers' text does not fix the order inside a layer (only their Fig. 2 does, which
#: the text copy lacks). Both presets run the cross-frame module first: in the other
#: order the top layer's temporal module only changes patch tokens, which the [CLS]-based
#: frame embeddings never read, so it would get no gradient (and DDP rejects unused
#: parameters). ``order='spatial_temporal'`` is still available, e.g. for feature maps.
PRESETS = {
    'paper': dict(order='temporal_spatial', level_proj=True, input_style='paper'),
    'official': dict(order='temporal_spatial', level_proj=False, input_style='official'),
}

#: Rows of the official code's temporal embedding table (``nn.Embedding(64, D)``).
OFFICIAL_TIME_ROWS = 64


def interpolate_temporal_pos(pos: Tensor, t: int) -> Tensor:
    """``[T0, D] -> [t, D]``: linear interpolation over frames, first and last frames
    aligned (``align_corners=True``); ``pos`` itself when ``t == T0``. The one resampling
    of the ``'paper'`` temporal embedding, in the forward pass
    (:meth:`STANBranch.temporal_embedding`) and when a checkpoint of another frame count
    loads (:meth:`STANBranch._load_from_state_dict`)."""
    if t == pos.shape[0]:
        return pos
    return F.interpolate(pos.T[None], size=t, mode='linear', align_corners=True)[0].T


def fit_time_table(table: Tensor, rows: int) -> Tensor:
    """``[R0, D] -> [rows, D]`` for the ``'official'`` temporal table, which frame t reads
    by row (row t, not interpolated): the first ``min(R0, rows)`` rows are kept, and extra
    rows repeat the last one (a frame past the source table gets the last frame's
    embedding, as if the clip held its last trained position)."""
    if rows <= table.shape[0]:
        return table[:rows]
    return torch.cat([table, table[-1:].expand(rows - table.shape[0], -1)])


class DropPath(nn.Module):
    """Stochastic depth: drop a residual branch per sample (video) with probability ``p``,
    as timm's ``drop_path`` does.

    ``forward(x, samples)``: ``x`` holds ``samples`` videos along dim 0 (``[B, ...]``, or
    ``[B*R, ...]`` when a module folds R rows of each video into the batch, e.g. frames or
    patch positions, video-major); every row of a video is kept or dropped together.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor, samples: Optional[int] = None) -> Tensor:
        if self.p == 0.0 or not self.training:
            return x
        samples = x.shape[0] if samples is None else samples
        assert x.shape[0] % samples == 0, f'{x.shape[0]} rows are not {samples} videos'
        keep = x.new_empty(samples).bernoulli_(1 - self.p) / (1 - self.p)
        keep = keep.repeat_interleave(x.shape[0] // samples)
        return x * keep.view((-1,) + (1,) * (x.dim() - 1))


class IntraFrameBlock(nn.Module):
    """Intra-frame (spatial) module, [S] eq. 7: a full CLIP residual block (attention
    and MLP) initialised as a copy of a pretrained CLIP layer.

    Each frame attends over ``[video CLS copy, its L patches]``; the T updated [CLS]
    copies are averaged back into one video [CLS] before the MLP.

    Args:
        clip_block: the open_clip ``ResidualAttentionBlock`` to copy.
        drop_path: stochastic depth on both residual branches.
    """

    def __init__(self, clip_block: nn.Module, drop_path: float = 0.0):
        super().__init__()
        self.block = copy.deepcopy(clip_block)
        self.drop_path = DropPath(drop_path)

    def forward(self, cls: Tensor, patches: Tensor) -> Tuple[Tensor, Tensor]:
        """``cls [B, D]``, ``patches [B, T, L, D]`` -> same shapes."""
        b, t, n, d = patches.shape
        x = torch.cat([cls[:, None, None].expand(b, t, 1, d), patches], dim=2)
        x = x.reshape(b * t, 1 + n, d)
        x = x + self.drop_path(attention_residual(self.block, x), b)  # per video, not frame
        x = x.reshape(b, t, 1 + n, d)
        tokens = torch.cat([x[:, :, 0].mean(dim=1, keepdim=True), x[:, :, 1:].reshape(b, t * n, d)],
                           dim=1)
        tokens = tokens + self.drop_path(mlp_residual(self.block, tokens))
        return tokens[:, 0], tokens[:, 1:].reshape(b, t, n, d)


class TemporalAttention(nn.Module):
    """Cross-frame self-attention, [S] eq. 8 with [M] eq. 9's zero-initialised
    projection read as ``Y + W_proj(Attn(LN(Y)))``: the identity at initialisation.

    ``W_proj`` is also the attention's output projection (two stacked linear maps
    compose to one; ``tools/model_converters`` merges the official code's pair).

    Args:
        width: token width D.
        heads: attention heads.
        drop_path: stochastic depth on the residual branch.
        init: which weights start at zero, both giving the identity at initialisation.
            ``'zero_proj'`` ([M] eq. 9): the output projection; q, k, v start random, so
            the first steps train only ``W_proj``. ``'zero_qkv'`` (TVTSv2 [V] App. C, Tab.
            6: "initialize the parameters of the temporal self-attention module with
            zeros"): the *value* slice of the qkv projection (weight and bias) starts at
            zero, q, k and the output projection keep their default random
            initialisation; the module is the identity at initialisation and the
            attention pattern is the random q/k one. This differs from the released
            TVTSv2 code (``VarAttention(initialize='zeros')``: q, k and v all zero, output
            projection weight all ones) on purpose: there, each of ``W_q`` and ``W_k`` has
            a gradient proportional to the other, so both stay exactly zero and attention
            stays uniform forever, and the all-ones projection keeps values and output
            rank-1; the module can only learn a temporal mean. Zeroing only the values
            keeps the paper's identity start, and every weight moves within two steps
            (values first, then q, k and the projection).
        attend_cls: TVTSv2's divided attention ([V] App. C: "the [CLS] token is attended
            in both temporal and spatial self-attention"): each patch position attends
            over ``[video CLS, its T tokens]`` instead of its T tokens. The [CLS] itself is
            updated by the intra-frame module, where it already attends to every frame.
    """

    def __init__(self, width: int, heads: int, drop_path: float = 0.0, init: str = 'zero_proj',
                 attend_cls: bool = False):
        super().__init__()
        assert width % heads == 0, f'width {width} not divisible by {heads} heads'
        self.heads = heads
        self.attend_cls = attend_cls
        self.norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        if init == 'zero_proj':
            nn.init.zeros_(self.proj.weight)
        elif init == 'zero_qkv':
            values = slice(2 * width, 3 * width)  # qkv rows are [q; k; v]
            nn.init.zeros_(self.qkv.weight[values])
            nn.init.zeros_(self.qkv.bias[values])
        else:
            raise ValueError(f"temporal init must be 'zero_proj' or 'zero_qkv', got {init!r}")
        nn.init.zeros_(self.proj.bias)
        self.drop_path = DropPath(drop_path)

    def forward(self, patches: Tensor, cls: Optional[Tensor] = None) -> Tensor:
        """``patches [B, T, L, D] -> [B, T, L, D]``: each patch position attends over T
        (and, with ``attend_cls``, over the video [CLS] ``cls [B, D]`` too)."""
        b, t, n, d = patches.shape
        y = patches.transpose(1, 2).reshape(b * n, t, d)
        q, k, v = self.qkv(self.norm(y)).reshape(b * n, t, 3, self.heads, d // self.heads).permute(
            2, 0, 3, 1, 4)  # each [B*L, heads, T, d/heads]
        if self.attend_cls:
            assert cls is not None, 'attend_cls=True needs the video [CLS]'
            _, cls_k, cls_v = self.qkv(self.norm(cls)).reshape(b, 1, 3, self.heads, d // self.heads
                                                               ).permute(2, 0, 3, 1, 4)
            k = torch.cat([cls_k.repeat_interleave(n, dim=0), k], dim=2)
            v = torch.cat([cls_v.repeat_interleave(n, dim=0), v], dim=2)
        attn = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b * n, t, d)
        y = y + self.drop_path(self.proj(attn), b)  # per video, not per patch position
        return y.reshape(b, n, t, d).transpose(1, 2)


class TemporalConv(nn.Module):
    """Cross-frame convolution, [S] eq. 9: ``Y + Up(GELU(Conv3d_{3x1x1}(Down(Y))))`` with
    point-wise ``Down``/``Up`` D -> D/8 -> D. ``Up`` is zero-initialised, so the module
    starts as the identity like the attention variant.

    Args:
        width: token width D.
        reduction: bottleneck ratio (D/8 in the paper).
        drop_path: stochastic depth on the residual branch.
    """

    def __init__(self, width: int, reduction: int = 8, drop_path: float = 0.0):
        super().__init__()
        hidden = width // reduction
        self.down = nn.Linear(width, hidden)
        self.conv = nn.Conv3d(hidden, hidden, kernel_size=(3, 1, 1), padding=(1, 0, 0))
        self.up = nn.Linear(hidden, width)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)
        self.drop_path = DropPath(drop_path)

    def forward(self, patches: Tensor) -> Tensor:
        """``[B, T, L, D] -> [B, T, L, D]``; the conv runs over T at each patch."""
        y = self.down(patches).permute(0, 3, 1, 2).unsqueeze(-1)  # [B, C, T, L, 1]
        y = F.gelu(self.conv(y)).squeeze(-1).permute(0, 2, 3, 1)  # [B, T, L, C]
        return patches + self.drop_path(self.up(y))


def build_temporal(kind: str, width: int, heads: int, drop_path: float,
                   init: str = 'zero_proj', attend_cls: bool = False) -> nn.Module:
    if kind == 'attention':
        return TemporalAttention(width, heads, drop_path, init=init, attend_cls=attend_cls)
    if kind == 'conv':
        if init != 'zero_proj' or attend_cls:
            raise ValueError("temporal_init and temporal_cls are options of "
                             "temporal_module='attention'")
        return TemporalConv(width, drop_path=drop_path)
    raise ValueError(f"temporal_module must be 'attention' or 'conv', got {kind!r}")


class STANLayer(nn.Module):
    """One STAN layer: an intra-frame and a cross-frame module, in ``order``."""

    def __init__(self, clip_block: nn.Module, temporal: nn.Module, drop_path: float,
                 order: str = 'temporal_spatial'):
        super().__init__()
        assert order in ('spatial_temporal', 'temporal_spatial'), f'unknown order {order!r}'
        self.order = order
        self.spatial = IntraFrameBlock(clip_block, drop_path)
        self.temporal = temporal

    def forward(self, cls: Tensor, patches: Tensor) -> Tuple[Tensor, Tensor]:
        """``cls [B, D]``, ``patches [B, T, L, D]`` -> same shapes."""
        if self.order == 'temporal_spatial':
            patches = self._temporal(cls, patches)
        cls, patches = self.spatial(cls, patches)
        if self.order == 'spatial_temporal':
            patches = self._temporal(cls, patches)
        return cls, patches

    def _temporal(self, cls: Tensor, patches: Tensor) -> Tensor:
        if getattr(self.temporal, 'attend_cls', False):
            return self.temporal(patches, cls)
        return self.temporal(patches)


class STANBranch(nn.Module):
    """K STAN layers fed one-to-one by K CLIP levels, bottom to top.

    Args:
        clip_blocks: the K CLIP blocks whose outputs feed the branch (bottom first); the
            intra-frame module of layer k is initialised from block k.
        num_patches: L, patches per frame.
        num_frames: frames the temporal position embedding is stored for (it is
            linearly interpolated for other frame counts). With ``input_style='official'``
            it is a table of ``max(num_frames, 64)`` rows of which frame t reads row t,
            like the official ``STAN_time_embed = nn.Embedding(64, D)``. A checkpoint
            stored for another frame count is resampled as it loads, see
            :meth:`_load_from_state_dict`.
        heads: attention heads of the temporal module.
        temporal_module: ``'attention'`` or ``'conv'``.
        temporal_init: ``'zero_proj'`` (STAN) or ``'zero_qkv'`` (TVTSv2), see
            :class:`TemporalAttention`.
        temporal_cls: TVTSv2's [CLS] as a key of every temporal attention, see
            :class:`TemporalAttention` (``attend_cls``).
        drop_path_rate: stochastic depth, increasing linearly from 0 over the K layers.
        pos_dropout: dropout on the first layer's embedded patches ([S] eq. 4).
        temporal_pos_std: std of the temporal position embedding's initialisation (0.02 as
            in ViTs; a randomly initialised tiny CLIP, as in the demo, needs a larger one).
        order: ``'temporal_spatial'`` (default, see :data:`PRESETS`) or ``'spatial_temporal'``.
        level_proj: per-layer ``W_proj^k`` (paper, identity-initialised) or plain
            addition (official code).
        input_style: ``'paper'``: learnable spatial + temporal position embeddings;
            ``'official'``: the official ``input_ini``: each patch gets CLIP's spatial
            position embedding ``pos[1:]`` again (not the class embedding: that one is
            only the [CLS] slot's content), frame t gets row t of the temporal table, and
            the video [CLS] is averaged with CLIP's embedded class token
            ``class_emb + pos[0]``. Both start as copies of CLIP's (the official code
            reads CLIP's own parameters, so fine-tuning moves them together).
        clip_embeddings: ``(class_embedding [D], positional_embedding [1+L, D])`` of the
            CLIP tower, used to initialise the ``'official'`` input style.
        grad_checkpointing: recompute STAN layers in backward.
    """

    def __init__(self, clip_blocks: Sequence[nn.Module], num_patches: int, num_frames: int,
                 heads: int, temporal_module: str = 'attention', temporal_init: str = 'zero_proj',
                 temporal_cls: bool = False, drop_path_rate: float = 0.1,
                 pos_dropout: float = 0.0, temporal_pos_std: float = 0.02,
                 order: str = 'temporal_spatial',
                 level_proj: bool = True, input_style: str = 'paper',
                 clip_embeddings: Tuple[Tensor, Tensor] = None,
                 grad_checkpointing: bool = False):
        super().__init__()
        width = block_width(clip_blocks[0])
        depth = len(clip_blocks)
        rates = torch.linspace(0, drop_path_rate, depth).tolist()
        self.layers = nn.ModuleList([
            STANLayer(block, build_temporal(temporal_module, width, heads, rate, temporal_init,
                                            temporal_cls), rate, order)
            for block, rate in zip(clip_blocks, rates)])
        self.level_proj = nn.ModuleList([nn.Linear(width, width) for _ in range(depth - 1)]) \
            if level_proj else None
        if self.level_proj is not None:
            for proj in self.level_proj:
                nn.init.eye_(proj.weight)
                nn.init.zeros_(proj.bias)
        rows = max(num_frames, OFFICIAL_TIME_ROWS) if input_style == 'official' else num_frames
        self.temporal_pos = nn.Parameter(torch.zeros(rows, width))
        nn.init.trunc_normal_(self.temporal_pos, std=temporal_pos_std,
                              a=-2 * temporal_pos_std, b=2 * temporal_pos_std)
        self.spatial_pos = nn.Parameter(torch.zeros(num_patches, width))
        assert input_style in ('paper', 'official'), f'unknown input_style {input_style!r}'
        self.input_style = input_style
        if input_style == 'paper':
            nn.init.trunc_normal_(self.spatial_pos, std=0.02)
        else:
            assert clip_embeddings is not None, "input_style='official' needs clip_embeddings"
            class_emb, pos = clip_embeddings
            self.spatial_pos.data.copy_(pos[1:])
            self.cls_embed = nn.Parameter((class_emb + pos[0]).clone())
        self.pos_dropout = nn.Dropout(pos_dropout)
        self.grad_checkpointing = grad_checkpointing

    def temporal_embedding(self, t: int) -> Tensor:
        """``[t, D]``, linearly interpolated from the stored frames when t differs."""
        return interpolate_temporal_pos(self.temporal_pos, t)

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        """Fit a ``temporal_pos`` stored for another frame count in ``state_dict`` (in
        place) to this branch before loading, so that the loaded embedding is the source
        model's own for these frames: ``'paper'``: the source's
        ``temporal_embedding(num_frames)`` (:func:`interpolate_temporal_pos`);
        ``'official'``: its table's rows, cut or extended by repeating the last row
        (:func:`fit_time_table`). Any loader (torch, mmengine's ``load_checkpoint`` /
        ``load_from`` / ``init_cfg``) reaches this under any prefix
        (``backbone.stan.``)."""
        key = prefix + 'temporal_pos'
        value, param = state_dict.get(key), self.temporal_pos
        if isinstance(value, Tensor) and value.dim() == 2 and value.shape[1] == param.shape[1] \
                and value.shape[0] != param.shape[0]:
            with torch.no_grad():
                if self.input_style == 'official':
                    state_dict[key] = fit_time_table(value, param.shape[0])
                    how = (f'kept the first {min(value.shape[0], param.shape[0])} rows'
                           + (', repeated the last row for the others'
                              if param.shape[0] > value.shape[0] else ''))
                else:
                    state_dict[key] = interpolate_temporal_pos(value, param.shape[0])
                    how = 'linear interpolation over frames, align_corners=True'
            print_log(f'{key}: checkpoint {list(value.shape)} resampled to '
                      f'{list(param.shape)} for {param.shape[0]} frames ({how})',
                      logger='current')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def embed_input(self, level: Tensor, t: int, keep: Optional[Tensor] = None
                    ) -> Tuple[Tensor, Tensor]:
        """First layer input, [S] eq. 4. ``[B*T, 1+L, D] -> cls [B, D], patches [B, T, L, D]``;
        with ``keep [B, K]`` (tube masking) the level holds the K kept positions of each
        clip, ``[B*T, 1+K, D]``, and they get the spatial embeddings of those positions."""
        tokens = level.reshape(-1, t, *level.shape[1:])
        cls = tokens[:, :, 0].mean(dim=1)
        if self.input_style == 'official':
            cls = (cls + self.cls_embed) / 2
            if t > self.temporal_pos.shape[0]:
                raise ValueError(f"input_style='official' embeds at most {self.temporal_pos.shape[0]} "
                                 f'frames (its temporal table), got {t}')
            time = self.temporal_pos[:t]
        else:
            time = self.temporal_embedding(t)
        spatial = self.spatial_pos if keep is None else gather_positions(
            self.spatial_pos.expand(keep.shape[0], -1, -1), keep)[:, None]  # [B, 1, K, D]
        patches = tokens[:, :, 1:] + spatial + time[:, None]
        return cls, self.pos_dropout(patches)

    def merge_level(self, k: int, cls: Tensor, patches: Tensor, level: Tensor
                    ) -> Tuple[Tensor, Tensor]:
        """Layer k > 0 input, [S] eqs. 5-6: add CLIP level k (projected by W_proj^k)."""
        tokens = level.reshape(patches.shape[0], patches.shape[1], *level.shape[1:])
        level_cls, level_patches = tokens[:, :, 0].mean(dim=1), tokens[:, :, 1:]
        if self.level_proj is not None:
            proj = self.level_proj[k - 1]
            level_cls, level_patches = proj(level_cls), proj(level_patches)
        return cls + level_cls, patches + level_patches

    def forward(self, levels: List[Tensor], t: int, keep: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor]:
        """Run the branch.

        Args:
            levels: K CLIP outputs, bottom first, each ``[B*T, 1+L, D]``.
            t: frames per clip T.
            keep: ``[B, K]`` patch positions each clip kept (tube masking): the levels
                then hold ``1+K`` tokens per frame, the kept positions in this order.
                The cross-frame module works per position, so it runs unchanged.

        Returns:
            video [CLS] ``[B, D]`` and patch tokens ``[B, T, L, D]`` (``[B, T, K, D]``
            with ``keep``) of the top layer.
        """
        assert len(levels) == len(self.layers), f'{len(levels)} levels for {len(self.layers)} layers'
        cls, patches = self.embed_input(levels[0], t, keep)
        for k, layer in enumerate(self.layers):
            if k > 0:
                cls, patches = self.merge_level(k, cls, patches, levels[k])
            if self.grad_checkpointing and self.training and patches.requires_grad:
                cls, patches = checkpoint(layer, cls, patches, use_reentrant=False)
            else:
                cls, patches = layer(cls, patches)
        return cls, patches
