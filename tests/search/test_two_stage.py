"""Two-stage search on random embeddings: candidates, re-ranking, the ranking matrix."""
import numpy as np
import pytest
import torch

from mmstan.evaluation.retrieval_metric import ranks_of
from mmstan.models.heads import MugHead
from mmstan.search import (
    VideoIndex,
    candidates,
    search,
    stage1_rule,
    text_vectors,
    two_stage_matrix,
    video_vectors,
)

N, T, E, K = 40, 4, 16, 6


@pytest.fixture
def index_and_texts(tmp_path):
    torch.manual_seed(0)
    frames = torch.randn(N, T, E)
    head = MugHead(mode='mug')
    index = VideoIndex.create(str(tmp_path), dict(stage1=stage1_rule(head), embed_dim=E, source='random'))
    for lo in range(0, N, 16):  # three shards
        index.append([f'v{i:02d}' for i in range(lo, min(lo + 16, N))], frames[lo:lo + 16].numpy(),
                     video_vectors(head, frames[lo:lo + 16]).numpy())
    tokens, pooled = torch.randn(8, K, E), torch.randn(8, E)
    mask = torch.ones(8, K, dtype=torch.bool)
    mask[:, 4:] = False
    return index, frames, (tokens, mask, pooled)


def test_rerank_of_everything_is_the_exact_ranking(index_and_texts):
    index, frames, (tokens, mask, pooled) = index_and_texts
    head = MugHead(mode='mug')
    exact = head.gallery(tokens, mask, pooled, frames)
    hits = search(index, head, tokens, mask, pooled, top_k=5, rerank=N)
    for q, found in enumerate(hits):
        scores, order = exact[q].sort(descending=True)
        assert [h.key for h in found] == [f'v{i:02d}' for i in order[:5].tolist()]
        np.testing.assert_allclose([h.score for h in found], scores[:5].numpy(), rtol=1e-5, atol=1e-6)


def test_stage_two_reorders_only_the_candidates(index_and_texts):
    index, frames, (tokens, mask, pooled) = index_and_texts
    head = MugHead(mode='mug')
    exact = head.gallery(tokens, mask, pooled, frames)
    _, ids = candidates(index, head, tokens, mask, pooled, 10)
    stage_one = text_vectors(head, tokens, mask, pooled) @ video_vectors(head, frames).T
    assert (ids == stage_one.topk(10, dim=1).indices.numpy()).all()
    hits = search(index, head, tokens, mask, pooled, top_k=10, rerank=10)
    for q, found in enumerate(hits):
        keys = [int(h.key[1:]) for h in found]
        assert sorted(keys) == sorted(ids[q].tolist())
        assert keys == sorted(keys, key=lambda i: -exact[q, i].item())
    stage_one_only = search(index, head, tokens, mask, pooled, top_k=3, rerank=0)
    assert [int(h.key[1:]) for h in stage_one_only[0]] == ids[0, :3].tolist()


def test_two_stage_matrix_ranks_candidates_first_then_stage_one_order():
    pooled_scores = torch.tensor([[0.9, 0.8, 0.7, 0.1, 0.5]])
    ids = np.array([[0, 1]])              # stage 1 kept videos 0 and 1
    head_scores = torch.tensor([[0.2, 0.6]])  # the head prefers video 1
    sim = two_stage_matrix(pooled_scores, ids, head_scores)
    assert sim[0].argsort(descending=True).tolist() == [1, 0, 2, 4, 3]
    positives = torch.zeros(1, 5, dtype=torch.bool)
    positives[0, 4] = True
    assert ranks_of(sim, positives).tolist() == [4]
