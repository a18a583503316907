"""Stage-1 vectors against the head they stand in for (MeanPHead, MugHead)."""
import pytest
import torch

from mmstan.models.heads import MeanPHead, MugHead
from mmstan.search import text_vectors, video_vectors


def _features(m=5, n=7, k=6, t=4, e=16):
    torch.manual_seed(0)
    tokens, pooled, frames = torch.randn(m, k, e), torch.randn(m, e), torch.randn(n, t, e)
    mask = torch.ones(m, k, dtype=torch.bool)
    mask[0, 3:] = False  # padded captions
    mask[2, 1:] = False
    return tokens, mask, pooled, frames


def test_meanp_stage_one_is_the_head_score():
    tokens, mask, pooled, frames = _features()
    head = MeanPHead()
    expected = head.gallery(tokens, mask, pooled, frames)
    got = text_vectors(head, tokens, mask, pooled) @ video_vectors(head, frames).T
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('mode', ['mug', 'frame_text', 'video_token'])
def test_stage_one_is_the_head_in_the_uniform_weight_limit(mode):
    """Mug's weights are softmaxes at temperature tau (eqs. 11-17); as tau -> 0 they are
    uniform and the score is the mean over real tokens and frames of c_j . v_i."""
    tokens, mask, pooled, frames = _features()
    head = MugHead(mode=mode, tau=1e-6)
    expected = head.gallery(tokens, mask, pooled, frames)
    got = text_vectors(head, tokens, mask, pooled) @ video_vectors(head, frames).T
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    # padding is ignored: changing padded tokens changes nothing
    tokens[0, 4] += 10
    torch.testing.assert_close(text_vectors(head, tokens, mask, pooled) @ video_vectors(head, frames).T, got)
