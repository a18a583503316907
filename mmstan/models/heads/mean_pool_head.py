"""CLIP4Clip's parameter-free mean pooling (meanP): the cosine of the text [EOT]
embedding with the L2-normalised mean of the L2-normalised frames."""
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor

from .similarity_head import SimilarityHead, l2_mean_frame


@MODELS.register_module()
class MeanPHead(SimilarityHead):
    """CLIP4Clip meanP: ``score = cos(text [EOT], L2(mean_i L2(v_i)))``.

    Parameter-free; the tokens and their mask are not read. The score is an inner
    product, so the stage-1 vectors of the search are exact. It also scores
    ``SeqTransfHead``'s new frame features (its default similarity).
    """

    def __init__(self):
        super().__init__()

    def forward(self, tokens: Tensor, mask: Tensor, pooled: Tensor, frames: Tensor) -> Tensor:
        """``[M, N]`` cosine of every pooled text with every video's mean frame."""
        return F.normalize(pooled, dim=-1) @ l2_mean_frame(frames).T

    @torch.no_grad()
    def stage1_video(self, frames: Tensor) -> Tensor:
        """Frames ``[N, T, E]`` -> ``[N, E]``: the head's own video vector."""
        return l2_mean_frame(frames.float())

    @torch.no_grad()
    def stage1_text(self, tokens: Tensor, mask: Tensor, pooled: Tensor) -> Tensor:
        """Text features -> ``[M, E]``: the normalised pooled text (the score is then exact)."""
        return F.normalize(pooled.float(), dim=-1)
