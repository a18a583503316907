"""CLIP4Clip's sequence transformer (seqTransf) video head.

Each video's frame embeddings ``f_0..f_{T-1}`` (the frames' projected [CLS]) get learned
position embeddings, go through a transformer of ``num_layers`` layers initialised from
CLIP's first text layers (4 in CLIP4Clip, as CLIP2Video quotes it, [C2V] Tab. 1 and
§4.1), and are added back to the input::

    g_t = Transformer(f + P)_t + f_t

The new frame features ``g`` are then scored by a similarity head, by default CLIP4Clip's
mean pooling (``MeanPHead``: per-frame L2, mean over frames, L2, cosine with the text
[EOT] embedding), the same head that serves meanP.
"""
from mmaction.registry import MODELS
from torch import Tensor, nn

from .text_layers import TextLayers, text_joint_width, text_positions


@MODELS.register_module()
class SeqTransfHead(nn.Module):
    """Args:
        text_tower: the retriever's open_clip ``TextTransformer`` (``CLIPText.text``;
            ``VideoTextRetriever`` passes it): its first ``num_layers`` layers and its
            position embedding are copied (nothing of it is kept).
        num_layers: transformer layers (CLIP4Clip: 4).
        similarity: the similarity head the new frame features are scored with.

    :meth:`encode_video`: frames ``[N, T, E]`` -> ``[N, T, E]`` (once per video, in the
    retriever's ``encode_video``); ``forward`` / :meth:`gallery` take those and text
    features like the other similarity heads.
    """

    def __init__(self, text_tower: nn.Module, num_layers: int = 4,
                 similarity: dict = dict(type='MeanPHead')):
        super().__init__()
        text_joint_width(text_tower, 'SeqTransfHead')
        self.positions = text_positions(text_tower)                # [context_length, E]
        self.transformer = TextLayers(text_tower, num_layers, 'SeqTransfHead')
        self.similarity = MODELS.build(similarity)

    @property
    def mode(self) -> str:
        """What scores the new frame features (named in the search's stage-1 rule): the
        similarity head's mode where it has modes (``MugHead``), else its class name."""
        return getattr(self.similarity, 'mode', type(self.similarity).__name__)

    def encode_video(self, frames: Tensor) -> Tensor:
        """``[N, T, E]`` frame embeddings -> ``[N, T, E]`` temporally modelled frames."""
        num_frames = frames.shape[1]
        if num_frames > self.positions.shape[0]:
            raise ValueError(f'SeqTransfHead has {self.positions.shape[0]} frame positions, '
                             f'got {num_frames} frames')
        x = frames + self.positions[:num_frames].to(frames.dtype)
        return self.transformer(x) + frames

    def forward(self, tokens: Tensor, mask: Tensor, pooled: Tensor, video: Tensor) -> Tensor:
        """``[M, N]`` scores of M texts with N videos (``video`` from :meth:`encode_video`)."""
        return self.similarity(tokens, mask, pooled, video)

    def gallery(self, tokens: Tensor, mask: Tensor, pooled: Tensor, video: Tensor) -> Tensor:
        """The full ``[M, N]`` score matrix, in the similarity head's bounded blocks."""
        return self.similarity.gallery(tokens, mask, pooled, video)

    def stage1_video(self, video: Tensor) -> Tensor:
        """Stage-1 search vectors of :meth:`encode_video`'s features: the similarity
        head's (``MeanPHead``: exact)."""
        return self.similarity.stage1_video(video)

    def stage1_text(self, tokens: Tensor, mask: Tensor, pooled: Tensor) -> Tensor:
        """Stage-1 search vectors of text features: the similarity head's."""
        return self.similarity.stage1_text(tokens, mask, pooled)

    def extra_repr(self) -> str:
        return f'layers={len(self.transformer.blocks)}'

