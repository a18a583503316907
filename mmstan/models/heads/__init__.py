"""Heads. The similarity heads of ``VideoTextRetriever``, one per method (``MugHead``:
Mug-STAN's Mug and its ablations; ``MeanPHead``: CLIP4Clip meanP; ``WTIHead``: DRL's
weighted token interaction; ``SeqTransfHead``; ``CLIP2VideoHead``), share one protocol
(what the first three share is written once, in :mod:`.similarity_head`):

- ``forward(tokens [M, K, E], mask [M, K], pooled [M, E], video) -> [M, N]`` scores and
  ``gallery(...)`` (the same, in bounded memory); ``video`` is the retriever's
  ``encode_video`` output: frames ``[N, T, E]``, or the head's own features when it has
  ``encode_video(frames)``;
- optional ``score_terms(...)`` (weighted score matrices, each with its own InfoNCE);
- for ``tools/search.py`` (:mod:`mmstan.search`), stage 1: ``stage1_video(video) -> [N, D]``
  and ``stage1_text(tokens, mask, pooled) -> [M, D]``, one vector per video and per text
  whose inner product stands in for the score (exactly, where the score is an inner
  product: ``MeanPHead``, ``CLIP2VideoHead``). A head without them cannot be searched
  (``mmstan.search`` says so); when a head changes what these return, bump
  ``mmstan.search.pooled_embeddings.STAGE1_VERSION`` so that indexes made before are
  brought up to date.
"""
from .clip2video_head import CLIP2VideoHead
from .linear_head import VideoLinearHead
from .mean_pool_head import MeanPHead
from .mug_head import MODES as MUG_MODES
from .mug_head import MugHead
from .seq_transformer_head import SeqTransfHead
from .similarity_head import SimilarityHead
from .temporal_alignment_block import TemporalAlignmentBlock
from .temporal_difference_block import TemporalDifferenceBlock
from .text_class_head import TextClassHead, class_name_text, read_class_names
from .text_layers import TextLayers
from .wti_head import WTIHead

__all__ = ['VideoLinearHead', 'TextClassHead', 'read_class_names', 'class_name_text',
           'MugHead', 'MUG_MODES', 'MeanPHead', 'WTIHead', 'SimilarityHead',
           'SeqTransfHead', 'CLIP2VideoHead', 'TemporalDifferenceBlock',
           'TemporalAlignmentBlock', 'TextLayers']
