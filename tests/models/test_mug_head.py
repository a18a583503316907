"""Mug head against an independent per-pair implementation of Mug-STAN eqs. 11-18
(tests/mug_reference.py); the head computes the same scores blockwise from the
token-frame cosines only."""
import pytest
import torch
import torch.nn.functional as F
from head_inputs import check_drop_sot, inputs
from mmaction.registry import MODELS
from mug_reference import TAU, paper_gallery, paper_mug

from mmstan.errors import UserError
from mmstan.models.heads import MugHead, mug_head


def clip_like(m, n, k=8, t=5, e=512, seed=0):
    """512-d features whose cosines sit close together, as CLIP's do."""
    return inputs(m, n, k, t, e, seed=seed)


def test_gallery_matches_paper_per_pair_with_masks_and_uneven_blocks(monkeypatch):
    # 23 texts of lengths 1..7 (real tokens anywhere in the row), 11 videos; blocks of
    # at most 60 elements and text super-chunks of 9 texts divide neither size
    tokens, mask, pooled, frames = inputs(m=23, n=11, seed=1, min_len=1, prefix=False)
    assert len(set(mask.sum(1).tolist())) >= 4
    monkeypatch.setattr(mug_head, '_PACKED_ELEMENTS', 9 * 7 * 16)
    sizes = []
    block = mug_head.mug_block

    def recording(x, shift, scratch=None):
        sizes.append(tuple(x.shape))
        return block(x, shift, scratch)

    monkeypatch.setattr(mug_head, 'mug_block', recording)
    got = MugHead('mug', block_elements=60).gallery(tokens, mask, pooled, frames)
    expected = paper_gallery(tokens, mask, frames)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    # bounded blocks: within the budget, or a single text when one alone exceeds it
    assert len(sizes) > 10 and all(m == 1 or m * k * t * n <= 60 for m, k, t, n in sizes)
    assert {n for *_, n in sizes} == {2, 1}          # ceil(sqrt(60) / 6) videos, then the rest


def test_one_exponential_path_matches_paper_on_clip_like_features(monkeypatch):
    def no_fallback(*args):
        raise AssertionError('fell back to the two-softmax path')

    monkeypatch.setattr(mug_head, 'mug_block_two_softmax', no_fallback)
    tokens, mask, pooled, frames = clip_like(7, 6, seed=2)
    got = MugHead('mug', block_elements=500).gallery(tokens, mask, pooled, frames)
    torch.testing.assert_close(got, paper_gallery(tokens, mask, frames), atol=1e-12, rtol=0)


def test_two_softmax_path_matches_paper(monkeypatch):
    # forced for every block; exact against the paper like the default path
    tokens, mask, pooled, frames = inputs(m=9, n=7, seed=3)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64) * 50
    torch.testing.assert_close(mug_head.mug_block_two_softmax(x, 30.0),
                               mug_head.mug_block(x, 30.0))
    monkeypatch.setattr(mug_head, '_MIN_NORMALISER', float('inf'))
    got = MugHead('mug', block_elements=100).gallery(tokens, mask, pooled, frames)
    torch.testing.assert_close(got, paper_gallery(tokens, mask, frames), atol=1e-12, rtol=0)


def test_fallback_when_a_frame_is_far_from_every_token():
    # frame 1 has cosine -1 with the only token: exp(100 * -1 - 30) underflows, so the
    # one-exponential normaliser is 0 and the block must take the two-softmax path
    c = torch.tensor([[1.0, 0.0]])
    v = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])
    got = MugHead('mug').gallery(c[None], torch.ones(1, 1, dtype=torch.bool), c, v)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), paper_gallery(c[None], torch.ones(1, 1, dtype=torch.bool), v))


def test_float32_gallery_is_float64_paper_to_float32_precision():
    tokens, mask, pooled, frames = clip_like(6, 5, seed=4)
    got = MugHead('mug').gallery(tokens.float(), mask, pooled.float(), frames.float())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), paper_gallery(tokens, mask, frames), atol=2e-6, rtol=0)


def test_autocast_does_not_lower_the_precision():
    tokens, mask, pooled, frames = (x.float() if x.is_floating_point() else x
                                    for x in clip_like(5, 4, seed=11))
    head = MugHead('mug')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = head.gallery(tokens, mask, pooled, frames)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, head.gallery(tokens, mask, pooled, frames), atol=1e-7, rtol=0)


def test_forward_equals_gallery_and_is_differentiable():
    tokens, mask, pooled, frames = inputs(m=6, n=5, seed=5)
    head = MugHead('mug', block_elements=64)
    assert not list(head.parameters())
    frames = frames.clone().requires_grad_(True)
    scores = head(tokens, mask, pooled, frames)
    torch.testing.assert_close(scores.detach(), head.gallery(tokens, mask, pooled, frames.detach()))
    scores.sum().backward()
    assert torch.isfinite(frames.grad).all() and frames.grad.abs().sum() > 0
    # gradient against the paper's per-pair formula
    ref_frames = frames.detach().clone().requires_grad_(True)
    paper_gallery(tokens, mask, ref_frames).sum().backward()
    torch.testing.assert_close(frames.grad, ref_frames.grad, atol=1e-10, rtol=0)


def test_frame_text_and_video_token_modes():
    tokens, mask, pooled, frames = inputs(seed=6)
    ft = MugHead('frame_text', tau=TAU, block_elements=30).gallery(tokens, mask, pooled, frames)
    vt = MugHead('video_token', tau=TAU, block_elements=30).gallery(tokens, mask, pooled, frames)
    for a in range(tokens.shape[0]):
        real = F.normalize(tokens[a][mask[a]], dim=-1)
        for b in range(frames.shape[0]):
            v = F.normalize(frames[b], dim=-1)
            # frame-text: the text [EOT] is the only token
            assert abs(ft[a, b] - paper_mug(F.normalize(pooled[a], dim=-1)[None], v)) <= 1e-12
            mean = F.normalize(v.mean(0), dim=-1)[None]   # video-token: one frame
            assert abs(vt[a, b] - paper_mug(real, mean)) <= 1e-12


def test_empty_caption_is_refused():
    tokens, mask, pooled, frames = inputs(seed=9)
    mask[2] = False
    with pytest.raises(ValueError, match='at least one real token'):
        MugHead('mug').gallery(tokens, mask, pooled, frames)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device (none visible)')
def test_gallery_on_cuda_matches_cpu():
    tokens, mask, pooled, frames = clip_like(40, 30, seed=10)
    head = MugHead('mug')
    on_gpu = head.gallery(tokens.float().cuda(), mask.cuda(), pooled.float().cuda(),
                          frames.float().cuda())
    assert on_gpu.is_cuda
    torch.testing.assert_close(on_gpu.cpu().double(), paper_gallery(tokens, mask, frames),
                               atol=2e-6, rtol=0)


@pytest.mark.parametrize('mode', ['mug', 'video_token'])
def test_drop_sot_leaves_position_zero_out(mode):
    """``drop_sot``: the token-reading modes score as if position 0 ([SOT]) were padding;
    whatever [SOT] holds no longer changes a score (issue 16, defect 4)."""
    tokens, mask, pooled, frames = inputs(seed=10, min_len=3)
    got, without = check_drop_sot(MugHead(mode, drop_sot=True), MugHead(mode),
                                  tokens, mask, pooled, frames)
    if mode == 'mug':
        torch.testing.assert_close(got, paper_gallery(tokens, without, frames), atol=1e-12, rtol=0)


@pytest.mark.parametrize('cfg, fix', [
    (dict(mode='mean'), "dict(type='MeanPHead')"),
    (dict(mode='wti', embed_dim=64, drop_sot=True), "dict(type='WTIHead', embed_dim=64, drop_sot=True)"),
    (dict(mode='wti'), "dict(type='WTIHead')"),
])
def test_former_modes_name_the_head_to_use(cfg, fix):
    """A config written for MugHead's former 'mean' / 'wti' modes gets one error that
    names the head it now is, with the arguments it keeps."""
    with pytest.raises(UserError, match='MugHead.*is now its own head') as err:
        MODELS.build(dict(type='MugHead', **cfg))
    assert fix in str(err.value)
    with pytest.raises(ValueError, match="mode must be one of .'mug', 'frame_text', 'video_token'."):
        MugHead('bogus')
