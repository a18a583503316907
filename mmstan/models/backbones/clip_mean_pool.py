"""The CLIP baseline for video: encode each frame with CLIP, keep frame embeddings.

Mean pooling over frames (STAN Table 6, first row) happens in the head, which averages
the ``[B, T, E]`` frame embeddings this backbone returns.
"""
from typing import Optional

from mmaction.registry import MODELS
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..clip import CLIPVision, shared_or_new_clip
from ..clip.weights import ArchType


def frames_of(video: Tensor) -> Tensor:
    """``[B, C, T, H, W] -> [B*T, C, H, W]`` (frame-major within each clip)."""
    assert video.dim() == 5, f'expected a [B, C, T, H, W] video batch, got {tuple(video.shape)}'
    b, c, t, h, w = video.shape
    return video.transpose(1, 2).reshape(b * t, c, h, w)


@MODELS.register_module()
class CLIPMeanPool(BaseModule):
    """Per-frame CLIP image embeddings.

    Args:
        arch: open_clip architecture name or custom config dict.
        pretrained: weights (open_clip tag, local file or URL), or None for random init.
        input_resolution: frame size in pixels (position embeddings are resampled).
        grad_checkpointing: recompute CLIP blocks in backward to save memory.
        clip_model: the open_clip model of an enclosing model that builds one CLIP for all
            its towers (``VideoTextRetriever``, ``CLIPRecognizer``); ``arch`` and
            ``pretrained`` are then left unset.

    Forward: ``[B, 3, T, H, W] -> [B, T, E]`` frame embeddings in CLIP's joint space.
    """

    def __init__(self, arch: Optional[ArchType] = None, pretrained: Optional[str] = None,
                 input_resolution: Optional[int] = None, grad_checkpointing: bool = False,
                 clip_model: Optional[nn.Module] = None, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        model = shared_or_new_clip(arch, pretrained, clip_model, 'CLIPMeanPool')
        self.clip = CLIPVision(model, input_resolution)
        self.clip.set_grad_checkpointing(grad_checkpointing)
        self.embed_dim = self.clip.embed_dim

    def forward(self, video: Tensor) -> Tensor:
        b, t = video.shape[0], video.shape[2]
        last, _ = self.clip(frames_of(video))
        return self.clip.project(last).reshape(b, t, -1)
