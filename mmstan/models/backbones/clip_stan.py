"""CLIP-STAN: the CLIP vision tower, untouched, plus the STAN branch beside it, fused
with CLIP's last layer ([M] eq. 10). The registered video backbone of mmstan."""
from typing import List, Optional

import torch
from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..clip import CLIPVision, resample_pos_embed, shared_or_new_clip
from ..clip.tube_mask import tube_keep_indices
from ..clip.weights import ArchType
from .clip_mean_pool import frames_of
from .stan import PRESETS, STANBranch


def feeding_layers(num_clip_layers: int, num_layers: int, interval: int = 1,
                   last_layer: int = -1) -> List[int]:
    """0-based CLIP blocks that feed the K STAN layers, bottom first.

    The top STAN layer takes ``last_layer`` (default: CLIP's last block) and the others
    go down by ``interval`` ([S] Table 8: ``interval=2`` with K=4 on 12 layers gives
    blocks 6, 8, 10, 12 in 1-based numbering).
    """
    top = last_layer % num_clip_layers
    layers = [top - interval * (num_layers - 1 - k) for k in range(num_layers)]
    if layers[0] < 0:
        raise ValueError(f'{num_layers} STAN layers at interval {interval} ending at CLIP '
                         f'block {top} need more than {num_clip_layers} CLIP blocks')
    return layers


@MODELS.register_module()
class CLIPSTAN(BaseModule):
    """CLIP vision tower + STAN branch.

    Detection (``output='feature_map'``, e.g. inside mmdet's ``FastRCNN`` as
    ``type='mmaction.CLIPSTAN'``): the map is the *fused* last layer, CLIP's last-block
    patch tokens plus the STAN branch's patch tokens ([M] eq. 10), one ``h x w`` map per
    frame with stride = the patch size (16 for B/16, 32 for B/32, 14 for L/14). Not
    CLIP's patches alone: [M] §III-D puts "ROIAlign with MaxPooling ... in the last
    layer", and the last layer of the Mug-STAN video encoder *is* the fused output of eq.
    10; §IV-B credits STAN with +4.4 mAP over bare CLIP (25.9) on AVA, which a head
    reading CLIP-only patches could not show (the branch would not even get a gradient).
    The tokens go through CLIP's final LayerNorm ``ln_post``, as VideoMAE's feature map
    (the AVA pipeline [M] follows) goes through its final norm. ``input_resolution`` resamples
    both position grids (CLIP's and the branch's) to the detection crop (256 for AVA), and
    a checkpoint trained at another resolution (e.g. a 224 px K400 model given as
    ``load_from``) has its grids resampled bicubically on load.

    Args:
        arch: open_clip architecture name (``ViT-B-32``, ``ViT-B-16``, ``ViT-L-14``,
            ``coca_ViT-B-32``, ``coca_ViT-L-14``) or a custom config dict.
        pretrained: open_clip tag, local weights file or URL; None for random init.
        input_resolution: frame size (position embeddings are resampled, e.g. 256 for AVA).
        num_frames: frames the temporal position embedding is stored for.
        num_layers: K, STAN layers (4; 6 for SSv2).
        layer_interval, last_layer: which CLIP blocks feed the branch (see
            :func:`feeding_layers`).
        temporal_module: ``'attention'`` (STAN-self) or ``'conv'`` (STAN-conv).
        temporal_init: ``'zero_proj'`` (STAN, default) or ``'zero_qkv'`` (TVTSv2's
            zero-initialised temporal attention), see :class:`stan.TemporalAttention`.
        temporal_cls: TVTSv2's divided attention: the video [CLS] is a key of every
            temporal attention (``'attention'`` module only).
        tube_mask_ratio: TVTSv2's tube masking in training (0, 0.5 for B/16, 0.7 for
            H/14 in [V] §4.1): each clip drops ``floor(ratio * h*w)`` patch positions,
            the same in every frame, drawn per clip; the CLIP tower and the STAN branch
            run on [CLS] + the kept patches only (removed, not zeroed), so compute falls
            with the ratio. Off in eval mode. Not with ``output='feature_map'``.
        drop_path_rate: stochastic depth of the STAN layers (linear over K).
        pos_dropout: dropout of the branch's first-layer embeddings.
        temporal_pos_std: init std of the temporal position embedding.
        preset: ``'paper'`` or ``'official'``, see :data:`stan.PRESETS`; ``order``,
            ``level_proj`` and ``input_style`` override single choices of it.
        grad_checkpointing: recompute CLIP blocks and STAN layers in backward.
        output: ``'frames'`` -> ``[B, T, E]`` frame embeddings (the video embedding is
            their mean); ``'feature_map'`` -> ``[B, D, T, h, w]`` fused patch tokens for
            detection heads.
        clip_model: the open_clip model of an enclosing model that builds one CLIP for all
            its towers (``VideoTextRetriever``, ``CLIPRecognizer``); ``arch`` and
            ``pretrained`` are then left unset.
    """

    def __init__(self, arch: Optional[ArchType] = None, pretrained: Optional[str] = None,
                 input_resolution: Optional[int] = None, num_frames: int = 8,
                 num_layers: int = 4, layer_interval: int = 1, last_layer: int = -1,
                 temporal_module: str = 'attention', temporal_init: str = 'zero_proj',
                 temporal_cls: bool = False, tube_mask_ratio: float = 0.0,
                 drop_path_rate: float = 0.1,
                 pos_dropout: float = 0.0, temporal_pos_std: float = 0.02,
                 preset: str = 'paper', order: Optional[str] = None,
                 level_proj: Optional[bool] = None, input_style: Optional[str] = None,
                 grad_checkpointing: bool = False, output: str = 'frames',
                 clip_model: Optional[nn.Module] = None, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if preset not in PRESETS:
            raise ValueError(f'preset must be one of {sorted(PRESETS)}, got {preset!r}')
        assert output in ('frames', 'feature_map'), f'unknown output {output!r}'
        if tube_mask_ratio and output == 'feature_map':
            raise ValueError('tube_mask_ratio drops patches; output=\'feature_map\' needs them all')
        choices = dict(PRESETS[preset])
        for key, value in dict(order=order, level_proj=level_proj, input_style=input_style).items():
            if value is not None:
                choices[key] = value
        model = shared_or_new_clip(arch, pretrained, clip_model, 'CLIPSTAN')
        self.clip = CLIPVision(model, input_resolution)
        self.clip.set_grad_checkpointing(grad_checkpointing)
        self.embed_dim = self.clip.embed_dim
        self.output = output
        if not 0 <= tube_mask_ratio < 1:
            raise ValueError(f'tube_mask_ratio must be in [0, 1), got {tube_mask_ratio}')
        self.tube_mask_ratio = tube_mask_ratio
        self.feeding = feeding_layers(self.clip.num_layers, num_layers, layer_interval, last_layer)
        grid = self.clip.grid_size
        self.stan = STANBranch(
            [self.clip.blocks[i] for i in self.feeding],
            num_patches=grid[0] * grid[1],
            num_frames=num_frames,
            heads=self.clip.heads,
            temporal_module=temporal_module,
            temporal_init=temporal_init,
            temporal_cls=temporal_cls,
            drop_path_rate=drop_path_rate,
            pos_dropout=pos_dropout,
            temporal_pos_std=temporal_pos_std,
            clip_embeddings=(self.clip.class_embedding.data, self.clip.positional_embedding.data),
            grad_checkpointing=grad_checkpointing,
            **choices)

    @property
    def feat_stride(self) -> int:
        """Pixels per feature-map cell of ``output='feature_map'`` (the patch size)."""
        return self.clip.patch_size

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        """Resample position grids of another resolution in ``state_dict`` (in place) to
        this model's grid before loading (a 224 px K400 checkpoint into the 256 px AVA
        detector); torch and mmengine then load the children from the changed dict."""
        names = {id(p): n for n, p in self.named_parameters()}
        grid = self.clip.grid_size
        for param, has_cls in ((self.clip.positional_embedding, True),
                               (self.stan.spatial_pos, False)):
            key = prefix + names[id(param)]
            value = state_dict.get(key)
            if value is None or value.shape == param.shape or value.dim() != 2:
                continue
            if not has_cls:  # a dummy [CLS] row: resample_pos_embed keeps row 0 as is
                value = torch.cat([value[:1], value])
            value = resample_pos_embed(value, grid)
            state_dict[key] = value if has_cls else value[1:]
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def init_weights(self) -> None:
        """Weights come from CLIP and the branch's own initialisation; nothing to redo."""

    def fuse(self, last: Tensor, cls: Tensor, patches: Tensor) -> Tensor:
        """[M] eq. 10's ``V^{-1} ⊕ V̂^K``: add the STAN [CLS] to every frame's [CLS] and the
        STAN patches to the frame patches. ``[B*T, 1+L, D]`` out."""
        b, t = patches.shape[:2]
        tokens = last.reshape(b, t, *last.shape[1:])
        cls_part = tokens[:, :, :1] + cls[:, None, None]
        patch_part = tokens[:, :, 1:] + patches
        return torch.cat([cls_part, patch_part], dim=2).reshape_as(last)

    def forward(self, video: Tensor, keep: Optional[Tensor] = None) -> Tensor:
        """``[B, 3, T, H, W]`` -> ``[B, T, E]`` frame embeddings, or ``[B, D, T, h, w]``
        with ``output='feature_map'``.

        ``keep``: ``[B, K]`` patch positions each clip keeps in every frame (tube
        masking); by default drawn at ``tube_mask_ratio`` in training, none dropped in
        eval mode."""
        b, t = video.shape[0], video.shape[2]
        if keep is None and self.training and self.tube_mask_ratio > 0:
            grid = self.clip.grid_size
            keep = tube_keep_indices(b, grid[0] * grid[1], self.tube_mask_ratio, video.device)
        if keep is not None and self.output == 'feature_map':
            raise ValueError("output='feature_map' needs every patch; do not pass keep")
        frame_keep = None if keep is None else keep.repeat_interleave(t, dim=0)  # [B*T, K]
        last, levels = self.clip(frames_of(video), collect=self.feeding, keep=frame_keep)
        cls, patches = self.stan(levels, t, keep)
        fused = self.fuse(last, cls, patches)
        if self.output == 'feature_map':
            maps = self.clip.patch_map(fused)  # [B*T, D, h, w]
            return maps.reshape(b, t, *maps.shape[1:]).transpose(1, 2)
        return self.clip.project(fused).reshape(b, t, -1)
