"""Retrieval metric on hand-made similarity matrices with known ranks."""
import pytest
import torch

from mmstan.evaluation import TextVideoRetrievalMetric, dual_softmax, qb_norm, ranks_of, recall_summary


def test_single_caption_ranks():
    sim = torch.tensor([[0.9, 0.1, 0.2],     # text 0 -> video 0 ranked 1st
                        [0.8, 0.3, 0.1],     # text 1 -> video 1 ranked 2nd
                        [0.5, 0.6, 0.4]])    # text 2 -> video 2 ranked 3rd
    positives = torch.eye(3, dtype=torch.bool)
    ranks = ranks_of(sim, positives)
    assert ranks.tolist() == [1, 2, 3]
    m = recall_summary(ranks, 't2v/')
    assert m['t2v/R1'] == pytest.approx(100 / 3) and m['t2v/R5'] == 100
    assert m['t2v/MdR'] == 2 and m['t2v/MnR'] == 2
    assert ranks_of(sim.T, positives.T).tolist() == [1, 2, 1]  # v2t: text 2 beats video 1's own


def test_multi_caption_v2t_uses_best_caption():
    # 4 captions, 2 videos: captions 0,1 describe video 0; captions 2,3 video 1
    sim = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.5]])
    owner = torch.tensor([0, 0, 1, 1])
    positives = owner[:, None] == torch.arange(2)[None]
    assert ranks_of(sim, positives).tolist() == [2, 1, 1, 2]          # t2v: each caption
    # v2t: video 0's best caption (1, 0.8) is beaten by caption 3? no: 0.8 > 0.6, 0.3 -> rank 1
    # video 1: its captions score 0.7, 0.5; caption 0 (0.9, not its own) ranks above -> rank 2
    assert ranks_of(sim.T, positives.T).tolist() == [1, 2]


def test_ties_count_against_the_query():
    sim = torch.tensor([[0.5, 0.5]])
    assert ranks_of(sim, torch.tensor([[True, False]])).tolist() == [2]


def test_dual_softmax_by_hand():
    sim = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    out = dual_softmax(sim, temperature=1.0)
    e = torch.e
    # column 0: softmax over texts of (1, 0, 1) = (e, 1, e) / (2e + 1)
    assert torch.allclose(out[:, 0], torch.tensor([e / (2 * e + 1), 0.0, e / (2 * e + 1)]))


def test_dual_softmax_fixes_a_hub():
    """Text i owns video i. Raw scores send both texts to video 0 (a hub); DSL divides
    video 0's scores among the texts that want it and text 1 gets its own video back."""
    sim = torch.tensor([[0.9, 0.5], [0.8, 0.7]])
    assert sim.argmax(1).tolist() == [0, 0]
    out = dual_softmax(sim, temperature=10.0)
    col0 = torch.softmax(torch.tensor([9.0, 8.0]), 0)
    col1 = torch.softmax(torch.tensor([5.0, 7.0]), 0)
    assert torch.allclose(out[1], torch.stack([0.8 * col0[1], 0.7 * col1[1]]))
    assert out.argmax(1).tolist() == [0, 1]


def test_qb_norm_by_hand():
    sim = torch.tensor([[0.9, 0.8], [0.2, 0.7]])
    bank = torch.tensor([[0.9, 0.1], [0.8, 0.3]])   # gallery 0 is a hub (top-1 of both)
    out = qb_norm(sim, bank, k=1, beta=1.0)
    norm = torch.exp(bank).sum(0)
    # query 0's top-1 is the hub -> normalised; query 1's top-1 (gallery 1) is not -> unchanged
    assert torch.allclose(out[0], torch.exp(sim[0]) / norm)
    assert torch.equal(out[1], sim[1])
    assert out[0].argmax() == 1  # the hub lost its advantage for query 0


def test_metric_end_to_end_with_mean_head():
    metric = TextVideoRetrievalMetric(head=dict(type='MugHead', mode='mean'))
    e = torch.eye(4)
    samples = []
    for video in (0, 0, 1, 1):  # two captions per video
        frames = e[video * 2].expand(3, 4).clone()       # video 0 ~ axis 0, video 1 ~ axis 2
        pooled = e[video * 2] + 0.1 * e[1]
        samples.append(dict(video_id=video, embeddings=dict(
            frames=frames, tokens=pooled[None].repeat(2, 1), mask=torch.ones(2, dtype=torch.bool),
            pooled=pooled)))
    metric.process(None, samples)
    result = metric.compute_metrics(metric.results)
    assert result['t2v/R1'] == 100 and result['v2t/R1'] == 100 and result['t2v/MdR'] == 1
