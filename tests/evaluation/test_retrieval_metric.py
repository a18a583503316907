"""Retrieval metric on hand-made similarity matrices with known ranks."""
import statistics

import pytest
import torch

from mmstan.errors import UserError
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


def test_median_rank_is_the_usual_median():
    ranks = torch.tensor([1, 2, 4, 9])
    assert recall_summary(ranks, '')['MdR'] == statistics.median([1, 2, 4, 9]) == 3.0


def _blocks(sim, owner, order, block=2):
    """Score rows handed over in ``order``, ``block`` rows at a time (as the loops do)."""
    if not order:  # an empty block
        return [dict(scores=sim[:0], caption_index=torch.zeros(0, dtype=torch.long),
                     video_index=torch.zeros(0, dtype=torch.long))]
    out = []
    for i in range(0, len(order), block):
        ids = torch.tensor(order[i:i + block])
        out.append(dict(scores=sim[ids], caption_index=ids, video_index=owner[ids]))
    return out


def test_metric_ranks_score_rows_in_any_order():
    # captions 0,1 describe video 0; captions 2,3 video 1; caption 4 video 2
    sim = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.8, 0.1], [0.1, 0.7, 0.3],
                        [0.5, 0.4, 0.6], [0.0, 0.2, 0.9]])
    owner = torch.tensor([0, 0, 1, 1, 2])
    metric = TextVideoRetrievalMetric()
    metric.expect_totals(captions=5, videos=3)
    # blocks arrive out of order, one of them empty (a rank's padding, left out)
    metric.process(None, _blocks(sim, owner, [3, 0, 4, 1, 2]) + _blocks(sim, owner, []))
    result = metric.compute_metrics(metric.results)
    # t2v ranks by hand: caption 0 -> 1; 1 -> 2 (0.8 for video 1 beats 0.2); 2 -> 1; 3 -> 3; 4 -> 1
    t2v = [1, 2, 1, 3, 1]
    assert result['t2v/R1'] == pytest.approx(100 * 3 / 5) and result['t2v/R5'] == 100
    assert result['t2v/MdR'] == statistics.median(t2v) and result['t2v/MnR'] == pytest.approx(8 / 5)
    # v2t by hand: video 0's best caption (0, 0.9) is top -> 1; video 1's best (caption 2,
    # 0.7) is beaten by caption 1 (0.8, owned by video 0) -> 2; video 2's (4, 0.9) -> 1
    assert result['v2t/R1'] == pytest.approx(100 * 2 / 3) and result['v2t/MnR'] == pytest.approx(4 / 3)


def test_metric_names_missing_rows():
    sim = torch.eye(3)
    metric = TextVideoRetrievalMetric()
    metric.process(None, _blocks(sim, torch.arange(3), [0, 2]))
    with pytest.raises(UserError, match=r'captions: 1 of 3 missing \(ids \[1\]\)'):
        metric.compute_metrics(metric.results)


def _two_captions_per_video(videos=4):
    """Caption ``2v`` and ``2v + 1`` describe video ``v``; every caption prefers its own."""
    owner = torch.arange(videos).repeat_interleave(2)
    sim = torch.rand(2 * videos, videos, generator=torch.Generator().manual_seed(0))
    sim[torch.arange(2 * videos), owner] += 1
    return sim, owner


def _error(blocks, **totals):
    metric = TextVideoRetrievalMetric()
    if totals:
        metric.expect_totals(**totals)
    metric.process(None, blocks)
    with pytest.raises(UserError) as info:
        metric.compute_metrics(metric.results)
    return str(info.value)


def test_missing_last_caption_is_named():
    """Caption 7, the last, never arrives (a dropped last batch): the metric is told there
    are 8 (it saw ids only up to 6, and video 3 still has caption 6)."""
    sim, owner = _two_captions_per_video()
    blocks = _blocks(sim, owner, list(range(7)))
    message = _error(blocks, captions=8, videos=4)
    assert 'captions: 1 of 8 missing (ids [7], the last ones)' in message
    assert 'videos' not in message.split('Probably')[0]  # video 3 has caption 6
    assert 'drop_last' in message
    metric = TextVideoRetrievalMetric()
    metric.expect_totals(captions=8, videos=4)
    metric.process(None, blocks + _blocks(sim, owner, [7]))
    assert metric.compute_metrics(metric.results)['t2v/R1'] == 100


def test_missing_middle_video_is_named():
    """Both captions of video 2 are lost: the captions and the video are named."""
    sim, owner = _two_captions_per_video()
    message = _error(_blocks(sim, owner, [0, 1, 2, 3, 6, 7]), captions=8, videos=4)
    assert 'captions: 2 of 8 missing (ids [4, 5])' in message
    assert 'videos: 1 of 4 missing: no caption of theirs arrived (ids [2])' in message
    assert 'annotation mismatch' in message
    # a metric that is not told the totals still finds a video without captions
    assert 'videos: 1 of 4 missing' in _error(_blocks(sim, owner, [0, 1, 2, 3, 6, 7]))


def test_video_without_any_caption_is_named():
    """Every caption arrives but none says it describes video 1 (ground truth of another
    annotation), and the gallery is narrower than the dataset."""
    sim, owner = _two_captions_per_video()
    wrong = owner.clone()
    wrong[2:4] = 0
    message = _error(_blocks(sim, wrong, list(range(8))), captions=8, videos=4)
    assert 'captions' not in message.split('Probably')[0]
    assert 'videos: 1 of 4 missing: no caption of theirs arrived (ids [1])' in message
    assert 'annotation mismatch' in message
    message = _error(_blocks(sim, owner, list(range(8))), captions=8, videos=5)
    assert 'score rows are 4 videos wide, the gallery has 5' in message
    assert 'ids [4]' in message


def test_duplicate_caption_is_named():
    sim, owner = _two_captions_per_video()
    message = _error(_blocks(sim, owner, [0, 1, 2, 3, 2, 4, 5, 6, 7, 0]), captions=8, videos=4)
    assert 'captions: 2 arrived more than once (ids [0, 2])' in message
    assert 'handed over twice' in message
    assert 'videos' not in message.split('Probably')[0]


def test_query_bank_rows_are_checked_too():
    sim, owner = _two_captions_per_video()
    bank = [dict(scores=sim[:2], bank_index=torch.tensor([0, 1]))]
    message = _error(_blocks(sim, owner, list(range(8))) + bank, captions=8, videos=4, bank=3)
    assert 'query-bank captions: 1 of 3 missing (ids [2], the last ones)' in message


def test_metric_takes_no_head():
    """The model's head is the only thing that scores (a learned head is never rebuilt)."""
    with pytest.raises(UserError, match='no `head`'):
        TextVideoRetrievalMetric(head=dict(type='MugHead', mode='mean'))


def test_qb_norm_uses_the_query_bank_not_the_test_captions():
    sim = torch.tensor([[0.9, 0.8], [0.2, 0.7]])   # caption i describes video i
    owner = torch.tensor([0, 1])
    bank = torch.tensor([[0.9, 0.1], [0.8, 0.3]])  # training captions: video 0 is a hub
    metric = TextVideoRetrievalMetric(post_process='qb_norm', qb_beta=1.0)
    metric.process(None, _blocks(sim, owner, [0, 1]))
    with pytest.raises(UserError, match='query bank'):
        metric.compute_metrics(metric.results)
    metric.process(None, [dict(scores=bank, bank_index=torch.arange(2))])
    result = metric.compute_metrics(metric.results)
    # by hand (beta 1): caption 0's top-1 is the hub -> exp(sim) / sum_bank exp(bank):
    # video 0: e^0.9 / (e^0.9 + e^0.8) = 0.525, video 1: e^0.8 / (e^0.1 + e^0.3) = 0.906
    # -> caption 0 ranks its own video 2nd; caption 1 (top-1 video 1, no hub) keeps rank 1
    assert result['t2v/R1'] == 50 and result['t2v/MnR'] == 1.5
    # raw scores rank both captions first; v2t is reported without QB-Norm
    raw = TextVideoRetrievalMetric()
    raw.process(None, _blocks(sim, owner, [0, 1]))
    assert raw.compute_metrics(raw.results)['t2v/R1'] == 100
    assert result['v2t/R1'] == raw.compute_metrics(raw.results)['v2t/R1']
