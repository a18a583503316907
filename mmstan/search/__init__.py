"""Text-to-video search over an on-disk index of videos (``tools/search.py``)."""
from .index_evaluation import IndexEvaluation, evaluate_index, two_stage_matrix
from .indexing import (
    IndexRun,
    index_meta,
    index_videos,
    update_stage1,
    videos_in_annotation,
    videos_in_folder,
)
from .pooled_embeddings import STAGE1_VERSION, stage1_rule, text_vectors, video_vectors
from .search_model import SearchModel, checkpoint_identity
from .two_stage import Hit, Timing, candidates, rerank_scores, search
from .video_index import VideoIndex

__all__ = [
    'Hit', 'IndexEvaluation', 'IndexRun', 'SearchModel', 'Timing', 'VideoIndex', 'candidates',
    'checkpoint_identity', 'evaluate_index', 'index_meta', 'index_videos', 'rerank_scores',
    'search', 'STAGE1_VERSION', 'stage1_rule', 'text_vectors', 'two_stage_matrix',
    'update_stage1', 'video_vectors', 'videos_in_annotation', 'videos_in_folder'
]
