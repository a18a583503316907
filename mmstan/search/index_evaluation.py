"""Retrieval metrics of a caption annotation against a video index: the same stored
embeddings scored exactly (the head over the whole gallery, as ``tools/test.py`` does)
and by the two-stage search, so the two can be compared."""
import logging
import time
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
import torch
from mmengine.logging import print_log
from torch import Tensor

from mmstan.datasets.video_text import read_caption_annotation
from mmstan.errors import UserError
from mmstan.evaluation.retrieval_metric import retrieval_metrics
from mmstan.utils.paths import require_file

from .pooled_embeddings import text_vectors
from .search_model import SearchModel
from .two_stage import rerank_scores
from .video_index import VideoIndex


def two_stage_matrix(pooled_scores: Tensor, ids: np.ndarray, head_scores: Tensor) -> Tensor:
    """A ``[M, N]`` score matrix that ranks like the two-stage search.

    Args:
        pooled_scores: ``[M, N]`` stage-1 scores of every text with every video.
        ids: ``[M, k]`` columns of each text's stage-1 candidates.
        head_scores: ``[M, k]`` the head's scores of those candidates.

    Candidates keep their head scores; every other video is placed below the text's
    lowest candidate, in stage-1 order.
    """
    shift = head_scores.min(dim=1, keepdim=True).values - 1 - pooled_scores.max(dim=1, keepdim=True).values
    out = pooled_scores + shift
    out.scatter_(1, torch.from_numpy(np.ascontiguousarray(ids)).long(), head_scores)
    return out


@dataclass
class IndexEvaluation:
    exact: Dict[str, float]          # retrieval_metrics of the exact score matrix
    two_stage: Dict[str, float]      # ... of the two-stage ranking
    top1_found: float                # % of captions whose exact best video stage 1 kept
    captions: int
    videos: int
    rerank: int
    best: Dict[str, np.ndarray]      # 'exact' / 'two_stage': each caption's top video (column)
    kept: np.ndarray                 # [captions] bool: stage 1 kept the exact best video
    seconds: Dict[str, float] = field(default_factory=dict)  # exact, stage_one, stage_two
    missing: List[str] = field(default_factory=list)  # annotated videos not in the index


def evaluate_index(index: VideoIndex, model: SearchModel, ann_file: str, rerank: int = 50,
                   text_batch: int = 256) -> IndexEvaluation:
    """Score every caption of ``ann_file`` against its videos in ``index``.

    The gallery is the annotated videos the index holds (others are named and left
    out with their captions, as the test datasets drop unreadable videos).
    """
    require_file(ann_file, 'annotation file', 'give a caption JSON made by tools/data/prepare_retrieval.py')
    ann = read_caption_annotation(ann_file)
    missing = [v for v in ann if v not in index]
    gallery = [v for v in ann if v in index]
    if not gallery:
        raise UserError(f'none of the {len(ann)} videos of {ann_file} is in the index at '
                        f'{index.root} (e.g. {next(iter(ann))!r} vs {index.keys[:1]}); index '
                        'the videos of that annotation (paths relative to the same folder)')
    if missing:
        print_log(f'{len(missing)} videos of {ann_file} are not in the index and are left out '
                  f'with their captions: {", ".join(missing[:10])}{" ..." if len(missing) > 10 else ""}',
                  logger='current', level=logging.WARNING)
    texts = [c for v in gallery for c in ann[v]]
    owner = torch.tensor([col for col, v in enumerate(gallery) for _ in ann[v]])
    ids = np.array([index.id_of(v) for v in gallery], np.int64)
    tokens, mask, pooled = model.encode_texts(texts, text_batch)
    seconds = {}

    t = time.perf_counter()
    frames = torch.from_numpy(index.frames(ids))
    exact = model.gallery_scores(tokens, mask, pooled, frames).float()
    seconds['exact'] = time.perf_counter() - t

    t = time.perf_counter()
    gallery_vectors = torch.from_numpy(index.pooled()[ids])
    vectors = text_vectors(model.head, tokens, mask, pooled)
    pooled_all = vectors @ gallery_vectors.T
    whole = len(ids) == len(index) and np.array_equal(ids, np.arange(len(index)))
    _, found = index.search(vectors.numpy(), rerank, subset=None if whole else ids)  # = candidates
    column = np.full(len(index), -1, np.int64)
    column[ids] = np.arange(len(ids))
    cand = column[found]
    seconds['stage_one'] = time.perf_counter() - t
    t = time.perf_counter()
    if rerank > 0:
        head_scores = rerank_scores(model.head, index, tokens, mask, pooled, found)
        two_stage = two_stage_matrix(pooled_all, cand, head_scores)
    else:  # stage 1 alone
        two_stage = pooled_all
    seconds['stage_two'] = time.perf_counter() - t
    best = exact.argmax(dim=1).numpy()
    kept = (cand == best[:, None]).any(axis=1)
    return IndexEvaluation(exact=retrieval_metrics(exact, owner),
                           two_stage=retrieval_metrics(two_stage, owner),
                           top1_found=100.0 * float(kept.mean()), captions=len(texts),
                           videos=len(gallery), rerank=cand.shape[1],
                           best=dict(exact=best, two_stage=two_stage.argmax(dim=1).numpy()),
                           kept=kept, seconds=seconds, missing=missing)
