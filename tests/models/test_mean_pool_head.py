"""MeanPHead (CLIP4Clip meanP) against its definition written out by hand for each pair:
cos(text [EOT], L2(mean of L2 frames)), and its exact stage-1 vectors."""
import math

import torch
from head_inputs import inputs

from mmstan.models.heads import MeanPHead


def by_hand(text, frames):
    """cos(text, L2(mean_i L2(v_i))) for one pair, in plain Python floats."""
    def norm(x):
        return math.sqrt(sum(c * c for c in x))

    unit = [[c / norm(v) for c in v] for v in frames]
    mean = [sum(col) / len(unit) for col in zip(*unit)]
    return sum(a * b for a, b in zip(text, mean)) / (norm(text) * norm(mean))


def meanp_inputs(seed):
    tokens, mask, pooled, frames = inputs(seed=seed)
    # frames of very different lengths: per-frame L2 before the mean then matters
    g = torch.Generator().manual_seed(seed)
    return tokens, mask, pooled, frames * torch.rand(frames.shape[:2] + (1,), generator=g,
                                                     dtype=frames.dtype).mul(20).add(0.05)


def test_score_is_clip4clip_meanp_by_hand():
    tokens, mask, pooled, frames = meanp_inputs(seed=7)
    head = MeanPHead()
    assert not list(head.parameters())
    got = head(tokens, mask, pooled, frames)
    torch.testing.assert_close(head.gallery(tokens, mask, pooled, frames), got, atol=0, rtol=0)
    unnormalised = torch.nn.functional.normalize(frames.mean(1), dim=-1)   # no per-frame L2
    for a in range(pooled.shape[0]):
        for b in range(frames.shape[0]):
            expected = by_hand(pooled[a].tolist(), frames[b].tolist())
            assert abs(got[a, b].item() - expected) <= 1e-12
            assert -1 <= expected <= 1
    wrong = torch.nn.functional.normalize(pooled, dim=-1) @ unnormalised.T
    assert (wrong - got).abs().max() > 1e-2   # the inputs tell the definitions apart


def test_tokens_are_not_read():
    tokens, mask, pooled, frames = meanp_inputs(seed=8)
    head = MeanPHead()
    other = torch.randn_like(tokens)
    torch.testing.assert_close(head(other, ~mask, pooled, frames), head(tokens, mask, pooled, frames),
                               atol=0, rtol=0)


def test_stage_one_is_the_score():
    tokens, mask, pooled, frames = meanp_inputs(seed=9)
    head = MeanPHead()
    stage_one = head.stage1_text(tokens, mask, pooled) @ head.stage1_video(frames).T
    torch.testing.assert_close(stage_one.double(), head.gallery(tokens, mask, pooled, frames),
                               atol=1e-6, rtol=0)
