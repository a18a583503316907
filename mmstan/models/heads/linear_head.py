"""Linear classifier over the mean of frame embeddings (mmaction2 style)."""
from typing import Optional

from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS
from torch import Tensor, nn

from ..precision import float32_region, upcast


@MODELS.register_module()
class VideoLinearHead(BaseHead):
    """Mean-pool ``[N, T, E]`` frame embeddings over T, then a linear layer.

    Args:
        num_classes: number of classes.
        in_channels: embedding width E.
        dropout_ratio: dropout before the linear layer.
        init_std: std of the normal init of the linear weight.
        **kwargs: the rest of mmaction2's ``BaseHead`` (loss_cls, topk, average_clips, ...).

    Forward: ``[N, T, E]`` (or already pooled ``[N, E]``) ``-> [N, num_classes]`` logits,
    float32 under mixed precision too (pooling and the linear layer run with autocast off).
    """

    def __init__(self, num_classes: int, in_channels: int, dropout_ratio: float = 0.0,
                 init_std: float = 0.02, init_cfg: Optional[dict] = None, **kwargs):
        init_cfg = init_cfg or dict(type='Normal', layer='Linear', std=init_std, bias=0.0)
        super().__init__(num_classes, in_channels, init_cfg=init_cfg, **kwargs)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        with float32_region(x):
            x = upcast(x)
            if x.dim() == 3:
                x = x.mean(dim=1)
            return self.fc(self.dropout(x))
